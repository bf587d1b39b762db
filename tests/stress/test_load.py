"""Load, with real worker processes: 200 customers registering at once; 50 messages from one
customer at once on two worker processes.

200 customers: every one ends with exactly one account (no duplicate account IDs, none
linked to another customer's record or LINE user) and exactly one 仮登録 mail, to their own
address. 50 messages from one person over 2 processes × 4 threads: answered one at a time,
in the order sent, each reply token used once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import select

from storage.models import Account, Customer, LineLink
from tests.helpers_processes import start_worker, stop, worker_env
from tests.helpers_registration import seed_customer
from tests.line_driver import LineUser

CUSTOMERS = 200


def _wave(users: list[LineUser], texts: list[str], recorder, timeout: float = 240) -> None:
    """Every user sends their text at once; wait until every one has been answered."""
    before = {u.user_id: len(recorder.accepted("reply", u.user_id)) + len(recorder.accepted("push", u.user_id))
              for u in users}
    for user, text in zip(users, texts, strict=True):
        assert user.post([user.text_event(text)], drain=False).status_code == 200

    def answered(r) -> bool:
        counts = Counter(c.user_id for c in r.accepted() if c.kind in ("reply", "push"))
        return all(counts[u.user_id] > before[u.user_id] for u in users)

    assert recorder.wait_for(answered, timeout=timeout), texts[0]


def _problems(logs: list) -> str:
    """The workers' warnings and errors (their stderr), for a failure's message."""
    lines = []
    for log in logs:
        log.flush()
        lines += [line for line in Path(log.name).read_text(errors="replace").splitlines()
                  if " WARNING " in line or " ERROR " in line or "Traceback" in line]
    return "\n".join(lines[-40:]) or "(the workers logged no warning)"


def test_two_hundred_customers_registering_at_once_get_one_account_and_one_mail_each(
        app, app_config, fake_line_server, mailbox, tmp_path):
    recorder, line_url = fake_line_server
    recorder.clear()
    numbers = [str(50_000_000 + i) for i in range(CUSTOMERS)]
    phones = [f"07486{i:05d}" for i in range(CUSTOMERS)]
    customer_ids = [seed_customer(app, number=n, phone=p) for n, p in zip(numbers, phones, strict=True)]
    client = app.test_client()
    users = [LineUser(client, recorder, app) for _ in range(CUSTOMERS)]
    env = worker_env(app_config, line_url, EVENT_WORKER_THREADS="4", EVENT_LEASE_SECONDS="5", USER_LOCK_SECONDS="10")
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(2)]  # closed below
    workers = [start_worker(env, stderr=log) for log in logs]
    try:
        _wave(users, ["登録"] * CUSTOMERS, recorder)
        _wave(users, numbers, recorder)
        _wave(users, phones, recorder)
        _wave(users, ["アイコム タロウ"] * CUSTOMERS, recorder)
        _wave(users, [f"load_{i:03d}" for i in range(CUSTOMERS)], recorder)
        _wave(users, [f"load{i:03d}@example.jp" for i in range(CUSTOMERS)], recorder)
        _wave(users, [f"客{i}" for i in range(CUSTOMERS)], recorder)
        _wave(users, ["仮登録する"] * CUSTOMERS, recorder)
        mails = mailbox.wait(CUSTOMERS, timeout=240)
    finally:
        for worker in workers:
            stop(worker)
        problems = _problems(logs)
        for log in logs:
            log.close()
    assert len(mails) == CUSTOMERS, problems
    assert sorted(str(m["To"]) for m in mails) == sorted(f"load{i:03d}@example.jp" for i in range(CUSTOMERS))
    with app.extensions["db"].begin() as session:
        accounts = list(session.scalars(select(Account)))
        by_customer = {c.id: c for c in session.scalars(select(Customer))}
        links = list(session.scalars(select(LineLink)))
    assert len(accounts) == CUSTOMERS
    assert len({a.login_id.lower() for a in accounts}) == CUSTOMERS
    for account in accounts:  # nobody's state crossed into another's
        i = int(account.login_id.rsplit("_", 1)[1])
        assert account.customer_id == customer_ids[i]
        assert by_customer[account.customer_id].customer_number == numbers[i]
        assert account.email == f"load{i:03d}@example.jp"
        assert account.pending_line_user_id == users[i].user_id
    assert links == []  # linked only at 本登録
    for user in users:
        replies = recorder.accepted("reply", user.user_id) + recorder.accepted("push", user.user_id)
        assert "仮登録が完了しました" in replies[-1].body["messages"][0]["text"] or any(
            "仮登録が完了しました" in m.get("text", "") for c in replies for m in c.body["messages"])


def test_fifty_messages_from_one_person_on_two_worker_processes_are_answered_in_order_once(
        app, app_config, fake_line_server):
    recorder, line_url = fake_line_server
    recorder.clear()
    user = LineUser(app.test_client(), recorder, app)
    events = [user.text_event(f"メッセージ{i}") for i in range(50)]
    for event in events:
        assert user.post([event], drain=False).status_code == 200
    env = worker_env(app_config, line_url, EVENT_WORKER_THREADS="4", EVENT_LEASE_SECONDS="5", USER_LOCK_SECONDS="10")
    workers = [start_worker(env) for _ in range(2)]
    try:
        assert recorder.wait_for(lambda r: len(r.accepted("reply", user.user_id))
                                 + len(r.accepted("push", user.user_id)) >= 50, timeout=180)
    finally:
        for worker in workers:
            stop(worker)
    replies = recorder.accepted("reply", user.user_id)
    tokens = [c.body["replyToken"] for c in replies]
    assert len(tokens) == len(set(tokens))  # no reply token used twice
    assert tokens == [e["replyToken"] for e in events if e["replyToken"] in set(tokens)]  # in the order sent
    assert len(replies) + len(recorder.accepted("push", user.user_id)) == 50
