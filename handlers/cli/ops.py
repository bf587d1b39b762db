"""``flask --app app check``, ``queues`` (and ``queues retry``) and ``purge``: the operator's commands
for running the service. The work is elsewhere: ``handlers.ops.check`` asks each dependency,
the queue probes the edges registered (``handlers.metrics.register_queue_probe``: the RQ job
queue, the LINE event streams) read and retry their queues, and ``storage.retention`` holds the
purge rules.

``check`` says what is configured and whether each dependency answers (exit 1 when a configured
one does not; ``--queues`` adds the ``queues`` view). ``queues`` prints every registered queue:
how many wait, run, wait for a retry, and failed, with the failures grouped by job and exception
class (never their texts); ``queues retry`` puts the failed ones back. ``purge`` runs the
retention rules and prints what each removed (``--dry-run`` counts without deleting); run it
daily (cron or a systemd timer, docs/deployment.md).
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from handlers import clock, metrics
from handlers.ops.check import configuration_lines, run_checks
from storage import retention


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


@click.command("check")
@click.option("--queues", "show_queues", is_flag=True, help="Also show the queues (as `queues` does).")
@with_appcontext
def check_command(show_queues: bool) -> None:
    """Print what is configured and whether each dependency answers; exit 1 when a configured one does not."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    click.echo("configuration:")
    for name, value in configuration_lines(app):
        click.echo(f"  {name:<26} {value}")
    click.echo("dependencies:")
    results = run_checks(app)
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        mark = mark if result.configured else "--  "
        click.echo(f"  {mark} {result.name:<9} {result.target}: {result.detail}")
    if show_queues:
        print_queues(app)
    failing = [r.name for r in results if r.configured and not r.ok]
    if failing:
        click.echo(f"check: {len(failing)} configured dependenc{'y does' if len(failing) == 1 else 'ies do'} "
                   f"not answer: {', '.join(failing)}", err=True)
        raise click.exceptions.Exit(1)
    click.echo("check: every configured dependency answers")


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
        results = retention.purge_all(app.extensions["db"].sessions, clock.now(app), app.config,
                                      dry_run=dry_run, only=only)
    except retention.RetentionSettingError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "would remove" if dry_run else "removed"
    for item in results:
        click.echo(f"{item.name}: {verb} {item.count:,} ({item.description}; kept {item.keep_days} days)")
    total = sum(item.count for item in results)
    click.echo(f"purge: {verb} {total:,} rows in all" + (" (dry run: nothing deleted)" if dry_run else ""))


def init_app(app: Flask) -> None:
    """Register ``check``, ``queues`` and ``purge``."""
    app.cli.add_command(check_command)
    app.cli.add_command(queues_group)
    app.cli.add_command(purge_command)
