"""The emulator's rich menu in real Chromium: synced on first sight, drawn from the uploaded image, tappable."""

from __future__ import annotations

import os

from storage.timezone import TOKYO
from tests.emulator.test_emulator_browser import (  # noqa: F401  (fixtures)
    SCREENSHOTS,
    TIMEOUT_MS,
    browser,
    live_emulator,
    open_emulator,
    page,
    wait_for_bot,
)


def tap_menu(page, label: str, expected: str) -> None:
    before = page.locator(".row.bot").count()
    page.locator(f"[data-testid=richmenu] .richmenu-area[data-label='{label}']").click()
    wait_for_bot(page, before, expected)


def test_the_newcomers_menu_is_shown_and_its_areas_answer(live_emulator, page):
    _app, base = live_emulator
    open_emulator(page, base)
    menu = page.locator("[data-testid=richmenu]")
    menu.locator(".richmenu-area").first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_function("() => { const i = document.querySelector('[data-testid=richmenu] img');"
                           " return i && i.complete && i.naturalWidth === 2500; }")
    labels = [b.get_attribute("data-label") for b in menu.locator(".richmenu-area").all()]
    assert labels == ["登録する", "ログインして連携", "よくある質問", "オペレーターと話す"]
    assert menu.locator(".richmenu-bar").inner_text().startswith("メニュー")

    tap_menu(page, "よくある質問", "よくあるご質問です")  # seed-demo imported the default FAQ: its questions
    assert page.locator(".row.user .user-bubble").last.inner_text() == "よくある質問"
    tap_menu(page, "ログインして連携", "ログインすると、このLINEとマイページを連携できます")
    tap_menu(page, "登録する", "お客様番号")
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        page.locator(".phone").screenshot(path=str(SCREENSHOTS / "emulator-richmenu.png"))
    # the chat bar folds the menu away and back, as in LINE
    menu.locator(".richmenu-bar").click()
    assert menu.locator(".richmenu-canvas").is_hidden()
    menu.locator(".richmenu-bar").click()
    assert menu.locator(".richmenu-canvas").is_visible()
    assert page.problems == []


def _link_demo_customer(application, line_user_id: str) -> None:
    """Give the emulator's user a linked account for the first demo customer (as 本登録 would)."""
    from datetime import datetime
    
    from bot.demo import DEMO_CUSTOMERS
    from storage import repositories
    from storage.models import Account

    now = datetime.now(TOKYO)
    with application.extensions["db"].begin() as db:
        customer = repositories.find_customer(db, DEMO_CUSTOMERS[0].customer_number)
        account = Account(customer_id=customer.id, login_id="demo_taro", login_id_key="demo_taro",
                          email="taro@example.jp", nickname="たろう", password_hash="x", status="active",
                          session_version=1, created_at=now, activated_at=now)
        db.add(account)
        db.flush()
        repositories.link_line_user(db, account, line_user_id, now)


def test_a_linked_customer_gets_the_other_menu_and_its_taps_work(live_emulator, page):
    application, base = live_emulator
    open_emulator(page, base)
    menu = page.locator("[data-testid=richmenu]")
    menu.locator(".richmenu-area[data-label='登録する']").wait_for(state="visible", timeout=TIMEOUT_MS)
    _link_demo_customer(application, page.locator("#user-id").inner_text())
    page.click("#follow")  # following again shows the menu that fits: the linked customers' one
    menu.locator(".richmenu-area[data-label='今月の料金']").wait_for(state="visible", timeout=TIMEOUT_MS)
    labels = [b.get_attribute("data-label") for b in menu.locator(".richmenu-area").all()]
    assert labels == ["今月の料金", "料金一覧", "通知設定", "マイページ", "オペレーターと話す", "ヘルプ"]
    tap_menu(page, "今月の料金", "明細を見る")
    tap_menu(page, "料金一覧", "ご利用料金の一覧")
    with page.expect_popup() as popup:
        menu.locator(".richmenu-area[data-label='マイページ']").click()
    opened = popup.value
    opened.wait_for_load_state()
    assert opened.url.startswith(base + "/login") and "会員ログイン" in opened.content()
    assert page.problems == []
