"""The password reset in real Chromium on the embedded database (issue 20, point 1).

Under ``make run`` (SQLite) the reset crashed with a 500: SQLite handed back naive datetimes that
``_spend`` compared with an aware ``now``. Here the app is served over HTTP on a migrated SQLite
file, as ``make run`` serves it (no Redis server, jobs in-process), with its mail going to this
test's SMTP server; the customer walks リマインダー → パスワードをお忘れの方 → the mailed link →
a new password, and signs in with it.

``live_mypage`` and ``phone`` are shared with the settings and accessibility browser tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pytest

from tests.emulator.test_emulator_browser import CHROMIUM, TIMEOUT_MS, browser  # noqa: F401 - fixtures
from tests.helpers_billing import PASSWORD, seed_customer_with_account, seed_statement
from tests.servers import Mailbox, make_run_config, served_app

PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 in portrait: the pages open in LINE's browser
NEW_PASSWORD = "Reset2027pw"


@dataclass
class LiveMyPage:
    """The served app, its URL, and what was seeded: Taro's account with two bills."""

    app: object
    base: str
    statement_ids: list[int]

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def live_mypage(tmp_path, smtp_server, mailbox):
    """The app as ``make run`` serves it (a migrated SQLite file, the in-process Redis stand-in, jobs
    in-process), over HTTP, its mail going to the ``mailbox`` fixture's SMTP server."""
    config = make_run_config(tmp_path, SECRET_KEY="mypage-browser-test-" + "k" * 32, SMTP_URL=smtp_server[1],
                             MAIL_FROM="あいコムこうかマイページ <noreply@aicom-koka.jp>", EMULATOR=False)
    with served_app(lambda base: dict(config, PUBLIC_BASE_URL=base)) as (application, base):
        application.extensions["redis"].flushall()  # the in-process stand-in may be shared between apps
        seeded = seed_customer_with_account(application)
        statement_ids = [
            seed_statement(application, seeded.customer_id, date(2026, month, 1),
                           [("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("セット割引", -550)],
                           due_date=date(2026, month, 27), payment_method="口座振替")
            for month in (10, 11)]
        yield LiveMyPage(application, base, statement_ids)


@pytest.fixture
def phone(browser):  # noqa: F811 - the fixture's name
    """A fresh browser context at a phone's width that records page errors and failed requests."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP", timezone_id="Asia/Tokyo")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.problems = []
    tab.on("pageerror", lambda error: tab.problems.append(f"page error: {error}"))
    tab.on("response", lambda response: tab.problems.append(f"{response.status} {response.url}")
           if response.status >= 500 else None)
    yield tab
    context.close()


def mailed_link(mailbox: Mailbox, count: int, pattern: str) -> str:
    """The first URL matching ``pattern`` in the ``count``-th mail (waits for it to arrive)."""
    messages = mailbox.wait(count, timeout=TIMEOUT_MS / 1000)
    assert len(messages) >= count, f"only {len(messages)} mail(s) arrived"
    found = re.search(pattern, Mailbox.body(messages[count - 1]))
    assert found, Mailbox.body(messages[count - 1])
    return found.group(0)


def sign_in(page, live: LiveMyPage, account_id: str = "aicom_taro", password: str = PASSWORD) -> None:
    """Log in through the form and wait for the お客様メニュー."""
    from playwright.sync_api import expect

    page.goto(live.url("/login"))
    page.get_by_label("アカウントID").fill(account_id)
    page.get_by_label("パスワード", exact=True).fill(password)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="お客様メニュー")).to_be_visible()


def test_password_reset_on_the_embedded_database(live_mypage, phone, mailbox):
    from playwright.sync_api import expect

    page = phone
    page.goto(live_mypage.url("/login"))
    page.get_by_role("link", name="リマインダー").click()
    expect(page.get_by_role("heading", name="リマインダー")).to_be_visible()
    page.get_by_role("link", name="パスワードをお忘れの方").click()
    page.get_by_label("アカウントIDまたはメールアドレス").fill("aicom_taro")
    page.get_by_role("button", name="送信する").click()
    expect(page.get_by_role("heading", name="ご案内をお送りしました")).to_be_visible()

    link = mailed_link(mailbox, 1, re.escape(live_mypage.base) + r"/reminder/password/reset\?t=\S+")
    page.goto(link)
    expect(page.get_by_role("heading", name="パスワードの再設定")).to_be_visible()
    page.get_by_label("新しいパスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("新しいパスワード（確認用）").fill(NEW_PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="パスワードを再設定する").click()
    assert posted.value.status == 200  # it was a 500 (「エラーが発生しました」) on SQLite
    expect(page.get_by_role("heading", name="パスワードを再設定しました")).to_be_visible()

    page.get_by_role("link", name="ログイン画面へ").click()
    page.get_by_label("アカウントID").fill("aicom_taro")
    page.get_by_label("パスワード", exact=True).fill(PASSWORD)  # the old one no longer works
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("alert")).to_contain_text("アカウントIDまたはパスワードが正しくありません")
    page.get_by_label("パスワード", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_role("heading", name="お客様メニュー")).to_be_visible()

    page.goto(link)  # the link was spent
    expect(page.get_by_role("alert")).to_contain_text("すでに使われています")
    assert page.problems == []
