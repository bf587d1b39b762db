"""The schedule of bill notices: ``tick``, which every ``flask --app app worker`` calls once a
minute (``jobs.register_periodic``, wired in the package's ``init_app``).

From ``NOTICE_HOUR`` (Asia/Tokyo) on, once the current month's statements are imported (some
exist, and none changed for ``NOTICE_IMPORT_QUIET_SECONDS``), it starts the month's run
(``run.start_run``), once: the delivery rows in the database and a marker in Redis
(``bot:notices:<YYYY-MM>:scheduled``) say it has started, across restarts. On every tick it
hands out the rows of every active month (``run.dispatch``): retries, and a run whose command
was killed.
"""

from __future__ import annotations

import logging

from handlers import clock
from handlers.line.notices.config import database, redis_client, settings
from handlers.line.notices.rate import KEY_TTL, stop_reason
from handlers.line.notices.run import RunRefused, dispatch, parse_month, start_run
from storage import keys
from storage import notices as store
from storage.bills import month_start
from storage.timezone import TOKYO

log = logging.getLogger(__name__)


def tick() -> None:
    """Called every minute by each worker: start this month's run when it is due, and keep
    handing out the rows of every active month (retries, a run whose command was killed)."""
    config = settings()
    now = clock.now().astimezone(TOKYO)
    month = month_start(now.date())
    redis = redis_client()
    scheduled = keys.notices_month_key(month, "scheduled")
    if now.hour >= config.hour and not redis.exists(scheduled):
        with database().begin() as session:
            started = store.has_deliveries(session, month)
            settled = store.statements_settled(session, month, now, config.import_quiet_seconds)
        if started:
            redis.set(scheduled, "found", ex=KEY_TTL)
        elif settled and redis.set(scheduled, "started", ex=KEY_TTL, nx=True):
            try:
                start = start_run(month)
                log.info("scheduled bill notices for %s started: %d to send", f"{month:%Y-%m}", start.sending)
            except RunRefused as refusal:
                redis.set(scheduled, "refused", ex=KEY_TTL)
                log.error("scheduled bill notices for %s not started: %s", f"{month:%Y-%m}", refusal)
    for raw in redis.smembers(keys.NOTICES_ACTIVE_KEY):
        name = raw.decode() if isinstance(raw, bytes) else raw
        active = parse_month(name)
        if stop_reason(active):
            continue
        if not dispatch(active).queued:
            redis.srem(keys.NOTICES_ACTIVE_KEY, name)
            log.info("bill notices for %s: nothing left to send", name)
