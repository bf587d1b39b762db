"""The Redis rooms below the conversation, on a real Redis: limits (``storage.limits``), locks
(``storage.locks``) and the event queue's dedup claim (``storage.events``)."""

from __future__ import annotations

import threading
import time

import pytest
import redis as redis_lib

from storage.events import EventQueue
from storage.keys import block_key, counter_key, event_key
from storage.limits import Limits
from storage.locks import drain_lock, release_lock, take_lock
from storage.redis_client import StateUnavailable
from storage.redis_url import connect


class Busy(Exception):
    pass


@pytest.fixture
def client(redis_url):
    connection = redis_lib.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


# -- limits -------------------------------------------------------------------------------------
def test_sliding_window_counter_and_block(client):
    limits = Limits(client)
    now = time.time()
    assert [limits.count_hit("t", "x", 60, now + i) for i in range(3)] == [1, 2, 3]
    assert limits.count("t", "x", 60, now + 61.5) == 1  # the first two fell out of the window
    assert 0 < client.ttl(counter_key("t", "x")) <= 60
    limits.block("t", "x", 30)
    assert 0 < limits.blocked_for("t", "x") <= 30
    assert 0 < client.ttl(block_key("t", "x")) <= 30
    assert limits.blocked_for("t", "other") == 0
    limits.reset_count("t", "x")
    assert limits.count("t", "x", 60) == 0


def test_a_try_over_the_limit_is_refused_and_not_counted_and_a_success_is_forgotten(client):
    limits = Limits(client)
    marks = [limits.try_within("login", "a", 60, 2) for _ in range(2)]
    assert all(marks)
    assert limits.try_within("login", "a", 60, 2) is None  # over the limit
    assert limits.count("login", "a", 60) == 2  # the refused try does not lengthen the wait
    limits.untry("login", "a", marks[0])  # that one succeeded after all
    assert limits.count("login", "a", 60) == 1
    assert limits.try_within("login", "a", 60, 2)


def test_parallel_tries_cannot_slip_past_the_limit(client, redis_url):
    granted: list[str | None] = []

    def attempt():
        connection = redis_lib.Redis.from_url(redis_url)
        granted.append(Limits(connection).try_within("login", "p", 60, 3))
        connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for mark in granted if mark) == 3


def test_a_redis_that_fails_is_state_unavailable():
    limits = Limits(connect("redis://127.0.0.1:1/0"))  # the service's own client: nothing listens there
    for call in (lambda: limits.count_hit("t", "x", 60), lambda: limits.blocked_for("t", "x"),
                 lambda: limits.try_within("t", "x", 60, 1)):
        with pytest.raises(StateUnavailable):
            call()


# -- locks --------------------------------------------------------------------------------------
def test_one_drain_at_a_time_and_the_lock_goes_with_the_block(client):
    with drain_lock(client, "bot:test:drain", 30, 0, Busy):
        with pytest.raises(Busy):
            with drain_lock(client, "bot:test:drain", 30, 0.1, Busy):
                pass
    assert not client.exists("bot:test:drain")
    with drain_lock(client, "bot:test:drain", 30, 0, Busy):  # free again
        assert 0 < client.ttl("bot:test:drain") <= 30


def test_a_lock_is_released_only_by_its_holder(client):
    token = take_lock(client, "bot:test:lock", 30, 0, Busy)
    client.set("bot:test:lock", "someone-else")  # it expired and another took it
    release_lock(client, "bot:test:lock", token)
    assert client.get("bot:test:lock") == b"someone-else"


# -- the event queue's dedup claim (what the webhook and the workers rely on) --------------------
def test_an_event_is_queued_once_until_its_claim_is_released(client):
    queue = EventQueue(client, partitions=2)
    assert queue.enqueue("E1", "U1", "{}")
    assert not queue.enqueue("E1", "U1", "{}")  # LINE's redelivery while it waits
    queue.release_claim("E1")  # a fault: the redelivery must be handled
    assert queue.enqueue("E1", "U1", "{}")
    assert sum(queue.depth().values()) == 2


def test_an_event_acknowledged_as_done_is_remembered_for_a_week(client):
    queue = EventQueue(client, partitions=1)
    queue.ensure_groups()
    assert queue.enqueue("E2", "U1", "{}")
    (entry,) = queue.read([0], "c1", pending=False)
    queue.ack(entry, done_event_id="E2")
    assert queue.is_done("E2")
    assert 6 * 24 * 3600 < client.ttl(event_key("E2")) <= 7 * 24 * 3600
    assert not queue.enqueue("E2", "U1", "{}")
    assert queue.depth() == {0: 0}
