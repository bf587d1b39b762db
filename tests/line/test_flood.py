"""One person's flood does not hold back anyone else in their partition (issue 22, point 4).

A partition used to be served first come, first served, so a person who sent one message
waited behind every message a flooding person of the same partition had queued before it.
Now the consumer serves the persons in hand in turn (``handlers.line.backlog.Backlog``).
No timings here: the tests count whose answers LINE received before the other person's,
and check that each person's answers still come in the order they were sent. A flood whose
messages waited past the reply token's life is answered once (``messages.MANY_MESSAGES``)
instead of by a push each. And (point 5) a worker names the partitions beyond
``EVENT_PARTITIONS`` that still hold events.
"""

from __future__ import annotations

import time

from bot import messages
from handlers.line.worker import FLOOD_WAITING, EventWorker
from storage.events import Entry, partition_of
from storage.keys import stream_key
from tests.line_driver import drain_events, drain_jobs

FLOOD = 50


def _two_people_in_one_partition(app, make_line_user):
    """A flooding person and another whose user id falls in the same partition."""
    partitions = app.extensions["event_queue"].partitions
    flooder = make_line_user()
    while True:
        other = make_line_user()
        if partition_of(other.user_id, partitions) == partition_of(flooder.user_id, partitions):
            return flooder, other


def _queue_flood_then_one(flooder, other) -> tuple[list[dict], dict]:
    flood = [flooder.text_event("ヘルプ") for _ in range(FLOOD)]
    for event in flood:
        assert flooder.post([event], drain=False).status_code == 200
    single = other.text_event("ヘルプ")
    assert other.post([single], drain=False).status_code == 200
    return flood, single


def _replies_in_order(line_api) -> list[str]:
    """Reply tokens, in the order LINE accepted the replies."""
    return [call.body["replyToken"] for call in line_api.accepted("reply")]


def _check(line_api, flood: list[dict], single: dict) -> None:
    tokens = _replies_in_order(line_api)
    assert len(tokens) == FLOOD + 1
    flood_tokens = [e["replyToken"] for e in flood]
    before_other = tokens.index(single["replyToken"])
    # Before: the other person's answer came after all fifty of the flood's (index 50).
    assert before_other <= 1, f"{before_other} of the flood's answers went out before the other person's"
    assert [t for t in tokens if t != single["replyToken"]] == flood_tokens  # the flood's own order kept
    assert line_api.accepted("push") == []


def test_a_flood_does_not_hold_back_another_person_of_its_partition(app, make_line_user, line_api):
    """Drained in this thread (as ``flask --app app worker --burst`` and the tests do)."""
    flooder, other = _two_people_in_one_partition(app, make_line_user)
    flood, single = _queue_flood_then_one(flooder, other)
    assert drain_events(app) == FLOOD + 1
    _check(line_api, flood, single)


def test_a_flood_does_not_hold_back_another_person_with_the_consumer_threads(app, make_line_user, line_api):
    """The production path: a consumer thread holding the partition's lease."""
    flooder, other = _two_people_in_one_partition(app, make_line_user)
    flood, single = _queue_flood_then_one(flooder, other)
    worker = EventWorker(app, threads=1, block_ms=100)
    worker.start()
    try:
        assert line_api.wait_for(lambda r: len(r.accepted("reply")) == FLOOD + 1, timeout=60)
    finally:
        worker.stop()
    _check(line_api, flood, single)


def test_the_backlog_serves_persons_in_turn_and_each_person_in_order():
    from handlers.line.backlog import Backlog

    def entry(n: int, user: str) -> Entry:
        return Entry(3, f"{n}-0", f'{{"id": "e{n}", "user": "{user}", "kind": "text"}}')

    backlog = Backlog()
    backlog.add([entry(1, "A"), entry(2, "A"), entry(3, "A"), entry(4, "B"), entry(5, "C"), entry(6, "C")])
    backlog.add([entry(7, "B"), entry(8, "D")])
    served = []
    while (item := backlog.pop()) is not None:
        served.append(item[1].id)
    assert served == ["e1", "e4", "e5", "e8", "e2", "e7", "e6", "e3"]
    assert backlog.size == 0


