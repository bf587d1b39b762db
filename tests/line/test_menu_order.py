"""Per-person menu switches in order (issue 22, point 1): link then unlink a moment apart, their
jobs on two workers in the wrong order, and the customer still ends on the menu the link says."""

from __future__ import annotations

import threading
import time

from sqlalchemy import delete

from bot.menus import NEWCOMER
from handlers.emulator.line_api_recorder import Failure
from storage.models import LineLink
from tests.helpers_billing import seed_customer_with_account, seed_link
from tests.line.test_richmenu_switch import shown, synced


def test_a_late_link_job_cannot_outrun_the_unlink_that_followed_it(app, runner, line_api, line_user):
    from handlers.line.richmenu import switch_menu_job

    menus = synced(app, runner)
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, line_user.user_id)
    # The link job's call to LINE is slow (a second in flight); the unlink job's is quick.
    line_api.fail_next.append(Failure(status=None, delay=1.0, kind="richmenu_link", user_id=line_user.user_id))

    def job(linked: bool) -> None:
        with app.app_context():
            switch_menu_job(user_id=line_user.user_id, linked=linked)

    linking = threading.Thread(target=job, args=(True,))
    linking.start()  # reads "linked", then waits on LINE
    time.sleep(0.3)
    with app.extensions["db"].begin() as db:  # 連携解除 commits, and its job runs on another worker
        db.execute(delete(LineLink).where(LineLink.line_user_id == line_user.user_id))
    unlinking = threading.Thread(target=job, args=(False,))
    unlinking.start()
    linking.join(20)
    unlinking.join(20)
    assert shown(line_api, line_user) == menus[NEWCOMER]
