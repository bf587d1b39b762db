"""The emulator in real Chromium, served as `make run` serves it: SQLite, no Redis server, jobs in-process.

Debian's /usr/bin/chromium is used (``playwright install`` cannot download here; ``make
browser`` installs it). ``SAVE_SCREENSHOTS=1`` writes docs/screenshots/emulator.png and
bill-detail.png from the full journey.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM
from tests.servers import make_run_config, served_app

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
TIMEOUT_MS = 20_000

# No skip when the browser is missing: `make test` installs it (`make browser`), and a
# silently skipped browser test would hide a broken install.
assert os.path.exists(CHROMIUM), "Debian's chromium is not installed: run `make browser` (make test does)"


@pytest.fixture
def live_emulator(tmp_path):
    """The app as `make run` runs it (SQLite file, in-process Redis stand-in, inline jobs), over HTTP."""
    config = make_run_config(tmp_path, SECRET_KEY="emulator-browser-test-" + "k" * 32, SMTP_URL=None, EMULATOR=True,
                             LINE_API_BASE_URL=None)  # derived: PUBLIC_BASE_URL + /emulator/line, as under make run
    with served_app(lambda base: dict(config, PUBLIC_BASE_URL=base)) as (application, base):
        application.extensions["redis"].flushall()  # the in-process stand-in may be shared between apps
        result = application.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        yield application, base


@pytest.fixture(scope="module")
def browser(chromium):
    """Chromium (one for the whole run: ``chromium`` in tests/conftest.py); tests open their own contexts."""
    return chromium


@pytest.fixture
def page(browser):
    """A fresh browser context (own localStorage: a new LINE user) that records page errors."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ja-JP")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on("console", lambda msg: tab.problems.append(f"console {msg.type}: {msg.text}")
           if msg.type == "error" else None)
    yield tab
    context.close()


def bot_rows(page):
    return page.locator(".row.bot")


