"""The FAQ's operator commands: ``import-faq FILE`` and the ``faq`` group (``faq ask``, ``faq misses``).

``import-faq`` checks the whole file (``handlers.cli.csv_rows.read_faq``) and then replaces the
FAQ set in one transaction: on any bad line it exits 1 listing every one, and the FAQ in use
stays as it was. ``faq misses`` shows what customers wrote that nothing answered (or answered
with low confidence), already masked when it was stored, grouped and counted, most frequent
first. ``faq ask TEXT`` shows what the bot would answer and why: a command word, or the reading
(intent or entry, its score, the intents read and the nearest entries), from the FAQ in the
database now.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from bot import messages
from bot.normalize import command_text
from bot.understanding.reader import explain
from handlers import clock
from handlers.cli import imports
from handlers.cli.commands import encoding_option, file_argument, refuse
from storage import faq as faq_store
from storage.bills import TOKYO

NO_ENTRY = "-"


@click.command("import-faq")
@file_argument
@encoding_option
@with_appcontext
def import_faq_command(file: Path, encoding: str) -> None:
    """Replace the FAQ with a CSV FILE (id,question,answer[,examples,link]); all or nothing.

    A link is an http(s) URL, or a path starting with / that the bot shows after PUBLIC_BASE_URL.
    """
    try:
        entries, version = imports.import_faq(current_app.extensions["db"], file, encoding, clock.now())
    except imports.ImportFailed as failure:
        refuse("import-faq", file, failure)
    click.echo(f"imported {entries:,} FAQ {'entry' if entries == 1 else 'entries'} (version {version})")


faq_group = AppGroup("faq", help="The FAQ: what the bot would answer (ask), what nothing answered (misses).")


@faq_group.command("misses")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
              help="Show at most this many different texts.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Only misses of the last D days (default: all that are kept).")
def misses_command(limit: int, days: int | None) -> None:
    """What customers wrote that nothing answered well: count, outcome, last seen, nearest entry, text."""
    since = clock.now() - timedelta(days=days) if days else None
    with current_app.extensions["db"].begin() as session:
        summaries = faq_store.misses(session, limit=limit, since=since)
    if not summaries:
        click.echo("no misses")
        return
    rows = [(f"{item.count:,}", item.outcome, item.last_seen.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M"),
             item.best_entry or NO_ENTRY, _one_line(item.text)) for item in summaries]
    header = ("count", "outcome", "last seen", "best entry", "text")
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(4)]
    for number, row in enumerate([header, *rows]):
        count = row[0].rjust(widths[0]) if number else row[0].ljust(widths[0])
        click.echo("  ".join([count, *(row[c].ljust(widths[c]) for c in range(1, 4)), row[4]]).rstrip())


@faq_group.command("ask")
@click.argument("text")
def ask_command(text: str) -> None:
    """What the bot would answer to TEXT from a linked customer, and why (intent or entry, scores, alternatives)."""
    engine = current_app.extensions["engine"]
    reader = current_app.extensions["free_text"]
    key = command_text(text)
    for flow in engine.flows:
        for entry in flow.entries:
            if entry.match(key):
                click.echo(f"command word: the {flow.name} flow's entry answers it"
                           + (f" (intent {entry.intent})" if entry.intent else ""))
                return
    with current_app.extensions["db"].begin() as session:
        reading = reader.reading(session, text)
        entries = len(reader.library.index(session))  # the index just checked; no second load
    click.echo(f"FAQ version {reader.library.version} ({entries} entries)")
    for line in explain(reading):
        click.echo(line)
    if reading.faq is not None:
        click.echo("answer:\n  " + reading.faq.entry.answer.replace("\n", "\n  "))
        if reading.intent:
            click.echo(f"then: the {reading.intent} intent's own answer, as a command word would start it")
        if reading.suggestions:
            click.echo("quick replies: " + " / ".join(m.entry.question for m in reading.suggestions))
    elif reading.intent is None:
        click.echo("answer: " + _one_line(messages.NOT_UNDERSTOOD_SUGGEST if reading.suggestions
                                          else messages.NOT_UNDERSTOOD))
        if reading.suggestions:
            click.echo("offered: " + " / ".join(m.entry.question for m in reading.suggestions))


def _one_line(text: str) -> str:
    """A stored text on one table row (a customer's line breaks shown as ⏎)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "⏎")


def init_app(app: Flask) -> None:
    """Register ``import-faq`` and the ``faq`` group."""
    app.cli.add_command(import_faq_command)
    app.cli.add_command(faq_group)
