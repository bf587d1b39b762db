"""The words the お客様メニュー sends that had no flow before: ログインして連携, よくある質問."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from bot import messages
from tests.helpers_billing import seed_customer_with_account, seed_link
from tests.helpers_registration import quick_labels


def test_faq_answers_and_offers_the_next_steps(chat_user):
    [reply] = chat_user.say("よくある質問")
    assert reply["text"] == messages.FAQ
    assert "無料" in reply["text"] and "0120-00-6560" in reply["text"]
    assert quick_labels(reply) == ["登録", "ログインして連携", "オペレーターと話す", "ヘルプ"]
    # Issue 20: it named a 「問い合わせ」 button that is not there; the one it names is offered.
    assert "「問い合わせ」" not in reply["text"] and "「オペレーターと話す」" in reply["text"]


def test_faq_for_a_linked_customer_offers_no_registration(app, chat_user):
    """Issue 20: a linked customer's よくある質問 offered 登録 and ログインして連携."""
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    [reply] = chat_user.say("よくある質問")
    assert reply["text"] == messages.FAQ_LINKED
    labels = quick_labels(reply)
    assert "登録" not in labels and "ログインして連携" not in labels
    assert labels == ["今月の料金", "料金一覧", "オペレーターと話す", "ヘルプ"]
    assert "登録" not in reply["text"].replace("ご登録", "") and "「問い合わせ」" not in reply["text"]
    assert "0120-00-6560" in reply["text"]


def test_login_to_link_gives_the_link_start_button(line_user, line_api):
    replies = line_user.say("ログインして連携")
    card, hint = replies
    uri = card["contents"]["footer"]["contents"][0]["action"]["uri"] if card["type"] == "flex" else \
        card["template"]["actions"][0]["uri"]
    url = urlsplit(uri)
    issued = line_api.accepted("link_token", line_user.user_id)[0].body["linkToken"]
    assert url.path == "/link/start" and "t=" in url.query and issued not in uri  # the link token stays ours
    assert hint["text"] == messages.ACCOUNT_LINK_NOT_YET_REGISTERED
    assert "登録" in quick_labels(hint)


def test_login_to_link_when_already_linked(app, line_user, line_api):
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, line_user.user_id)
    [reply] = line_user.say("ログインして連携")
    assert reply["text"] == messages.ALREADY_LINKED
    assert line_api.accepted("link_token") == []


@pytest.mark.parametrize("name", ["MENU_UNLINKED", "MENU_LINKED"])
def test_the_menu_says_how_to_use_it_without_an_empty_bracket_pair(name):
    """Issue 20: 「下のボタンを押すか、「」内の言葉を送ってください」 read oddly."""
    text = getattr(messages, name)
    assert "「」" not in text
    assert text.splitlines()[-1].startswith("下のボタンを押すか、「")


def test_the_menu_shown_uses_the_new_wording(app, chat_user):
    assert "「」" not in chat_user.says("ヘルプ")
    seeded = seed_customer_with_account(app)
    seed_link(app, seeded.account_id, chat_user.user_id)
    assert "「今月の料金」のように" in chat_user.says("ヘルプ")
