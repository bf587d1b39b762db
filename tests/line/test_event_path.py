"""The files one 今月の料金 visits from ``POST /callback`` to the reply, pinned (see docs/architecture.md).

The path is traced as the interpreter runs it: a function is on it when the view (``webhook.callback``)
or the event worker (``worker.drain_events``) calls it, or a function already on it does (through a
``with`` block too). What a library calls back on its own (Flask's request hooks and session,
SQLAlchemy's pool events, a log formatter) is not the event's path. A change that adds a file to
the path, or takes one off, updates ``PATH`` and the picture in docs/architecture.md with it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.line.test_turn_paths import _bill_alt_text, _linked_customer

ROOT = str(Path(__file__).resolve().parents[2]) + "/"
ROOTS = {("handlers/line/webhook.py", "callback"), ("handlers/line/worker.py", "drain_events")}
PASSED_THROUGH = ("contextlib.py",)  # ``with`` blocks: the function inside is still the caller's

# In the order the event first enters each file.
PATH = (
    "handlers/line/webhook.py",    # the signature, the event read, queued
    "handlers/metrics.py",         # counted
    "handlers/logs.py",            # the request id it carries into the worker's log lines
    "handlers/line/queued.py",     # the QueuedEvent the webhook writes and the worker reads
    "storage/events.py",           # the event stream: enqueue; the worker's read, lease and ack
    "storage/keys.py",             # every Redis key
    "storage/wire.py",             # Redis commands in one packet
    "handlers/line/worker.py",     # the consumer
    "handlers/line/turn.py",       # recover → run → deliver
    "handlers/line/backlog.py",    # each person's events in order, persons in turn
    "handlers/line/loading.py",    # the loading animation while the turn runs
    "bot/engine.py",               # the conversation's entry
    "storage/state.py",            # the conversation's state under its lock
    "handlers/clock.py",           # the app's one clock
    "bot/flows/handoff.py",        # a person's chat open? the text kept for staff
    "storage/handoffs.py",
    "storage/sql.py",              # prepared statements
    "bot/normalize.py",            # command words; masking what staff will read
    "bot/flows/billing.py",        # this month's bill
    "storage/bills.py",
    "bot/messages.py",             # 2026年11月, 2,800円
    "storage/security.py",         # the detail link's token, hashed
    "bot/types.py",                # the outcome, written to the outbox before it is sent
    "storage/outbox.py",
    "handlers/line/render.py",     # reply values -> LINE JSON (the bill card)
    "handlers/line/delivery.py",   # the reply
    "storage/db.py",               # after it: the outbox rows marked delivered, a batch at a time
)


def _trace(action) -> list[str]:
    on_path: set[int] = set()
    files: list[str] = []

    def profile(frame, event, _arg):
        if event == "return":
            on_path.discard(id(frame))
            return
        if event != "call":
            return
        name = frame.f_code.co_filename
        rel = name[len(ROOT):] if name.startswith(ROOT) and "/.venv/" not in name else None
        caller = frame.f_back
        while caller is not None and caller.f_code.co_filename.endswith(PASSED_THROUGH):
            caller = caller.f_back
        if rel is None or rel.startswith(("tests/", "handlers/emulator/")):
            return
        if (rel, frame.f_code.co_name) in ROOTS or (caller is not None and id(caller) in on_path):
            on_path.add(id(frame))
            if rel not in files:
                files.append(rel)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return files


def test_one_bill_question_visits_the_pinned_files(app, line_user):
    _linked_customer(app, line_user.user_id)
    line_user.say("ヘルプ")  # the first turn's one-off work (scripts loaded, the consumer group) is behind us
    replies: list[dict] = []
    files = _trace(lambda: replies.extend(line_user.say("今月の料金")))
    assert _bill_alt_text(replies) == "2026年11月のご請求金額は2,800円です"
    assert files == list(PATH), f"the event path is now {len(files)} files: {files}"
