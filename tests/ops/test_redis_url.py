"""REDIS_URL through Redis Sentinel: the client finds the master the sentinels name."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from storage.redis_url import RedisUrlError, connect, parse_sentinel_url


def test_sentinel_urls_parse():
    assert parse_sentinel_url("redis+sentinel://:pw@h1:26379,h2:26380/aicom/2") == (
        [("h1", 26379), ("h2", 26380)], "aicom", 2, "pw")
    assert parse_sentinel_url("redis+sentinel://h1/aicom") == ([("h1", 26379)], "aicom", 0, None)
    for bad in ("redis+sentinel://h1:26379", "redis+sentinel://h1:x/aicom", "redis+sentinel://h1/aicom/x"):
        with pytest.raises(RedisUrlError):
            parse_sentinel_url(bad)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_a_client_through_a_real_sentinel_reaches_the_master(tmp_path, redis_url):
    port = _free_port()
    config = tmp_path / "sentinel.conf"
    master_port = int(redis_url.split(":")[2].split("/")[0])
    config.write_text(f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
                      f"sentinel monitor aicom 127.0.0.1 {master_port} 1\n")
    sentinel = subprocess.Popen(["redis-server", str(config), "--sentinel"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        db = redis_url.rsplit("/", 1)[1]
        client = connect(f"redis+sentinel://127.0.0.1:{port}/aicom/{db}")
        deadline = time.monotonic() + 10
        while True:
            try:
                assert client.ping()
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        client.set("bot:test:sentinel", "1", ex=5)
        assert client.get("bot:test:sentinel") == b"1"
    finally:
        sentinel.terminate()
        sentinel.wait(timeout=10)


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/3", "redis+sentinel://127.0.0.1:26379/aicom/3"])
def test_rqs_blocking_connection_takes_either_scheme(url, make_app):
    """RQ's worker connection goes through the same factory (it once refused redis+sentinel://)."""
    from handlers.jobs.worker import _worker_connection

    client = _worker_connection(make_app(REDIS_URL=url))
    options = client.connection_pool.connection_kwargs
    assert options["socket_timeout"] is None and options["socket_connect_timeout"] == 3
    assert options["db"] == 3
    assert ("Sentinel" in type(client.connection_pool).__name__) == url.startswith("redis+sentinel")
