"""What the benchmarks share: where the repository and the saved results are, and a throwaway,
migrated PostgreSQL database."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def throwaway_database():
    """A new, migrated PostgreSQL database; yields its SQLAlchemy URL and drops it afterwards."""
    from alembic import command

    from storage.db import alembic_config

    name = f"aicom_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        command.upgrade(alembic_config(url), "heads")
        yield url
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
