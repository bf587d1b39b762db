"""The loading animation: shown while a turn takes noticeable time, never after its answer.

``loading_while(app, incoming)`` wraps a turn (``turn``): after ``LOADING_AFTER_SECONDS`` the
animation is asked for; when the turn ends first, the request is cancelled, or, if already under
way, allowed to land (up to ``LOADING_SETTLE_SECONDS``) so it never spins under the answer.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from bot.types import EventKind, Incoming
from handlers.line.delivery import start_loading

log = logging.getLogger(__name__)

LOADING_AFTER_SECONDS = 0.5  # show the loading animation only when a turn takes noticeable time
LOADING_SETTLE_SECONDS = 1.0  # how long a reply waits for an animation request already under way


class _Pending:
    """One scheduled loading animation: ``cancel`` before it fires, or wait for it to land."""

    __slots__ = ("action", "state", "landed")

    def __init__(self, action) -> None:
        self.action = action
        self.state = "waiting"  # -> "cancelled" | "running"
        self.landed = threading.Event()


class LoadingTimers:
    """The loading animations of every turn in this process: one timer thread and a heap of
    due times (not a ``threading.Timer`` thread started per event); an animation that falls
    due is sent by a small pool of threads, so a slow LINE never delays the others."""

    COALESCE_SECONDS = 0.05  # an animation may start this much later than asked

    def __init__(self, senders: int = 2) -> None:
        self._heap: list[tuple[float, int, _Pending]] = []
        self._cond = threading.Condition()
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._ready: list[_Pending] = []
        self._senders = senders
        self._work = threading.Condition()

    def schedule(self, delay: float, action) -> _Pending:
        pending = _Pending(action)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._tick, daemon=True, name="loading-timer")
                self._thread.start()
                for n in range(self._senders):
                    threading.Thread(target=self._send, daemon=True, name=f"loading-{n}").start()
            self._seq += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, pending))
            if self._heap[0][2] is pending:
                self._cond.notify()
        return pending

    def cancel(self, pending: _Pending, settle: float) -> None:
        """Cancel; if the animation request is already under way, let it land first (up to
        ``settle`` seconds): one that lands after the reply spins under the answer for 5 s."""
        with self._cond:
            if pending.state == "waiting":
                pending.state = "cancelled"
                return
        pending.landed.wait(settle)

    def _tick(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    # Wake a little after the first due time, so one wake-up takes every timer
                    # due by then (most were cancelled by a quick answer): not one per event.
                    self._cond.wait(self._heap[0][0] - time.monotonic() + self.COALESCE_SECONDS
                                    if self._heap else None)
                now = time.monotonic()
                due = []
                while self._heap and self._heap[0][0] <= now:
                    _due, _seq, pending = heapq.heappop(self._heap)
                    if pending.state == "waiting":
                        pending.state = "running"
                        due.append(pending)
            if due:
                with self._work:
                    self._ready.extend(due)
                    self._work.notify(len(due))

    def _send(self) -> None:
        while True:
            with self._work:
                while not self._ready:
                    self._work.wait()
                pending = self._ready.pop(0)
            try:
                pending.action()
            except Exception:  # noqa: BLE001 - cosmetic
                log.info("loading animation not shown")
            finally:
                pending.landed.set()


timers = LoadingTimers()


@contextmanager
def loading_while(app: Flask, incoming: Incoming) -> Iterator[None]:
    """Show the loading animation if what runs inside takes ``LOADING_AFTER_SECONDS`` or more
    (a message or a postback only: nobody watches a follow)."""
    def show() -> None:
        with app.app_context():
            start_loading(incoming.user_id)

    pending = None
    if incoming.kind in (EventKind.TEXT, EventKind.POSTBACK):
        pending = timers.schedule(app.config.get("LOADING_AFTER_SECONDS", LOADING_AFTER_SECONDS), show)
    try:
        yield
    finally:
        if pending is not None:
            timers.cancel(pending, LOADING_SETTLE_SECONDS)
