"""Real processes for the fault tests: worker processes, our own redis-server and PostgreSQL.

``start_worker``/``kill``/``stop`` run ``flask --app app worker`` in its own process group (RQ's
scheduler is a child; a SIGKILL takes it too). ``RedisServer`` and ``PostgresCluster`` are
throwaway servers on spare ports in temporary directories, stopped and started for real by
the tests (never the machine's shared ones).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import SECRET_KEY
from tests.line_driver import ACCESS_TOKEN, CHANNEL_SECRET

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


# -- worker processes ------------------------------------------------------------------------------
def worker_env(app_config: dict, line_url: str, **changes: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_", "REDIS_"))}
    env.update({
        "DATABASE_URL": app_config["DATABASE_URL"], "REDIS_URL": app_config["REDIS_URL"],
        "SECRET_KEY": SECRET_KEY, "LINE_CHANNEL_SECRET": CHANNEL_SECRET, "LINE_CHANNEL_ACCESS_TOKEN": ACCESS_TOKEN,
        "LINE_API_BASE_URL": line_url, "SMTP_URL": app_config["SMTP_URL"], "PUBLIC_BASE_URL": "http://localhost",
        "EVENT_LEASE_SECONDS": "1", "EVENT_WORKER_THREADS": "2", "EMULATOR": "0",
        "USER_LOCK_SECONDS": "3",  # what a killed worker's lock keeps others waiting
    })
    env.update(changes)
    return env


def start_worker(env: dict, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """``flask --app app worker`` in its own process group; ``stderr`` may be an open file."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)


def kill(process: subprocess.Popen) -> None:
    """SIGKILL the process and every process it started."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(10)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (a warm shutdown), SIGKILL if it takes too long; nothing of it outlives the test."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            pass
    kill(process)


# -- our own redis-server ----------------------------------------------------------------------------
class RedisServer:
    """A redis-server with AOF on (``appendfsync always``, as durable as production's setting
    needs for this test) in ``directory``, on a spare port; ``stop`` kills it for real."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction",
             "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, timeout=15)

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self, hard: bool = True) -> None:
        """SIGKILL (a crash: only what AOF has is kept) or SIGTERM (a clean shutdown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if hard else signal.SIGTERM)
            self.process.wait(15)
        self.process = None


class RedisSentinelGroup:
    """A master, a replica and one sentinel watching them (``service``), on spare ports in
    ``directory``: ``url`` is the service's ``redis+sentinel://`` URL; ``kill_master`` SIGKILLs
    whichever server is master now, after the replica has caught up."""

    service = "aicom"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ports = [free_port(), free_port()]
        self.sentinel_port = free_port()
        self.url = f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.service}/0"
        self.processes: dict[int, subprocess.Popen] = {}
        self.sentinel: subprocess.Popen | None = None

    def _server(self, port: int, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--dbfilename", f"dump-{port}.rdb",
             "--logfile", str(self.directory / f"redis-{port}.log"), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def start(self) -> None:
        import redis

        master, replica = self.ports
        self.processes[master] = self._server(master)
        self.processes[replica] = self._server(replica, "--replicaof", "127.0.0.1", str(master))
        for port in self.ports:
            wait_until(lambda port=port: _pings(port), timeout=15)
        config = self.directory / "sentinel.conf"
        config.write_text(f"port {self.sentinel_port}\nbind 127.0.0.1\ndir {self.directory}\n"
                          f"sentinel monitor {self.service} 127.0.0.1 {master} 1\n"
                          f"sentinel known-replica {self.service} 127.0.0.1 {replica}\n"
                          f"sentinel down-after-milliseconds {self.service} 1000\n"
                          f"sentinel failover-timeout {self.service} 5000\n"
                          f"sentinel parallel-syncs {self.service} 1\n")
        self.sentinel = subprocess.Popen(
            ["redis-server", str(config), "--sentinel", "--logfile", str(self.directory / "sentinel.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: _pings(self.sentinel_port), timeout=15)
        client = redis.Redis(port=replica, socket_timeout=1)
        wait_until(lambda: client.info("replication").get("master_link_status") == "up", timeout=15)
        client.close()
        # The sentinel must know the replica before the master dies, or there is nobody to promote
        # (it learns of replicas from the master's INFO, every 10 s: a busy machine may not have yet).
        wait_until(self._replica_known, timeout=30)

    def _replica_known(self) -> bool:
        import redis

        sentinel = redis.Redis(port=self.sentinel_port, socket_timeout=1, decode_responses=True)
        try:
            replicas = sentinel.execute_command("SENTINEL", "replicas", self.service)
        except redis.RedisError:
            return False
        finally:
            sentinel.close()
        return any("s_down" not in str(entry) and "disconnected" not in str(entry) for entry in replicas or [])

    def master_port(self) -> int:
        import redis

        sentinel = redis.Redis(port=self.sentinel_port, socket_timeout=1, decode_responses=True)
        try:
            return int(sentinel.execute_command("SENTINEL", "get-master-addr-by-name", self.service)[1])
        finally:
            sentinel.close()

    def kill_master(self) -> int:
        """SIGKILL the master once its replica holds everything it had; returns the killed port."""
        import redis

        port = self.master_port()
        other = next(p for p in self.ports if p != port)
        master, replica = redis.Redis(port=port, socket_timeout=1), redis.Redis(port=other, socket_timeout=1)
        try:
            wait_until(lambda: replica.info("replication").get("slave_repl_offset")
                       == master.info("replication").get("master_repl_offset"), timeout=15)
        finally:
            master.close()
            replica.close()
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(15)
        return port

    def stop(self) -> None:
        for process in [*self.processes.values(), *([self.sentinel] if self.sentinel else [])]:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(15)
        self.processes.clear()
        self.sentinel = None


def _pings(port: int) -> bool:
    import redis

    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


# -- our own PostgreSQL ------------------------------------------------------------------------------
def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} not found (PostgreSQL server binaries)")
    return path


class PostgresCluster:
    """A throwaway cluster: ``initdb`` into a temporary directory, trust auth, a spare port."""

    def __init__(self, directory: Path) -> None:
        self.data = directory / "pgdata"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:  # initdb runs as postgres (below): let it write there
            import pwd

            user = pwd.getpwnam("postgres")
            os.chown(directory, user.pw_uid, user.pw_gid)
        subprocess.run([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--no-instructions"], check=True, capture_output=True, preexec_fn=_as_postgres_user())

    def _ctl(self, *args: str) -> None:
        subprocess.run([pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.data.parent / "pg.log"), "-w",
                        *args], check=True, capture_output=True, preexec_fn=_as_postgres_user())

    def start(self) -> None:
        self._ctl("-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data.parent} -c fsync=off",
                  "start")

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-m", mode, "stop")


def _as_postgres_user():
    """initdb refuses to run as root: as root, run it (and pg_ctl) as the ``postgres`` user."""
    if os.geteuid() != 0:
        return None
    import pwd

    user = pwd.getpwnam("postgres")

    def demote():
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return demote