def test_a_partition_dropped_from_the_backlog_leaves_the_others_in_turn():
    from handlers.line.backlog import Backlog

    backlog = Backlog()
    def entry(partition: int, entry_id: str, event_id: str) -> Entry:
        return Entry(partition, entry_id, f'{{"id": "{event_id}", "user": "{event_id[0].upper()}", "kind": "text"}}')

    backlog.add([entry(1, "1-0", "a1"), entry(2, "1-0", "b1"), entry(1, "2-0", "a2"), entry(2, "2-0", "b2")])
    assert backlog.pop()[1].id == "a1"
    backlog.drop(1)  # stuck behind an outage: its entries stay pending, to be read again
    assert backlog.size == 2 and backlog.partitions() == {2}
    assert [backlog.pop()[1].id, backlog.pop()[1].id] == ["b1", "b2"]
    assert backlog.pop() is None


# -- a flood whose answers would all have been pushes ----------------------------------------------
def _stale(user, text: str = "ヘルプ") -> dict:
    """A message that waited two minutes: its reply token is past ``REPLY_TOKEN_MAX_AGE_SECONDS``."""
    return dict(user.text_event(text), timestamp=int((time.time() - 120) * 1000))


def _texts_pushed(line_api, user) -> list[str]:
    return [m.get("text") or m.get("altText", "") for call in line_api.accepted("push", user.user_id)
            for m in call.body["messages"]]


def test_a_stale_flood_is_answered_once_instead_of_by_a_push_each(app, make_line_user, line_api):
    """Thirty messages from one person, all past the reply token's life: one push, the polite
    sentence, not thirty (each of which would cost the monthly quota). Another person's single
    stale message is still answered as asked."""
    flooder, other = _two_people_in_one_partition(app, make_line_user)
    for _ in range(30):
        assert flooder.post([_stale(flooder)], drain=False).status_code == 200
    assert other.post([_stale(other)], drain=False).status_code == 200
    assert drain_events(app) == 31
    drain_jobs(app)
    assert line_api.accepted("reply") == []
    assert _texts_pushed(line_api, flooder) == [messages.MANY_MESSAGES]
    assert len(line_api.accepted("push", other.user_id)) == 1
    assert "ご用件をお選びください" in _texts_pushed(line_api, other)[0]
    # Within the minute a second stale run is acknowledged without telling the person again.
    for _ in range(15):
        assert flooder.post([_stale(flooder)], drain=False).status_code == 200
    assert drain_events(app) == 15
    drain_jobs(app)
    assert _texts_pushed(line_api, flooder) == [messages.MANY_MESSAGES]


def test_a_few_stale_messages_are_each_answered(app, line_user, line_api):
    """Below the flood threshold nothing changes: each stale message gets its own pushed answer."""
    for _ in range(FLOOD_WAITING):  # the first has FLOOD_WAITING - 1 behind it: no flood
        assert line_user.post([_stale(line_user)], drain=False).status_code == 200
    assert drain_events(app) == FLOOD_WAITING
    drain_jobs(app)
    texts = _texts_pushed(line_api, line_user)
    assert len(texts) == FLOOD_WAITING and messages.MANY_MESSAGES not in texts


def test_fresh_messages_are_never_cut_short_however_many(app, line_user, line_api):
    """Fifty at once while the tokens are fresh: fifty replies, in order (the promise of
    ``test_events.py``), however long the person's lane is."""
    events = [line_user.text_event("ヘルプ") for _ in range(FLOOD)]
    for event in events:
        assert line_user.post([event], drain=False).status_code == 200
    assert drain_events(app) == FLOOD
    assert _replies_in_order(line_api) == [e["replyToken"] for e in events]
    assert messages.MANY_MESSAGES not in line_api.texts(line_user.user_id)


def test_the_flood_sentence_is_polite_and_ends_with_what_to_do():
    text = messages.MANY_MESSAGES
    assert text.startswith("申し訳ございません。") and "少し時間をおいて" in text
    assert text.endswith("もう一度お送りください。")
    assert len(text) < 100 and all(ord(ch) < 0x1F000 for ch in text)  # brief, no emoji


# -- scale-out: EVENT_PARTITIONS lowered with events queued (issue 22, point 5) --------------------
def test_a_worker_says_when_events_wait_beyond_its_partitions(app, caplog):
    """Lowering ``EVENT_PARTITIONS`` with events queued leaves the higher partitions unread: the
    worker says so at start, naming them, instead of leaving those customers unanswered in silence."""
    queue = app.extensions["event_queue"]
    app.extensions["redis"].xadd(stream_key(queue.partitions + 3), {"e": "{}"})
    worker = EventWorker(app, threads=0)
    with caplog.at_level("ERROR", logger="handlers.line.worker"):
        worker.start()
        worker.stop()
    assert queue.stranded() == {queue.partitions + 3: 1}
    assert any(f"partitions [{queue.partitions + 3}]" in r.getMessage() and "EVENT_PARTITIONS" in r.getMessage()
               for r in caplog.records)
