"""Redis key names hold no reversible hash of personal data (issue 21, point 7): the counters of a
login ID, a client address and a mail address are named by an HMAC under a key from SECRET_KEY."""

from __future__ import annotations

import hashlib

from tests.helpers_billing import login, post_form, seed_customer_with_account


def test_counter_keys_are_keyed_hashes_not_plain_ones(app, client):
    seed_customer_with_account(app, login_id="aicom_keys", email="keys@example.jp")
    login(client, "aicom_keys", "Wrong-pass-123")
    post_form(client, "/reminder/password", account_id="aicom_keys", email="keys@example.jp")
    names = b"\n".join(app.extensions["redis"].keys("bot:count:*")).decode()
    assert "bot:count:web_login_id:" in names
    for personal in ("aicom_keys", "keys@example.jp", "127.0.0.1"):
        assert personal not in names
        assert hashlib.sha256(personal.encode()).hexdigest()[:32] not in names  # not reversible by a dictionary