def wait_for_bot(page, before: int, expected: str) -> None:
    """Wait until a bot message newer than the first ``before`` rows contains ``expected``."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "([n, text]) => Array.from(document.querySelectorAll('.row.bot')).slice(n)"
            ".some(row => row.textContent.includes(text))",
            arg=[before, expected], timeout=TIMEOUT_MS)
    except PlaywrightTimeout:
        last = page.locator("#chat").inner_text()[-600:]
        raise AssertionError(f"no bot message with {expected!r}; the chat ends with:\n{last}") from None


def say(page, text: str, expected: str) -> None:
    """Type ``text`` and send it; wait for a bot answer containing ``expected``."""
    before = bot_rows(page).count()
    page.fill("#message-input", text)
    page.press("#message-input", "Enter")
    wait_for_bot(page, before, expected)


def tap_quick_reply(page, label: str, expected: str) -> None:
    before = bot_rows(page).count()
    page.locator("#quick-replies .chip", has_text=label).click()
    wait_for_bot(page, before, expected)


def open_emulator(page, base: str) -> None:
    page.goto(base + "/emulator")
    wait_for_bot(page, 0, "ご用件をお選びください")  # a new user is added as a friend: greeting and menu


# -- the first steps -----------------------------------------------------------------------------
def test_help_shows_the_menu_and_quick_replies_work(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    assert "友だち追加ありがとうございます" in page.locator("#chat").inner_text()

    say(page, "ヘルプ", "ご用件をお選びください")
    user_bubbles = page.locator(".row.user .user-bubble")
    assert user_bubbles.last.inner_text() == "ヘルプ"
    chips = page.locator("#quick-replies .chip")
    assert "登録" in chips.all_inner_texts()

    tap_quick_reply(page, "登録", "お客様番号")
    assert user_bubbles.last.inner_text() == "登録"
    assert page.problems == []


def test_demo_customers_and_panes_are_shown(live_emulator, page):
    from bot.demo import DEMO_CUSTOMERS

    _app, base = live_emulator
    open_emulator(page, base)
    guide = page.locator("#demo-customers")
    first = DEMO_CUSTOMERS[0]
    for value in (first.customer_number, first.phone, first.name_kana):
        assert value in guide.inner_text()
    guide.locator("button.fill", has_text=first.customer_number).click()
    assert page.input_value("#message-input") == first.customer_number
    tabs = page.locator("#pane-tabs .tab").all_inner_texts()
    assert tabs == ["チャット", "はじめに", "メールボックス", "スタッフ", "ログ"]
    page.locator("#pane-tabs .tab", has_text="ログ").click()
    assert page.locator("#pane-raw").is_hidden()
    page.locator("#pane-tabs .tab", has_text="ログ").click()
    assert page.locator("#pane-raw").is_visible()
    # the raw log shows the follow webhook and the reply call
    raw = page.locator("#raw-log").inner_text()
    assert "webhook follow" in raw and "/v2/bot/message/reply" in raw
    # a pane added later (staff) reads the same log from its own script
    kinds = page.evaluate("() => new Promise(done => window.LineEmulator.onEntries(es => done(es.map(e => e.kind))))")
    assert "webhook" in kinds and "api" in kinds
    assert page.problems == []


def test_several_users_sticker_image_and_block(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    first_user = page.locator("#user-id").inner_text()
    page.click("#send-sticker")
    page.wait_for_selector(".user-bubble.sticker")
    page.click("#add-user")
    wait_for_bot(page, 0, "ご用件をお選びください")
    second_user = page.locator("#user-id").inner_text()
    assert re.fullmatch(r"U[0-9a-f]{32}", second_user) and second_user != first_user
    assert page.locator(".user-bubble.sticker").count() == 0  # each user has their own chat
    page.click("#send-image")
    page.wait_for_selector(".user-bubble.image")
    page.click("#unfollow")
    page.wait_for_selector(".system-note:has-text('ブロックしました')")
    assert page.locator("#follow-status").inner_text() == "ブロック中"
    page.select_option("#user-select", first_user)
    page.wait_for_selector(".user-bubble.sticker")
    assert page.problems == []


def push(base: str, body: dict, path: str = "/v2/bot/message/push") -> int:
    """Call the emulator's Messaging API as the bot would (status code back)."""
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(base + "/emulator/line" + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": "Bearer demo-channel-access-token"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our own server
            return response.status
    except urllib.error.HTTPError as refused:
        refused.close()
        return refused.code


def test_loading_indicator_pushes_and_postback_quick_replies(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    user_id = page.locator("#user-id").inner_text()
    assert push(base, {"chatId": user_id, "loadingSeconds": 20}, "/v2/bot/chat/loading/start") == 202
    page.locator("#loading").wait_for(state="visible")
    quick_reply = {"items": [{"type": "action", "action": {"type": "postback", "label": "メニューを見る",
                                                           "data": "menu=1", "displayText": "メニューを見せて"}}]}
    assert push(base, {"to": user_id, "messages": [{"type": "text", "text": "お知らせ\n二行目",
                                                    "quickReply": quick_reply}]}) == 200
    page.locator(".bot-bubble.text", has_text="二行目").wait_for()
    page.locator("#loading").wait_for(state="hidden")  # a message ends the animation
    assert page.locator(".row.bot").last.locator(".via").inner_text() == "プッシュ"
    assert page.locator(".bot-bubble.text", has_text="二行目").inner_text() == "お知らせ\n二行目"
    page.locator("#quick-replies .chip", has_text="メニューを見る").click()
    page.wait_for_selector(".user-bubble:has-text('メニューを見せて')")  # postback: displayText shown, data sent
    page.locator("#raw-log summary", has_text="webhook postback").first.wait_for()
    assert page.problems == []


def test_flex_boxes_buttons_and_carousels_render(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    user_id = page.locator("#user-id").inner_text()
    bubble = {"type": "bubble", "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
        {"type": "text", "text": "見出し", "weight": "bold", "size": "xl", "color": "#00703C"},
        {"type": "box", "layout": "baseline", "contents": [
            {"type": "icon", "url": "https://example.jp/i.png"},
            {"type": "text", "text": "内容", "flex": 0, "margin": "sm"}]},
        {"type": "separator"},
        {"type": "box", "layout": "horizontal", "contents": [
            {"type": "text", "text": "左", "flex": 3}, {"type": "text", "text": "右", "flex": 2, "align": "end"}]},
    ]}, "footer": {"type": "box", "layout": "vertical", "contents": [
        {"type": "button", "style": "primary",
         "action": {"type": "message", "label": "ヘルプを送る", "text": "ヘルプ"}},
        {"type": "button", "style": "link", "action": {"type": "uri", "label": "開く", "uri": base + "/healthz"}},
    ]}}
    message = {"type": "flex", "altText": "カード", "contents": {"type": "carousel", "contents": [bubble, bubble]}}
    assert push(base, {"to": user_id, "messages": [message]}) == 200
    carousel = page.locator(".fx-carousel").last
    carousel.wait_for()
    assert carousel.locator(".fx-bubble").count() == 2
    first = carousel.locator(".fx-bubble").first
    heading = first.locator(".fx-text", has_text="見出し")
    assert heading.evaluate("n => getComputedStyle(n).color") == "rgb(0, 112, 60)"
    assert heading.evaluate("n => getComputedStyle(n).fontWeight") == "700"
    assert first.locator(".fx-text", has_text="内容").bounding_box()["width"] > 10  # flex 0: its own width
    left = first.locator(".fx-text", has_text="左").bounding_box()["width"]
    right = first.locator(".fx-text", has_text="右").bounding_box()["width"]
    assert abs(left / right - 1.5) < 0.1  # flex 3 : 2
    assert first.locator(".fx-separator").count() == 1
    assert first.locator("a.fx-button", has_text="開く").get_attribute("target") == "_blank"
    before = bot_rows(page).count()
    first.locator("button.fx-button", has_text="ヘルプを送る").click()
    wait_for_bot(page, before, "ご用件をお選びください")
    assert page.problems == []


def test_a_rejected_message_is_marked(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    user_id = page.locator("#user-id").inner_text()
    assert push(base, {"to": user_id, "messages": [{"type": "text", "text": "x" * 5001}]}) == 400
    marker = page.locator(".reject-marker")
    marker.wait_for()
    assert marker.inner_text().startswith("LINE would reject this:")
    assert "5000" in marker.inner_text()
    assert page.locator(".row.rejected .bot-bubble").inner_text() == "x" * 5001  # what was refused
    # (the rich menu sync of a fresh emulator may log its own 404 for "no default menu yet")
    assert page.locator("#raw-log details.raw-bad", has_text="/v2/bot/message/push").count() == 1


def test_bot_text_is_never_parsed_as_html(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    user_id = page.locator("#user-id").inner_text()
    text = '<img src=x onerror="window.hacked=1"> see https://example.jp/a?b=1 ok'
    assert push(base, {"to": user_id, "messages": [{"type": "text", "text": text}]}) == 200
    bubble = page.locator(".bot-bubble.text", has_text="onerror")
    bubble.wait_for()
    assert bubble.inner_text() == text
    assert bubble.locator("img").count() == 0
    assert bubble.locator("a").get_attribute("href") == "https://example.jp/a?b=1"
    assert page.evaluate("window.hacked") is None


# -- the whole journey ------------------------------------------------------------------------------
def test_full_journey_register_mail_password_bill(live_emulator, page):
    """Register through the chat, finish 本登録 from the mailbox, ask 今月の料金, open 明細を見る."""
    from bot.demo import DEMO_CUSTOMERS

    _app, base = live_emulator
    customer = DEMO_CUSTOMERS[0]
    open_emulator(page, base)

    say(page, "登録", "お客様番号")
    say(page, customer.customer_number, "電話番号")
    say(page, customer.phone, "カナ")
    say(page, customer.name_kana, "アカウントID")
    say(page, "demo_taro", "メールアドレス")
    say(page, customer.email, "ニックネーム")
    say(page, "たろう", "アカウントID：demo_taro")  # the confirmation
    page.locator("#quick-replies .chip", has_text="仮登録する").wait_for()
    tap_quick_reply(page, "仮登録する", "仮登録が完了しました")

    mail = page.locator("#mailbox .mail", has_text="仮登録受付完了")
    mail.wait_for()
    link = mail.locator("a.link").first
    assert link.get_attribute("href").startswith(base + "/")
    with page.context.expect_page() as opened:
        link.click()
    register_page = opened.value
    register_page.wait_for_load_state()
    register_page.fill("input[name=password]", "Koka2026-demo!")
    register_page.fill("input[name=password_confirm]", "Koka2026-demo!")
    register_page.locator("form button[type=submit], form input[type=submit]").first.click()
    register_page.wait_for_load_state()
    done_text = register_page.locator("body").inner_text()
    assert "本登録が完了しました" in done_text, done_text
    register_page.close()

    page.bring_to_front()
    wait_for_bot(page, 0, "登録が完了しました")  # the push after 本登録
    say(page, "今月の料金", "円")
    card = bot_rows(page).last.locator(".fx-bubble")
    card.wait_for()
    assert re.search(r"\d{1,3}(,\d{3})*円", card.inner_text())
    detail_button = card.locator(".fx-button", has_text="明細を見る")
    assert detail_button.get_attribute("href").startswith(base + "/")
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.set_viewport_size({"width": 1600, "height": 1080})  # the four panes side by side
        page.evaluate("() => { const asked = Array.from(document.querySelectorAll('.row.user')).pop();"
                      " const chat = document.getElementById('chat');"
                      " chat.scrollTop = asked.offsetTop - chat.offsetTop - 8; }")  # the question, then the card
        page.screenshot(path=str(SCREENSHOTS / "emulator.png"))

    with page.context.expect_page() as opened:
        detail_button.click()
    detail = opened.value
    detail.wait_for_load_state()
    assert re.search(r"\d{1,3}(,\d{3})*円", detail.locator("body").inner_text())
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        detail.set_viewport_size({"width": 420, "height": 900})
        detail.screenshot(path=str(SCREENSHOTS / "bill-detail.png"), full_page=True)
    detail.close()
    assert page.problems == []


def test_account_link_for_a_web_customer(live_emulator, page):
    """A web My Page customer asks for the bill, logs in from the chat's button, and is linked (no real LINE)."""
    from sqlalchemy import select

    from bot.demo import DEMO_CUSTOMERS
    from storage.models import Customer
    from tests.helpers_billing import PASSWORD, seed_account

    application, base = live_emulator
    with application.extensions["db"].begin() as db:
        customer_id = db.scalar(select(Customer.id).where(Customer.customer_number
                                                          == DEMO_CUSTOMERS[0].customer_number))
    seed_account(application, customer_id, login_id="web_taro")
    open_emulator(page, base)

    say(page, "今月の料金", "ログインして連携")
    button = page.locator(".fx-button", has_text="ログインして連携").last
    assert "/link/start?t=" in button.get_attribute("href") and "linkToken" not in button.get_attribute("href")
    with page.context.expect_page() as opened:
        button.click()
    login_page = opened.value
    login_page.wait_for_load_state()
    assert "LINEとマイページを連携します" in login_page.locator("body").inner_text()
    assert login_page.locator("#link-line-account").inner_text() == "ユーザー1"  # the emulator's display name
    login_page.fill("input[name=account_id]", "WEB_TARO")
    login_page.fill("input[name=password]", PASSWORD)
    login_page.locator("form button[type=submit]").click()
    login_page.wait_for_url(re.compile(r"/emulator/account-link\?"))
    assert ("LINEアカウントとの連携手続きを送信しました。エミュレーターのトークに戻ってください。"
            in login_page.locator("body").inner_text())
    login_page.locator("a.back-to-emulator").wait_for()
    login_page.close()

    page.bring_to_front()
    wait_for_bot(page, 0, "連携が完了しました")
    assert page.locator(".system-note", has_text="LINEアカウント連携の手続きをしました").count() == 1
    say(page, "今月の料金", "円")
    assert bot_rows(page).last.locator(".fx-bubble").count() == 1
    assert page.problems == []
