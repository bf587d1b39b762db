"""Migrations run on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage.db import alembic_config
from storage.models import Base


def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    command.upgrade(alembic_config(url), "heads")
    command.downgrade(alembic_config(url), "base")
    command.upgrade(alembic_config(url), "heads")
    engine = create_engine(url)
    assert {"customers", "statements", "statement_items", "accounts", "line_links", "link_tokens"} <= set(
        inspect(engine).get_table_names())
    engine.dispose()


def test_models_and_migrations_agree(database_url):  # on PostgreSQL and SQLite (tests/storage/conftest.py)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_db_upgrade_command(runner, tmp_path, monkeypatch):
    from app import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "SECRET_KEY": "x",
                      "SMTP_URL": "smtp://localhost:25", "LINE_CHANNEL_SECRET": "s", "LINE_CHANNEL_ACCESS_TOKEN": "t",
                      "REDIS_URL": None})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "upgraded" in result.output
    app.extensions["db"].engine.dispose()
