"""``flask --app app worker``: the background workers (``handlers.jobs.worker`` runs them)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from handlers import metrics
from handlers.jobs import worker


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Handle what is queued now, then stop.")
@click.option("--threads", type=int, default=0, help="LINE event consumer threads (default EVENT_WORKER_THREADS, 4).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None, envvar="WORKER_METRICS_PORT",
              help="Also serve /metrics on 127.0.0.1:PORT (a host without a web process).")
def worker_command(burst: bool, threads: int, metrics_port: int | None) -> None:
    """Run the background workers: LINE events, mail, pushes (and whatever the edges add).

    SIGTERM finishes the turn and the job in hand, then stops; the rest stay queued."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "job_runner" in app.extensions:
        raise click.ClickException("REDIS_URL is not set: jobs run inside the web process; no worker needed")
    if metrics_port:
        metrics.serve_on_loopback(app, metrics_port)
    worker.serve(app, burst=burst, threads=threads)


def init_app(app: Flask) -> None:
    """Register ``worker``."""
    app.cli.add_command(worker_command)
