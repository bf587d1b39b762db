"""アカウント設定 in real Chromium at a phone's width (issue 20, point 2), on the embedded database.

From the お客様メニュー: the password change (which signs out another browser), the mail address
change confirmed through the link mailed to the new address (opened in another browser, as on the
phone's mail app), and the nickname change. ``SAVE_SCREENSHOTS=1`` writes the README's
docs/screenshots/settings*.png.
"""

from __future__ import annotations

import os
import re

from tests.emulator.test_emulator_browser import SCREENSHOTS, TIMEOUT_MS, browser  # noqa: F401 - fixtures
from tests.helpers_billing import PASSWORD
from tests.servers import Mailbox
from tests.web.test_reset_browser import PHONE, live_mypage, mailed_link, phone, sign_in  # noqa: F401 - fixtures

NEW_PASSWORD = "Change2027pw"


def screenshot(page, name: str, tmp_path) -> None:
    """A full-page screenshot under tmp_path and, with SAVE_SCREENSHOTS=1, for the README."""
    page.screenshot(path=str(tmp_path / name), full_page=True)
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide at a {PHONE['width']}px screen"


def _change_password(page, other, other_page, live_mypage, mailbox, tmp_path) -> None:
    """パスワード変更: a mismatch first, then the change; the other device (``other``, signed in) is signed out."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="パスワードを変更する").click()
    page.get_by_label("現在のパスワード").fill(PASSWORD)
    page.get_by_label("新しいパスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認のためもう一度）").fill(NEW_PASSWORD + "x")
    page.get_by_role("button", name="パスワードを変更する").click()
    expect(page.get_by_role("alert")).to_contain_text("確認用のパスワードが一致しません")
    expect(page.get_by_label("新しいパスワード（確認のためもう一度）")).to_have_attribute("aria-invalid", "true")
    no_horizontal_scroll(page)
    screenshot(page, "settings-password.png", tmp_path)
    page.get_by_label("現在のパスワード").fill(PASSWORD)
    page.get_by_label("新しいパスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認のためもう一度）").fill(NEW_PASSWORD)
    page.get_by_role("button", name="パスワードを変更する").click()
    expect(page.get_by_role("heading", name="パスワードを変更しました")).to_be_visible()
    assert "パスワード変更のお知らせ" in mailbox.wait(1, timeout=TIMEOUT_MS / 1000)[0]["Subject"]
    other_page.goto(live_mypage.url("/mypage"))
    expect(other_page.get_by_role("heading", name="会員ログイン")).to_be_visible()
    other.close()


def _change_email(page, browser, live_mypage, mailbox, tmp_path) -> None:
    """メールアドレス変更: the link goes to the new address and changes it only when posted."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="アカウント設定へ戻る").click()
    page.get_by_role("link", name="メールアドレスを変更する").click()
    page.get_by_label("現在のパスワード").fill(NEW_PASSWORD)
    page.get_by_label("新しいメールアドレス").fill("taro.new@example.com")
    screenshot(page, "settings-email.png", tmp_path)
    page.get_by_role("button", name="確認メールを送る").click()
    expect(page.get_by_role("heading", name="確認メールをお送りしました")).to_be_visible()
    link = mailed_link(mailbox, 2, re.escape(live_mypage.base) + r"/mypage/settings/email/confirm\?t=\S+")
    assert mailbox.messages[1]["To"] == "taro.new@example.com"
    mail_app = browser.new_context(viewport=PHONE, locale="ja-JP")  # opened from the phone's mail, not signed in
    mail_app.set_default_timeout(TIMEOUT_MS)
    confirm_page = mail_app.new_page()
    confirm_page.goto(link)
    expect(confirm_page.get_by_role("heading", name="メールアドレスの変更")).to_be_visible()
    expect(confirm_page.locator("main")).to_contain_text("taro.new@example.com")
    no_horizontal_scroll(confirm_page)
    screenshot(confirm_page, "settings-email-confirm.png", tmp_path)
    page.goto(live_mypage.url("/mypage/settings"))  # nothing has changed yet
    expect(page.locator(".account-facts")).to_contain_text("taro@example.jp")
    confirm_page.get_by_role("button", name="変更する").click()
    expect(confirm_page.get_by_role("heading", name="メールアドレスを変更しました")).to_be_visible()
    mail_app.close()
    old_notice = mailbox.wait(3, timeout=TIMEOUT_MS / 1000)[2]
    assert old_notice["To"] == "taro@example.jp" and "メールアドレス変更のお知らせ" in old_notice["Subject"]
    assert "t***@example.com" in Mailbox.body(old_notice)
    page.reload()
    expect(page.locator(".account-facts")).to_contain_text("taro.new@example.com")


def _change_nickname(page, live_mypage, mailbox) -> None:
    """ニックネーム変更: an empty one refused, then the change, greeted by and told to the address in use."""
    from playwright.sync_api import expect

    page.get_by_role("link", name="ニックネームを変更する").click()
    page.get_by_label("新しいニックネーム").fill("")
    page.get_by_role("button", name="ニックネームを変更する").click()
    expect(page.get_by_role("alert")).to_contain_text("ニックネームは1〜20文字")
    page.get_by_label("新しいニックネーム").fill("じろう")
    page.get_by_role("button", name="ニックネームを変更する").click()
    expect(page.get_by_role("status")).to_contain_text("ニックネームを「じろう」に変更しました")
    page.goto(live_mypage.url("/mypage"))
    expect(page.locator(".greeting")).to_have_text("じろう 様")
    nickname_notice = mailbox.wait(4, timeout=TIMEOUT_MS / 1000)[3]
    assert nickname_notice["To"] == "taro.new@example.com"  # the address now in use


def test_the_account_settings_in_a_phone_browser(live_mypage, phone, browser, mailbox, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    page = phone
    other = browser.new_context(viewport=PHONE, locale="ja-JP")  # Taro's other device
    other.set_default_timeout(TIMEOUT_MS)
    other_page = other.new_page()
    sign_in(other_page, live_mypage)
    sign_in(page, live_mypage)

    page.get_by_role("link", name="アカウント設定").click()
    expect(page.get_by_role("heading", name="アカウント設定")).to_be_visible()
    expect(page.locator(".account-facts")).to_contain_text("taro@example.jp")
    no_horizontal_scroll(page)
    screenshot(page, "settings.png", tmp_path)

    _change_password(page, other, other_page, live_mypage, mailbox, tmp_path)
    _change_email(page, browser, live_mypage, mailbox, tmp_path)
    _change_nickname(page, live_mypage, mailbox)
    assert page.problems == []
