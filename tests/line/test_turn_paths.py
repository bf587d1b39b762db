"""The cheap paths a turn takes (issue 13), held to what the slow ones guaranteed.

Prepared statements on psycopg (``storage.sql``) and through Core elsewhere; Redis commands in
one packet (``storage.wire``); outbox rows marked delivered in batches; acknowledgements that
ride with the next read.
"""

from __future__ import annotations

from datetime import date, datetime

import psycopg
import pytest
import redis as redis_lib
from sqlalchemy import exc, select

from handlers.line.turn import DeliveredMarks
from handlers.line.worker import EventWorker
from storage import outbox, wire
from storage.db import DatabaseUnavailable
from storage.events import Leases
from storage.models import EventOutcome, LinkToken
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    TOKYO,
    app_config,
    clock,
    seed_customer_with_account,
    seed_link,
    seed_statement,
)

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)


def _linked_customer(app, user_id: str) -> None:
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, user_id)
    seed_statement(app, seeded.customer_id, date(2026, 11, 1),
                   [("ケーブルテレビ 基本料金", 3300), ("セット割引", -500)],
                   due_date=date(2026, 12, 28), payment_method="口座振替")


def _bill_alt_text(replies: list[dict]) -> str:
    (card,) = [r for r in replies if r["type"] == "flex"]
    return card["altText"]


def test_the_bill_turn_on_sqlite_runs_the_same_statements_through_core(make_app, line_api, tmp_path):
    """``make run``'s database: the prepared statements fall back to SQLAlchemy Core."""
    from alembic import command

    from storage.db import alembic_config
    from tests.line_driver import LineUser

    url = f"sqlite:///{tmp_path / 'bill.db'}"
    command.upgrade(alembic_config(url), "heads")
    app = make_app(DATABASE_URL=url)
    user = LineUser(app.test_client(), line_api, app)
    _linked_customer(app, user.user_id)
    assert _bill_alt_text(user.say("今月の料金")) == "2026年11月のご請求金額は2,800円です"
    with app.extensions["db"].begin() as db:
        (link,) = db.scalars(select(LinkToken)).all()
        assert link.purpose == "bill" and link.used_at is None
        assert db.scalars(select(EventOutcome)).one().payload is None  # marked delivered


def test_the_bill_turn_on_postgresql_answers_to_the_yen(app, line_user):
    _linked_customer(app, line_user.user_id)
    assert _bill_alt_text(line_user.say("今月の料金")) == "2026年11月のご請求金額は2,800円です"


def test_a_second_outbox_row_for_one_event_is_sqlalchemy_s_integrity_error(app):
    with app.extensions["db"].begin() as db:
        outbox.add(db, "E-dup", '{"secret": "payload"}', NOW)
    with pytest.raises(exc.IntegrityError) as raised, app.extensions["db"].begin() as db:
        outbox.add(db, "E-dup", '{"secret": "payload"}', NOW)
    assert "secret" not in str(raised.value)  # parameters hidden, as the engine's own errors


def test_a_dropped_connection_is_unavailable_invalidated_and_the_next_turn_gets_a_fresh_one(make_app, database_url):
    db = make_app().extensions["db"]  # an engine of its own: its pool holds the one connection killed
    with db.begin() as session:
        pid = session.connection().connection.driver_connection.info.backend_pid
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(DatabaseUnavailable) as raised, db.begin() as session:  # storage's name, not SQLAlchemy's
        outbox.add(session, "E-dead", "{}", NOW)
    assert raised.value.connection_invalidated and "E-dead" not in str(raised.value)
    with db.begin() as session:  # the pool made a new connection
        outbox.add(session, "E-alive", "{}", NOW)
        assert session.connection().connection.driver_connection.info.backend_pid != pid


def test_one_packet_error_answers_come_back_in_their_place(app):
    client = app.extensions["redis"]
    answers = wire.send(client, [("SET", "bot:test:k", "v"), ("INCR", "bot:test:k"), ("GET", "bot:test:k")])
    assert answers[0] == b"OK" and isinstance(answers[1], redis_lib.ResponseError) and answers[2] == b"v"
    assert wire.send(client, [("DEL", "bot:test:k")]) == [1]  # the connection is still in step


def test_turns_go_on_after_redis_forgot_its_scripts(app, line_user, make_line_user):
    """A restarted Redis has no scripts: the webhook's enqueue and the end of turn load them again."""
    _linked_customer(app, line_user.user_id)
    line_user.say("ヘルプ")
    app.extensions["redis"].script_flush()
    assert _bill_alt_text(line_user.say("今月の料金")) == "2026年11月のご請求金額は2,800円です"
    app.extensions["redis"].script_flush()
    newcomer = make_line_user()
    newcomer.say("登録")
    assert app.extensions["state"].load(newcomer.user_id).state  # the registration's state was saved


