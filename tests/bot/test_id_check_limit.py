"""The account-ID availability check is throttled per LINE user (issue 21, point 8): a verified
customer gets a reasonable number of tries, not an oracle for which IDs exist."""

from __future__ import annotations

from bot import messages
from bot.flows.registration import ID_CHECK_LIMIT
from tests.helpers_billing import seed_customer_with_account
from tests.helpers_registration import seed_customer, texts, verify


def test_checks_beyond_the_limit_are_refused_politely_and_answer_nothing(app, chat_user):
    seed_customer_with_account(app, number="99990001", login_id="aicom_taken")  # someone else's account
    seed_customer(app)
    assert "ご本人様の確認ができました" in texts(verify(chat_user))
    for _ in range(ID_CHECK_LIMIT):  # a taken ID keeps the flow at the account ID: each is one check
        assert messages.ACCOUNT_ID_TAKEN in texts(chat_user.say("aicom_taken"))
    refused = texts(chat_user.say("aicom_free_one"))
    assert messages.ACCOUNT_ID_CHECKS_LIMITED in refused
    assert messages.ACCOUNT_ID_TAKEN not in refused and messages.ASK_EMAIL not in refused


def test_an_id_the_rules_refuse_is_not_a_check(app, chat_user):
    seed_customer(app)
    verify(chat_user)
    for _ in range(ID_CHECK_LIMIT + 3):
        assert messages.ACCOUNT_ID_CHECKS_LIMITED not in texts(chat_user.say("x"))  # too short: not looked up
    assert messages.ASK_EMAIL in texts(chat_user.say("aicom_free_one"))
