"""One voice: refusals and error pages apologise, say what to do next, and offer a person where needed."""

from __future__ import annotations

import re

import pytest
from flask import render_template

from bot import messages
from tests.bot.voice_reading import quick_replies
from tests.helpers_registration import seed_customer


# -- refusals and errors ---------------------------------------------------------------------------
def _filled(template: str) -> str:
    return template.format(free_call=messages.FREE_CALL, hours=messages.SUPPORT_HOURS_TEXT, month="2026年9月",
                           months="2026年11月", opening="本日9:00", latest="2026年10月")


@pytest.mark.parametrize("name", messages.REFUSALS)
def test_a_refusal_opens_with_an_apology_and_ends_with_what_to_do(name):
    text = _filled(getattr(messages, name))
    first_sentence = text.split("。", 1)[0]
    assert "申し訳ございません" in first_sentence, text
    last = re.sub(r"（[^）]*）$", "", text.rstrip().splitlines()[-1])
    assert last.endswith(("ください。", "お電話ください。")), text


@pytest.mark.parametrize("name", messages.NEEDS_A_PERSON)
def test_a_refusal_the_customer_cannot_get_past_offers_a_person(name):
    text = _filled(getattr(messages, name))
    assert messages.PHONE_DESK in text or f"「{messages.QR_OPERATOR}」" in text, text
    if messages.FREE_CALL in text:  # the phone always comes with its hours
        assert messages.STAFFED_HOURS in text, text


def test_verify_mismatch_stays_the_guides_sentence_and_the_retry_adds_its_advice():
    guide = "入力された内容が契約者情報と一致しません。もう一度お手元の登録書をご確認ください。"
    assert messages.VERIFY_MISMATCH == guide
    assert messages.PHONE_DESK in messages.VERIFY_RETRY


def test_register_start_says_what_the_guide_says():
    text = messages.REGISTER_START
    assert "インターネットをご契約の方は、「環境設定通知書」のユーザーID欄" in text
    assert "わからない場合は" in text and messages.PHONE_DESK in text


def test_a_tap_mid_registration_is_told_how_to_go_on_stop_or_reach_a_person(app, line_user):
    seed_customer(app)
    line_user.say("登録")
    for word in ("よくある質問", "ログインして連携"):  # the newcomers' rich menu, tapped mid-flow
        replies = line_user.say(word)
        assert replies[0]["text"] == messages.REGISTER_IN_PROGRESS
        assert "「キャンセル」" in replies[0]["text"] and messages.PHONE_DESK in replies[0]["text"]
        assert "「オペレーターと話す」と送る" in replies[0]["text"]
        assert "キャンセル" in quick_replies(replies[-1])


@pytest.mark.parametrize(("template", "context", "alert"), [
    ("error.html", {"kind": "not_found"}, "お探しのページは見つかりませんでした"),
    ("error.html", {"kind": "method"}, "直接開くことができません"),
    ("error.html", {"kind": "csrf"}, "送信できませんでした"),
    ("mypage/login.html", {"error": "unavailable"}, "ただいまログインできません"),
    ("mypage/login.html", {"error": "throttled"}, "しばらくログインできません"),
    ("mypage/unavailable.html", {"kind": "unavailable"}, "マイページをご利用いただけません"),
    ("mypage/unavailable.html", {"kind": "error"}, "表示できませんでした"),
    ("register/invalid.html", {"kind": "expired", "valid_for": "24時間"}, "本登録の有効期限"),
    ("register/invalid.html", {"kind": "used", "valid_for": "24時間"}, "使えなくなりました"),
    ("register/invalid.html", {"kind": "missing", "valid_for": "24時間"}, "見つかりませんでした"),
    ("mypage/reset_invalid.html", {"status": "expired"}, "URLの有効期限（30分）"),
    ("mypage/settings_email_invalid.html", {"status": "used"}, "すでに使われている"),
])
def test_an_error_page_apologises_and_shows_the_way_forward(app, template, context, alert):
    with app.test_request_context("/"):
        html = render_template(template, **context)
    main = re.sub(r"<[^>]+>", "", html[html.index("<main"):html.index("</main>")])
    opening = main[:main.index(alert)]
    assert "申し訳ございません" in opening.rsplit("\n", 1)[-1], main  # the sentence that says it apologises
    assert "ください" in main[main.index(alert):], main  # and what to do follows
    footer = re.sub(r"<[^>]+>", "", html[html.index("<footer"):])
    assert messages.PHONE_DESK in footer  # every page ends with the phone and its hours


def test_the_404_page_leads_somewhere(client):
    response = client.get("/no-such-page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "申し訳ございません" in html and 'href="/"' in html and "0120-00-6560" in html
