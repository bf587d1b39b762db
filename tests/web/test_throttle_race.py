"""Throttles count first, atomically, then verify (issue 21, point 5): 30 wrong passwords for one
account ID at once get exactly the limit of verifications, not more."""

from __future__ import annotations

import threading

from handlers import metrics
from handlers.web.mypage.auth import LOGIN_FAILURES_PER_ACCOUNT
from tests.helpers_billing import csrf_from, seed_customer_with_account


def _value(outcome: str) -> float:
    return metrics.WEB_LOGINS.labels(outcome)._value.get()


def test_parallel_wrong_passwords_get_no_more_verifications_than_the_limit(app):
    seed_customer_with_account(app, login_id="aicom_race")
    clients = [app.test_client() for _ in range(30)]
    tokens = [csrf_from(c.get("/login").get_data(as_text=True)) for c in clients]
    failed, throttled = _value("failed"), _value("throttled")
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def guess(client, token: str) -> None:
        start.wait()
        response = client.post("/login", data={"csrf_token": token, "account_id": "aicom_race",
                                                "password": "Wrong-pass-123"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert _value("failed") - failed == LOGIN_FAILURES_PER_ACCOUNT  # verified: exactly the limit
    assert _value("throttled") - throttled == len(clients) - LOGIN_FAILURES_PER_ACCOUNT
    assert sorted(statuses).count(429) == len(clients) - LOGIN_FAILURES_PER_ACCOUNT


def test_after_a_success_the_tries_are_forgotten(app, client):
    from tests.helpers_billing import PASSWORD, login

    seed_customer_with_account(app, login_id="aicom_again")
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        assert login(client, "aicom_again", "Wrong-pass-123").status_code == 200
    assert login(client, "aicom_again", PASSWORD).status_code in (302, 303)
    other = app.test_client()
    for _ in range(LOGIN_FAILURES_PER_ACCOUNT - 1):
        assert login(other, "aicom_again", "Wrong-pass-123").status_code == 200  # a fresh allowance
