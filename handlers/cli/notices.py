"""``flask --app app notify-bills --month YYYY-MM [--dry-run] [--whole-only] [--retry-failed]``:
the operator's monthly bill notices, with the quota line, a progress bar and the closing summary.

Thin: the run itself is the LINE edge's (``handlers.line.notices.run``: ``start_run``, then
``drive``); this module says what it will do, shows progress on stderr (tqdm, when a terminal),
and sums up what was sent, skipped, failed and left. Exit code 0 when every notice is sent or
accounted for, 1 when the run was refused or stopped (quota, access token), 2 for a bad
``--month``.
"""

from __future__ import annotations

import sys
import threading
from datetime import date

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from handlers.line.notices.config import database, settings
from handlers.line.notices.rate import BUDGET, stop_reason
from handlers.line.notices.run import Quota, RunRefused, RunStart, drive, parse_month, start_run
from storage import notices as store

SKIP_LABELS = {store.OPTED_OUT: "opted out", store.BLOCKED: "blocked", store.UNLINKED: "no longer linked",
               "no_statement": "no statement"}


def _breakdown(counts: dict[str, int], labels: dict[str, str] | None = None) -> str:
    parts = [f"{(labels or {}).get(k, k or 'unknown')} {v:,}" for k, v in sorted(counts.items(), key=str) if v]
    return f" ({', '.join(parts)})" if parts else ""


def _quota_line(quota: Quota, sending: int) -> str:
    if quota.limit is None:
        return "quota: no monthly limit on this plan"
    return (f"quota: {quota.limit:,} messages this month, {quota.used:,} used, {quota.left:,} left; "
            f"this run uses {sending:,}, leaving {(quota.left or 0) - sending:,}")


def _summary(month: date, before: dict, after: dict) -> tuple[str, int, int]:
    """The closing line, how many are still queued, and how many failed."""
    def total(counts: dict, status: str) -> int:
        return sum(v for (s, _r), v in counts.items() if s == status)

    skipped = {r or "unknown": v for (s, r), v in after.items() if s == store.SKIPPED}
    failed = {r or "unknown": v for (s, r), v in after.items() if s == store.FAILED}
    queued = {r or "not tried": v for (s, r), v in after.items() if s == store.QUEUED}
    already = total(before, store.SENT)
    sent = total(after, store.SENT) - already
    line = (f"notify-bills {month:%Y-%m}: sent {sent:,}, already sent {already:,}, "
            f"skipped {sum(skipped.values()):,}{_breakdown(skipped, SKIP_LABELS)}, "
            f"failed {sum(failed.values()):,}{_breakdown(failed)}")
    if queued:
        line += f", not sent yet {sum(queued.values()):,}{_breakdown(queued)}"
    return line, sum(queued.values()), sum(failed.values())


@click.command("notify-bills")
@click.option("--month", "month_text", required=True, metavar="YYYY-MM", help="The billing month to notify.")
@click.option("--dry-run", is_flag=True, help="Count what would be sent and the quota it uses; send nothing.")
@click.option("--whole-only", is_flag=True,
              help="When the quota cannot cover the whole run, send nothing (default: send what it allows).")
@click.option("--partial", is_flag=True, hidden=True, help="Send what the quota allows (the default).")
@click.option("--retry-failed", is_flag=True,
              help="Also send the month's failed notices again (one LINE accepted more than a day ago "
                   "without saying so could arrive twice).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr (default: only when stderr is a terminal).")
