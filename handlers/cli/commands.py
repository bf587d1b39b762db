"""Operator commands (``flask --app app …``): imports and demo data (the FAQ's are in ``handlers.cli.faq``).

Thin translators: options in, ``handlers.cli.imports`` / ``bot.demo`` do the work,
a one-line summary or every bad line out. Exit code 0 on success, 1 when the file was
refused (nothing imported), 2 for usage errors (click's own, e.g. a missing file).
Output names lines and fields only, never a customer's phone, name or address.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from bot import demo as demo_data
from handlers import clock
from handlers.cli import imports
from handlers.cli.csv_table import ENCODINGS, ImportFailed, ProgressBars
from storage import faq as faq_store

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The demo FAQ ``seed-demo`` imports when none was ever imported (tests point it elsewhere).
DEFAULT_FAQ_PATH = PROJECT_ROOT / "data" / "faq.csv"

encoding_option = click.option(
    "--encoding", type=click.Choice(ENCODINGS, case_sensitive=False), default="utf-8", show_default=True,
    help="Text encoding of FILE (UTF-8 may carry a BOM).",
)
_progress_option = click.option(
    "--progress/--no-progress", default=None,
    help="Show a progress bar on stderr (default: only when stderr is a terminal).",
)
file_argument = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


class ProgressDisplay:
    """One tqdm bar per phase (checking, writing) on stderr, or nothing when disabled."""

    def __init__(self, enabled: bool | None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bar: tqdm | None = None

    def __call__(self, label: str, total: int) -> Callable[[int], None]:
        """Start the bar of a new phase; return its ``update``."""
        self.close()
        if not self.enabled:
            return lambda _count: None
        self.bar = tqdm(total=total, desc=label, unit="row", unit_scale=True, file=sys.stderr, leave=False)
        return self.bar.update

    def factory(self) -> ProgressBars | None:
        """What the importers take: this object when enabled, else None (no line counting)."""
        return self if self.enabled else None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def counted(number: int, noun: str) -> str:
    """``1 customer``, ``1,234 customers``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"




def refuse(command: str, path: Path, failure: ImportFailed) -> None:
    """Print every bad line and exit 1."""
    for error in failure.errors:
        click.echo(str(error), err=True)
    lines = len({error.line for error in failure.errors})
    click.echo(f"{command}: {counted(lines, 'bad line')} in {path.name}; nothing imported", err=True)
    raise click.exceptions.Exit(1)


@click.command("import-customers")
@file_argument
@encoding_option
@_progress_option
@with_appcontext
def import_customers_command(file: Path, encoding: str, progress: bool | None) -> None:
    """Import customers from a CSV FILE (customer_number,phone,name_kana[,name,email]); upsert by number."""
    bars = ProgressDisplay(progress)
    try:
        counts = imports.import_customers(current_app.extensions["db"], file, encoding, clock.now(), bars.factory())
    except ImportFailed as failure:
        bars.close()
        refuse("import-customers", file, failure)
    finally:
        bars.close()
    click.echo(f"imported {counted(counts.total, 'customer')} "
               f"({counts.new:,} new, {counts.updated:,} updated, {counts.unchanged:,} unchanged)")


@click.command("import-statements")
@file_argument
@encoding_option
@_progress_option
@with_appcontext
def import_statements_command(file: Path, encoding: str, progress: bool | None) -> None:
    """Import statements from a CSV FILE (one line item per row); each (customer, month) is replaced whole."""
    bars = ProgressDisplay(progress)
    try:
        counts = imports.import_statements(current_app.extensions["db"], file, encoding, clock.now(), bars.factory())
    except ImportFailed as failure:
        bars.close()
        refuse("import-statements", file, failure)
    finally:
        bars.close()
    click.echo(f"imported {counted(counts.items, 'item')} in {counted(counts.statements, 'statement')} "
               f"for {counted(counts.customers, 'customer')} ({counts.new:,} new, {counts.replaced:,} replaced)")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load the demo customers, a year of their statements, and the demo FAQ unless one was imported
    (safe to run again)."""
    customers, statements = demo_data.seed_demo(current_app.extensions["db"], clock.now())
    click.echo(f"demo data: {customers.total} customers ({customers.new} new, {customers.updated} updated, "
               f"{customers.unchanged} unchanged), {statements.statements} statements "
               f"({statements.new} new, {statements.replaced} replaced)")
    click.echo(f"customer {demo_data.DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT} has no statement this month "
               "(shows the 'not issued yet' answer)")
    seed_faq()


def seed_faq() -> None:
    """Import ``DEFAULT_FAQ_PATH`` when no FAQ was ever imported; an operator's import is never replaced."""
    db = current_app.extensions["db"]
    path = DEFAULT_FAQ_PATH
    shown = path.relative_to(PROJECT_ROOT) if path.is_relative_to(PROJECT_ROOT) else path
    with db.begin() as session:
        version = faq_store.current_version(session)
    if version:
        click.echo(f"FAQ: version {version} in use, left as it is ({shown} not loaded)")
        return
    if not path.is_file():
        click.echo(f"FAQ: {shown} not found; no FAQ loaded")
        return
    try:
        entries, version = imports.import_faq(db, path, "utf-8", clock.now())
    except ImportFailed as failure:
        refuse("seed-demo", path, failure)
    click.echo(f"FAQ: imported {entries:,} {'entry' if entries == 1 else 'entries'} from {shown} (version {version})")


def init_app(app: Flask) -> None:
    """Register the operator commands."""
    app.cli.add_command(import_customers_command)
    app.cli.add_command(import_statements_command)
    app.cli.add_command(seed_demo_command)