def test_delivered_marks_wait_out_a_database_outage(app, make_app):
    with app.extensions["db"].begin() as db:
        for n in range(3):
            outbox.add(db, f"E-{n}", "{}", NOW)
    marks = DeliveredMarks(make_app(DATABASE_URL="postgresql+psycopg://127.0.0.1:1/none?connect_timeout=1"))
    for n in range(3):
        marks.add(f"E-{n}")
    assert marks.flush() == 0  # kept
    marks.app = app
    assert marks.flush() == 3
    with app.extensions["db"].begin() as db:
        rows = db.scalars(select(EventOutcome)).all()
        assert {r.event_id for r in rows if r.payload is None and r.delivered_at is not None} == {"E-0", "E-1", "E-2"}
    assert marks.flush() == 0


def _answered_unacknowledged(worker: EventWorker, first: Leases, line_user, text: str) -> list:
    """``text`` sent, then read and answered by ``first``, which holds every partition; its
    acknowledgement not yet sent (it goes with the next read)."""
    assert line_user.post([line_user.text_event(text)], drain=False).status_code == 200
    queue = worker.queue
    queue.ensure_groups(force=True)
    for partition in range(queue.partitions):
        assert queue.take_lease(partition, first.consumer)
        first.held.add(partition)
    entries = queue.read(sorted(first.held), first.consumer, pending=False)
    assert worker._handle_batch(first, entries, retry_transient=True)[0] == 1
    assert first.acks
    return entries


def test_a_consumer_gone_before_its_acknowledgements_went_out_is_not_answered_twice(app, line_user, line_api):
    """The entry was handled and answered, its acknowledgement was waiting for the next read
    when the consumer died: the consumer that takes the partition over finds the answer went
    out (the reply token is spent) and sends nothing more."""
    _linked_customer(app, line_user.user_id)
    worker = EventWorker(app, threads=0)
    queue = worker.queue
    first, second = Leases(), Leases()
    with app.app_context():
        entries = _answered_unacknowledged(worker, first, line_user, "今月の料金")
        for partition in sorted(first.held):  # the first consumer dies; its leases run out
            queue.drop_lease(partition, first.consumer)
        for partition in range(queue.partitions):
            assert queue.take_lease(partition, second.consumer)
            second.held.add(partition)
            queue.claim_pending(partition, second.consumer)
        again = queue.read(sorted(second.held), second.consumer, pending=True)
        assert [e.entry_id for e in again] == [e.entry_id for e in entries] and again[0].deliveries > 1
        worker._handle_batch(second, again, retry_transient=True)
        queue.flush_acks(second.acks)
        assert queue.read(sorted(second.held), second.consumer, pending=True) == []
        for partition in sorted(second.held):
            queue.drop_lease(partition, second.consumer)
    assert len(line_api.accepted("reply", line_user.user_id)) == 1
    assert line_api.accepted("push", line_user.user_id) == []


def test_a_partition_given_away_to_a_newcomer_goes_with_its_acknowledgements(app, line_user, line_api):
    """More consumers came up while one was answering: the partitions it gives away carry no entry it
    has answered but not yet acknowledged, so the newcomer does not answer it again (its reply token
    spent, it would have been pushed a second time)."""
    worker = EventWorker(app, threads=0)
    queue = worker.queue
    first, second = Leases(), Leases()
    with app.app_context():
        (entry,) = _answered_unacknowledged(worker, first, line_user, "ヘルプ")
        for n in range(queue.partitions):  # fifteen more consumers: a fair share is one partition
            queue.heartbeat(f"newcomer-{n}")
        worker._rebalance(first, keep=(entry.partition + 1) % queue.partitions)
        assert entry.partition not in first.held and not first.acks
        for partition in range(queue.partitions):
            if queue.take_lease(partition, second.consumer):
                second.held.add(partition)
                queue.claim_pending(partition, second.consumer)
        assert queue.read(sorted(second.held), second.consumer, pending=True) == []
        for partition in sorted(second.held):
            queue.drop_lease(partition, second.consumer)
        for n in range(queue.partitions):
            queue.forget_consumer(f"newcomer-{n}")
    assert len(line_api.accepted("reply", line_user.user_id)) == 1
    assert line_api.accepted("push", line_user.user_id) == []