@with_appcontext
def notify_bills_command(month_text: str, dry_run: bool, whole_only: bool, partial: bool, retry_failed: bool,
                         progress: bool | None) -> None:
    """Push MONTH's bill notice to every linked customer who has that statement, once each."""
    month = parse_month(month_text)
    settings()
    start = _start(month, partial=partial or not whole_only, dry_run=dry_run, retry_failed=retry_failed)
    if dry_run:
        _echo_dry_run(month, start)
        return
    click.echo(_quota_line(start.quota, start.sending))
    if start.sending < start.overview.to_send:
        click.echo(f"the quota cannot cover this run: sending {start.sending:,} of {start.overview.to_send:,}; "
                   "the rest waits for a later run")
    with database().begin() as session:
        before = {k: v for k, v in store.outcome_counts(session, month).items() if k[0] == store.SENT}
    state = _drive_with_progress(month, start.sending, sum(before.values()), progress)
    with database().begin() as session:
        after = store.outcome_counts(session, month)
    _echo_outcome(month, before, after, state)


def _start(month: date, partial: bool, dry_run: bool, retry_failed: bool) -> RunStart:
    """``start_run``, or the refusal on stderr and exit 1."""
    try:
        return start_run(month, partial=partial, dry_run=dry_run, retry_failed=retry_failed)
    except RunRefused as refusal:
        click.echo(f"notify-bills {month:%Y-%m}: {refusal}", err=True)
        raise click.exceptions.Exit(1) from None


def _echo_dry_run(month: date, start: RunStart) -> None:
    """What the run would send, skip and why, and the quota it would use (nothing written)."""
    overview = start.overview
    skipped = sum(overview.skipped.values())
    click.echo(f"notify-bills {month:%Y-%m} (dry run): would send {overview.to_send:,}, already sent "
               f"{overview.already_sent:,}, would skip {skipped:,}{_breakdown(overview.skipped, SKIP_LABELS)}, "
               f"failed earlier {overview.failed:,}; nothing sent")
    click.echo(_quota_line(start.quota, start.sending))
    if start.sending < overview.to_send:
        click.echo(f"the quota cannot cover this run: {start.sending:,} would be sent, "
                   f"{overview.to_send - start.sending:,} left for a later run")


def _drive_with_progress(month: date, sending: int, done_before: int, progress: bool | None) -> store.Pending:
    """``drive`` the run, with a progress bar on stderr that follows the rows' outcomes (twice a
    second from a thread, and after each round of the queue)."""
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=sending, desc=f"notices {month:%Y-%m}", unit="notice", file=sys.stderr,
               disable=not show, leave=False)
    updating = threading.Event()

    def update_bar() -> None:
        with database().begin() as session:
            counts = store.outcome_counts(session, month)
        done = sum(v for (s, _r), v in counts.items() if s != store.QUEUED) - done_before
        bar.n = max(0, min(done, sending))
        bar.refresh()

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def keep_updating() -> None:
        with app.app_context():
            while not updating.wait(0.5):
                update_bar()

    ticker = threading.Thread(target=keep_updating, daemon=True)
    if show:
        ticker.start()
    try:
        return drive(month, update_bar if show else lambda: None)
    finally:
        updating.set()
        bar.close()


def _echo_outcome(month: date, before: dict, after: dict, state: store.Pending) -> None:
    """The closing summary, and why the run stopped or what is left (exit 1 when stopped)."""
    line, queued, failed = _summary(month, before, after)
    click.echo(line)
    reason = stop_reason(month)
    if reason in ("quota", BUDGET) and queued:
        click.echo(f"stopped: the monthly message quota is reached; {queued:,} notices left to send. "
                   "Run again when the quota allows (nothing is sent twice).")
        raise click.exceptions.Exit(1)
    if reason and queued:
        click.echo(f"stopped: LINE refused the access token ({reason}); {queued:,} notices left to send.")
        raise click.exceptions.Exit(1)
    if queued and state.next_due is not None:
        click.echo(f"{queued:,} notices wait for a retry; `flask --app app worker` retries them "
                   "(or run this command again later)")
    if failed:
        click.echo("failed notices are kept for review (notice_deliveries.status = 'failed'); they are not resent "
                   "unless you run this command again with --retry-failed")


def init_app(app: Flask) -> None:
    """Register ``notify-bills``."""
    app.cli.add_command(notify_bills_command)
