"""The emulator's rich menu in real Chromium: synced on first sight, drawn from the uploaded image, tappable."""

from __future__ import annotations

import os

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
    assert labels == ["登録する", "ログインして連携", "よくある質問", "お問い合わせ"]
    assert menu.locator(".richmenu-bar").inner_text().startswith("メニュー")

    tap_menu(page, "よくある質問", "マイページの登録に費用はかかりますか")
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
