"""A notice batch renews its lease while it works (issue 22, point 3): a batch slower than its
lease keeps its rows, so no other job takes them and nothing is pushed twice, however loaded
the machine."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from handlers.line.notices import batch, run
from storage import notices as store
from tests.line.test_notices import MONTH, TOKYO, pushes, seed_linked


def test_a_batch_slower_than_its_lease_keeps_its_rows(app, make_app, line_api):
    bot = make_app(NOTICE_LEASE_SECONDS=1, NOTICE_CONCURRENCY=1, NOTICE_BATCH_SIZE=4, NOTICE_RATE_PER_SECOND=100)
    users = seed_linked(bot, 4)
    line_api.latency = 0.6  # four pushes one after another: 2.4 s, more than twice the lease
    with bot.app_context():
        run.start_run(MONTH)
        with bot.extensions["db"].begin() as session:
            token, claimed, _last = store.claim_batch(session, MONTH, datetime.now(TOKYO), 4, 1)
    assert claimed == 4

    def work():
        with bot.app_context():
            batch.send_batch_job(token)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        time.sleep(1.6)  # the first lease has run out by now: only renewal keeps the rows
        with bot.extensions["db"].begin() as session:
            _token, taken, _last = store.claim_batch(session, MONTH, datetime.now(TOKYO), 10, 1)
        assert taken == 0
    finally:
        worker.join(30)
    assert sorted(c.user_id for c in pushes(line_api)) == sorted(users)
    assert len(pushes(line_api, None)) == 4  # each pushed once: no second attempt, no 409
