"""``flask --app app db upgrade``, ``db downgrade`` and ``db revision``: the schema migrations
(``storage.db`` runs them)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from storage import db

db_cli = AppGroup("db", help="Database schema commands.")


@db_cli.command("upgrade")
@click.argument("revision", default="heads")
def upgrade_command(revision: str) -> None:
    """Bring the schema to the newest migration(s) (or REVISION)."""
    db.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database upgraded to {revision}")


@db_cli.command("downgrade")
@click.argument("revision", default="-1")
def downgrade_command(revision: str) -> None:
    """Step the schema back (one migration by default)."""
    db.downgrade(current_app.config["DATABASE_URL"], revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def revision_command(message: str) -> None:
    """Autogenerate a new migration from the models (developers)."""
    db.revision(current_app.config["DATABASE_URL"], message)


def init_app(app: Flask) -> None:
    """Register ``db``."""
    app.cli.add_command(db_cli)
