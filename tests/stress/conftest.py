"""Every test here is ``stress`` (left out of ``make test``; ``make test-stress`` runs them).

Fixtures: ``own_redis`` (a redis-server with AOF in a temporary directory, on a spare port) and
``own_postgres`` (a throwaway PostgreSQL cluster from ``initdb``), both stopped afterwards.
"""

from __future__ import annotations

import pytest

from tests.helpers_processes import PostgresCluster, RedisServer


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/stress/" in str(item.fspath):
            item.add_marker(pytest.mark.stress)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_postgres(tmp_path):
    cluster = PostgresCluster(tmp_path)
    cluster.start()
    yield cluster
    try:
        cluster.stop()
    except Exception:  # noqa: BLE001 - already stopped by the test
        pass
