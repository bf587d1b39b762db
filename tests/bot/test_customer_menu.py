"""The words the お客様メニュー sends that had no flow before: ログインして連携, よくある質問."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot import messages
from tests.helpers_billing import seed_customer_with_account, seed_link
from tests.helpers_registration import quick_labels


def test_faq_answers_and_offers_the_next_steps(line_user):
    [reply] = line_user.say("よくある質問")
    assert reply["text"] == messages.FAQ
    assert "無料" in reply["text"] and "0120-00-6560" in reply["text"]
    assert quick_labels(reply) == ["登録", "ログインして連携", "ヘルプ"]


def test_login_to_link_gives_the_login_button_with_a_link_token(line_user, line_api):
    replies = line_user.say("ログインして連携")
    card, hint = replies
    uri = card["contents"]["footer"]["contents"][0]["action"]["uri"] if card["type"] == "flex" else \
        card["template"]["actions"][0]["uri"]
    url = urlsplit(uri)
    assert url.path == "/login" and "linkToken=" in url.query
    assert line_api.accepted("link_token", line_user.user_id)
    assert hint["text"] == messages.ACCOUNT_LINK_NOT_YET_REGISTERED
    assert "登録" in quick_labels(hint)


def test_login_to_link_when_already_linked(app, line_user, line_api):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, line_user.user_id)
    [reply] = line_user.say("ログインして連携")
    assert reply["text"] == messages.ALREADY_LINKED
    assert line_api.accepted("link_token") == []
