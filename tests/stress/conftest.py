"""Every test here is ``stress`` (left out of ``make test``; ``make test-stress`` runs them).

Fixtures: ``own_redis`` (a redis-server with AOF in a temporary directory, on a spare port) and
``own_postgres`` (a throwaway PostgreSQL cluster from ``initdb``), both stopped afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

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
def own_postgres():
    # Not under pytest's tmp_path: as root, initdb runs as ``postgres``, who cannot enter
    # /tmp/pytest-of-root (mode 0700).
    directory = Path(tempfile.mkdtemp(prefix="aicom-pg-"))
    try:
        cluster = PostgresCluster(directory)
        cluster.start()
        yield cluster
        try:
            cluster.stop()
        except Exception:  # noqa: BLE001 - already stopped by the test
            pass
    finally:
        shutil.rmtree(directory, ignore_errors=True)
