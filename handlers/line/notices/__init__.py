"""Monthly bill notices: the runs that push a month's notice to every linked customer once, the
batch jobs that push them, the global rate limit, the quota, and the monthly schedule. The
operator's command, ``flask --app app notify-bills``, is ``handlers.cli.notices``.

The rooms, from the bottom up:

- ``config``: the ``NOTICE_*`` settings, and the app's clock, database and Redis;
- ``rate``: send slots under the global rate (a Lua GCRA on Redis's clock), the run's quota
  budget and refunds into it, the slow-down after a 429, the stop flag and its reasons;
- ``template``: the notice rendered once per month and due date, filled in per customer;
- ``push``: one prepared body pushed to LINE, and what the answer means;
- ``outcomes``: what becomes of a row (skipped, sent, retried, failed, released), written a
  batch at a time;
- ``batch``: ``send_batch_job``, one claim's rows pushed at their slots in threads;
- ``run``: the quota, ``start_run``, ``dispatch`` (batches out as jobs) and ``drive``;
- ``schedule``: ``tick``, the workers' minute that starts the month's run and keeps it going.

How a run goes (``run.start_run``, then ``run.dispatch`` until nothing is queued):

1. Count in the database what the month needs (``storage.notices.month_overview``) and read the
   plan's quota from LINE (``GET /v2/bot/message/quota`` and ``/quota/consumption``). A run the
   quota cannot finish says so before it starts, sends what the quota allows and stops there; a
   later run completes the month (``--whole-only`` refuses such a run instead, sending nothing).
2. Write one delivery row per (account, month) *before* any push (``plan_month``; a unique
   constraint, so a re-run adds nothing).
3. Hand queued rows out in batches: each batch is a claim token with a lease on its rows (renewed
   while it works), and one RQ job (``send_batch_job``) that pushes them under the rate limit in
   Redis (``NOTICE_RATE_PER_SECOND``, across all workers and hosts): it takes slots for as many
   rows as it has idle threads (``NOTICE_CONCURRENCY`` at most) in one round trip, and hands each
   row to a thread at its slot, never before (a batch that falls behind its slots gives them back
   and takes new ones rather than burst). The batches of all workers take turns in short
   windows, so more workers on more hosts send faster. The notice is rendered once per month
   and due date and filled in per customer (``notice_template``); the bodies go out as bytes
   through the SDK client's connection pool; outcomes are written a batch at a time.
4. Each push carries ``X-Line-Retry-Key`` derived from its row, the same on every attempt: 409
   means LINE had already accepted it (sent). 5xx and timeouts are retried with backoff for less
   than the key's 24 hours, then marked failed for review. A 429 slows the whole run down; 429
   "You have reached your monthly limit." stops it at once (a stop flag every batch checks when
   it takes its slots; the batch that meets the refusal pushes none of its remaining rows), and
   a later run completes the month.

A run killed half-way leaves rows queued or leased: the next run (or a worker's tick) hands them
out again once the lease runs out, and the retry key turns a push that did get through into a 409.

Redis keys: ``bot:notices:rate``, ``bot:notices:slow`` and per month ``…:stop`` and ``…:budget``
(``rate``); ``bot:notices:active`` and ``…:dispatch`` (``run``); ``…:scheduled`` (``schedule``).
"""

from __future__ import annotations

from flask import Flask

from handlers import jobs
from handlers.line.notices import batch, schedule


def init_app(app: Flask) -> None:
    """Register the worker's minute tick (the schedule) and file the batch job as bulk work."""
    jobs.register_periodic(app, schedule.tick, every_seconds=60)
    jobs.bulk(app, batch.send_batch_job)
