"""Issue 21.10 in real Chromium, through the emulator as `make run` serves it: the chat's
「ログインして連携」 opens our start URL, the login page names the LINE account, a forwarded URL
opened in another browser is refused, and moving a link from another LINE user is asked first
(「やめる」 changes nothing, 「連携を移す」 moves it)."""

from __future__ import annotations

import re

from tests.emulator.test_emulator_browser import (  # noqa: F401 - fixtures
    TIMEOUT_MS,
    bot_rows,
    browser,
    live_emulator,
    open_emulator,
    page,
    say,
    wait_for_bot,
)

START_AGAIN = "LINEのトーク画面から、もう一度「ログインして連携」を押してください"


def seed_web_account(application) -> int:
    """A web My Page account (web_taro) for the first demo customer, linked to nobody."""
    from sqlalchemy import select

    from bot.demo import DEMO_CUSTOMERS
    from storage.models import Customer
    from tests.helpers_billing import seed_account

    with application.extensions["db"].begin() as db:
        customer_id = db.scalar(select(Customer.id).where(Customer.customer_number
                                                          == DEMO_CUSTOMERS[0].customer_number))
    return seed_account(application, customer_id, login_id="web_taro")


def linked_user(application, account_id: int) -> str | None:
    from sqlalchemy import select

    from storage.models import LineLink

    with application.extensions["db"].begin() as db:
        return db.scalar(select(LineLink.line_user_id).where(LineLink.account_id == account_id))


def open_login(page, words: str = "ログインして連携"):
    """Ask the bot for the link and tap the button: the tab LINE's in-app browser would be."""
    say(page, words, "ログインして連携")
    button = page.locator(".fx-button", has_text="ログインして連携").last
    href = button.get_attribute("href")
    assert "/link/start?t=" in href and "linkToken" not in href
    with page.context.expect_page() as opened:
        button.click()
    tab = opened.value
    tab.wait_for_load_state()
    return tab, href


def sign_in(tab) -> None:
    from tests.helpers_billing import PASSWORD

    tab.fill("input[name=account_id]", "WEB_TARO")
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_load_state()


def test_linking_through_the_emulator_with_our_binding_and_the_confirm_step(live_emulator, page, browser):  # noqa: F811
    from playwright.sync_api import expect

    from bot import messages

    application, base = live_emulator
    account_id = seed_web_account(application)
    open_emulator(page, base)
    first_user = page.locator("#user-id").inner_text()

    # 1. The first LINE user links: the page names them; a forwarded URL is useless elsewhere.
    tab, href = open_login(page, "今月の料金")
    expect(tab.locator("#link-line-account")).to_have_text("ユーザー1")
    elsewhere = browser.new_context(locale="ja-JP")
    try:
        stranger = elsewhere.new_page()
        stranger.set_default_timeout(TIMEOUT_MS)
        stranger.goto(href)
        assert START_AGAIN in stranger.locator("body").inner_text()
        assert stranger.locator("form").count() == 0
    finally:
        elsewhere.close()
    sign_in(tab)
    tab.wait_for_url(re.compile(r"/emulator/account-link\?"))
    tab.close()
    page.bring_to_front()
    wait_for_bot(page, 0, "連携が完了しました")
    assert linked_user(application, account_id) == first_user

    # 2. A second LINE user logs in to the same account: asked first; 「やめる」 changes nothing.
    page.click("#add-user")
    wait_for_bot(page, 0, "ご用件をお選びください")
    second_user = page.locator("#user-id").inner_text()
    tab, _href = open_login(page)
    expect(tab.locator("#link-line-account")).to_have_text("ユーザー2")
    sign_in(tab)
    expect(tab.get_by_role("heading", name="LINEとの連携を移しますか")).to_be_visible()
    expect(tab.locator("#link-line-account")).to_contain_text("ユーザー2")
    tab.get_by_role("button", name="やめる").click()
    expect(tab.get_by_role("heading", name="連携を移すのをやめました")).to_be_visible()
    tab.close()
    assert linked_user(application, account_id) == first_user

    # 3. Again, and 「連携を移す」: the link moves; the first LINE user is told why.
    page.bring_to_front()
    before = bot_rows(page).count()
    tab, _href = open_login(page)
    sign_in(tab)
    tab.get_by_role("button", name="連携を移す").click()
    tab.wait_for_url(re.compile(r"/emulator/account-link\?"))
    assert "エミュレーターのトークに戻ってください" in tab.locator("body").inner_text()
    tab.close()
    page.bring_to_front()
    wait_for_bot(page, before, "連携が完了しました")
    assert linked_user(application, account_id) == second_user
    page.select_option("#user-select", first_user)
    wait_for_bot(page, 0, messages.LINK_MOVED_PUSH.splitlines()[0])
    assert page.problems == []
