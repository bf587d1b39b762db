"""``flask --app app queues`` (and ``queues retry``) and ``flask --app app purge``.

``queues`` prints every registered queue (``handlers.metrics.register_queue_probe``: the
RQ job queue, the LINE event streams once their edge registers them): how many wait, run,
wait for a retry, and failed, with the failures grouped by job and exception class (never
their texts). ``queues retry`` puts the failed ones back (RQ's failed registry; a stream's
stale pending entries through the retry function its edge registered).

``purge`` runs the retention rules of ``storage.retention`` (other modules add theirs) and
prints what each removed; ``--dry-run`` counts without deleting. Run it daily (cron or a
systemd timer, docs/deployment.md).
"""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from handlers import metrics
from storage import retention
from storage.timezone import TOKYO


def _now() -> datetime:
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(TOKYO)


def print_queues(app: Flask) -> None:
    """The operator's view of every registered queue."""
    probes = metrics.queue_probes(app)
    click.echo("queues:")
    if not probes:
        click.echo("  none registered (REDIS_URL unset: jobs run inside the web process)")
        return
    for stat in metrics.read_queues(app, detail=True):
        age = f", oldest waiting {stat.oldest_age_seconds:.0f}s" if stat.oldest_age_seconds else ""
        click.echo(f"  {stat.queue}/{stat.partition}: {stat.depth} waiting, {stat.pending} running, "
                   f"{stat.scheduled} scheduled for retry, {stat.failed} failed{age}")
        for reason, count in sorted(stat.failures.items(), key=lambda item: (-item[1], item[0])):
            click.echo(f"      {count:>5}  {reason}")


@click.group("queues", invoke_without_command=True)
@click.pass_context
@with_appcontext
def queues_group(ctx: click.Context) -> None:
    """Show the job and event queues: waiting, running, retrying, failed (and why)."""
    if ctx.invoked_subcommand is None:
        print_queues(current_app._get_current_object())  # type: ignore[attr-defined]


@queues_group.command("retry")
@with_appcontext
def queues_retry_command() -> None:
    """Put every failed job (and stale event) back on its queue."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    total = 0
    for name, (_probe, retry) in metrics.queue_probes(app).items():
        if retry is None:
            continue
        count = retry()
        total += count
        click.echo(f"{name}: {count} re-queued")
    click.echo(f"queues retry: {total} re-queued in all")


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be removed; remove nothing.")
@click.option("--only", multiple=True, metavar="RULE", help="Run only this rule (repeatable).")
@with_appcontext
def purge_command(dry_run: bool, only: tuple[str, ...]) -> None:
    """Remove what the retention rules say is no longer needed, and print the counts."""
    unknown = [name for name in only if name not in retention.RULES]
    if unknown:
        raise click.UsageError(f"unknown rule(s): {', '.join(unknown)}; known: {', '.join(retention.RULES)}")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        results = retention.purge_all(app.extensions["db"].sessions, _now(), app.config, dry_run=dry_run, only=only)
    except retention.RetentionSettingError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "would remove" if dry_run else "removed"
    for item in results:
        click.echo(f"{item.name}: {verb} {item.count:,} ({item.description}; kept {item.keep_days} days)")
    total = sum(item.count for item in results)
    click.echo(f"purge: {verb} {total:,} rows in all" + (" (dry run: nothing deleted)" if dry_run else ""))


def init_app(app: Flask) -> None:
    """Register the commands; a retention setting that is not a number of days stops the start-up
    (``RetentionSettingError`` names it)."""
    retention.validate(app.config)
    app.cli.add_command(queues_group)
    app.cli.add_command(purge_command)
