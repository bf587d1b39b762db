"""The emulator's layout in real Chromium: on a phone the chat keeps the screen, nothing is wider than it,
on a desktop the chat and the staff pane are side by side, and every time shown is Japan's.

The phone checks run in a Chromium that draws classic scrollbars (Playwright hides them by default):
a desktop browser narrowed to 420 px has one, and its 15 px are what pushed a Flex bubble over.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from storage.timezone import TOKYO
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.emulator.test_emulator_browser import (  # noqa: F401  (fixtures)
    TIMEOUT_MS,
    browser,
    live_emulator,
    open_emulator,
    say,
)

PHONES = [(390, 844), (420, 900)]
NARROW_WIDTHS = [360, 375, 390, 414, 420]

# Where things are, in CSS pixels of the viewport.
MEASURE = """() => {
  const box = (selector) => {
    const node = document.querySelector(selector);
    if (!node || !node.getClientRects().length) return null;
    const r = node.getBoundingClientRect();
    return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height };
  };
  const chat = box('#chat');
  return {
    innerWidth, innerHeight,
    chatVisible: Math.max(0, Math.min(chat.bottom, innerHeight) - Math.max(chat.top, 0)),
    composer: box('#composer'), bar: box('.richmenu-bar'), canvas: box('.richmenu-canvas'),
    staff: box('#pane-staff'), staffInput: box('#staff-input'),
  };
}"""

# Anything wider than its place: the page, <main>, the chat log, a Flex bubble past the chat's edges.
OVERFLOW = """() => {
  const problems = [];
  const page = document.scrollingElement;
  if (page.scrollWidth > page.clientWidth || page.scrollWidth > innerWidth) {
    problems.push(`page ${page.scrollWidth} > ${page.clientWidth}`);
  }
  for (const selector of ['#panes', '#pane-chat', '.phone', '#chat']) {
    const node = document.querySelector(selector);
    if (node.scrollWidth > node.clientWidth) problems.push(`${selector} ${node.scrollWidth} > ${node.clientWidth}`);
  }
  const chat = document.getElementById('chat').getBoundingClientRect();
  for (const bubble of document.querySelectorAll('#chat .fx-bubble, #chat .bubble')) {
    const r = bubble.getBoundingClientRect();
    if (r.left < chat.left - 0.5 || r.right > chat.right + 0.5) {
      problems.push(`${bubble.className} ${r.left}..${r.right} outside the chat ${chat.left}..${chat.right}`);
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def scrollbar_browser(browser):  # noqa: F811 - the fixture
    """Chromium drawing classic scrollbars, as a desktop browser does (Playwright's default hides them).

    Launched through the ``browser`` fixture's Playwright: a second sync Playwright may not run beside it.
    """
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                           ignore_default_args=["--hide-scrollbars"])
    yield chromium
    chromium.close()


def _link_to_demo_customer(application, line_user_id: str) -> None:
    """Link the LINE user to the first demo customer's account (made on first use; a later link moves it)."""
    from bot.demo import DEMO_CUSTOMERS
    from storage import repositories
    from storage.models import Account

    now = datetime.now(TOKYO)
    with application.extensions["db"].begin() as db:
        customer = repositories.find_customer(db, DEMO_CUSTOMERS[0].customer_number)
        account = customer.account
        if account is None:
            account = Account(customer_id=customer.id, login_id="layout_taro", login_id_key="layout_taro",
                              email="taro@example.jp", nickname="たろう", password_hash="x", status="active",
                              session_version=1, created_at=now, activated_at=now)
            db.add(account)
            db.flush()
        repositories.link_line_user(db, account, line_user_id, now)


def _phone_with_a_bill_card(chromium, application, base: str, width: int, height: int, **context_options):
    """A new LINE user at ``width``×``height``, linked, with 今月の料金's Flex card in the chat and the menu open."""
    context = chromium.new_context(viewport={"width": width, "height": height}, locale="ja-JP", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    open_emulator(page, base)
    menu = page.locator("[data-testid=richmenu]")
    menu.locator(".richmenu-area").first.wait_for(state="visible")
    page.wait_for_function("() => { const i = document.querySelector('[data-testid=richmenu] img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    _link_to_demo_customer(application, page.locator("#user-id").inner_text())
    say(page, "今月の料金", "明細を見る")
    page.locator(".row.bot").last.locator(".fx-bubble").wait_for()
    return context, page


@pytest.mark.parametrize(("width", "height"), PHONES)
def test_on_a_phone_the_chat_keeps_most_of_the_screen(live_emulator, scrollbar_browser, width, height):
    application, base = live_emulator
    context, page = _phone_with_a_bill_card(scrollbar_browser, application, base, width, height)
    try:
        menu = page.locator("[data-testid=richmenu]")
        assert menu.locator(".richmenu-canvas").is_visible()  # the menu opens by itself (selected: true)
        opened = page.evaluate(MEASURE)
        assert opened["chatVisible"] >= 0.5 * height, opened
        # the input, the chat bar and the whole menu are on the screen, not below it
        for part in ("composer", "bar", "canvas"):
            assert 0 <= opened[part]["top"] and opened[part]["bottom"] <= height + 0.5, (part, opened)
        assert menu.locator(".richmenu-bar").get_attribute("aria-expanded") == "true"

        menu.locator(".richmenu-bar").click()  # LINE's chat bar folds the menu away
        assert menu.locator(".richmenu-canvas").is_hidden()
        assert menu.locator(".richmenu-bar").get_attribute("aria-expanded") == "false"
        folded = page.evaluate(MEASURE)
        assert folded["chatVisible"] >= 0.7 * height, folded
        assert folded["composer"]["bottom"] <= height + 0.5, folded

        menu.locator(".richmenu-bar").click()  # and back
        assert menu.locator(".richmenu-canvas").is_visible()
        # the menu still works at its phone size
        before = page.locator(".row.bot").count()
        menu.locator(".richmenu-area").first.click()
        page.wait_for_function("n => document.querySelectorAll('.row.bot').length > n", arg=before)
        assert page.problems == []
    finally:
        context.close()


def test_nothing_is_wider_than_a_phone_screen(live_emulator, scrollbar_browser):
    """360-420 px with a Flex bill card shown: no horizontal scrolling anywhere, every bubble inside the chat."""
    application, base = live_emulator
    context, page = _phone_with_a_bill_card(scrollbar_browser, application, base, NARROW_WIDTHS[-1], 900)
    try:
        for width in NARROW_WIDTHS:
            page.set_viewport_size({"width": width, "height": 800})
            page.wait_for_function("w => innerWidth === w", arg=width)
            assert page.evaluate(OVERFLOW) == [], width
        assert page.problems == []
    finally:
        context.close()


def test_on_a_desktop_the_chat_and_the_staff_pane_are_both_in_view(live_emulator, browser):
    _application, base = live_emulator
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        open_emulator(page, base)
        page.locator("[data-testid=richmenu] .richmenu-area").first.wait_for(state="visible")
        where = page.evaluate(MEASURE)
        assert 0 <= where["staff"]["top"] < 900, where
        assert where["staffInput"]["bottom"] <= 900, where  # staff can answer without scrolling
        assert where["composer"]["bottom"] <= 900 and where["canvas"]["bottom"] <= 900, where
        assert where["chatVisible"] >= 300, where
        assert where["staff"]["left"] >= where["composer"]["right"], where  # side by side
        assert page.evaluate("() => document.scrollingElement.scrollHeight <= innerHeight")
    finally:
        context.close()


def _tokyo(at: float, pattern: str) -> str:
    return datetime.fromtimestamp(at, TOKYO).strftime(pattern)


def test_times_are_japan_times_whatever_the_browsers_zone(live_emulator, browser):
    """Chat, raw log, mailbox and staff pane show Asia/Tokyo times in a browser set to New York."""
    from handlers.emulator.mailbox import add as dev_mailbox_add

    application, base = live_emulator
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ja-JP",
                                  timezone_id="America/New_York")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        open_emulator(page, base)
        assert page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"
        user_id = page.locator("#user-id").inner_text()
        entries, _last = application.extensions["emulator_log"].after(0)
        reply = [e for e in entries if e["kind"] == "api" and e["api"] == "reply" and user_id in e["users"]][0]
        shown = page.locator(".row.bot").first.locator(".time")
        assert shown.inner_text() == _tokyo(reply["at"], "%H:%M:%S")
        assert shown.get_attribute("title") == "日本時間"
        raw = page.locator("#raw-log summary", has_text="/v2/bot/message/reply").first.locator(".raw-time")
        assert raw.inner_text() == _tokyo(reply["at"], "%H:%M:%S")

        # A mail dated 01:02 JST on 5 December is 11:02 on the 4th in New York: the mailbox says the 5th, 01:02.
        dev_mailbox_add(application.extensions["redis"], {"to": "taro@example.jp", "subject": "時刻の確認",
                                                          "body": "本文", "date": "Sat, 05 Dec 2026 01:02:03 +0900"})
        mail = page.get_by_test_id("mailbox").locator(".mail", has_text="時刻の確認")
        mail.wait_for()
        assert "2026/12/5 01:02" in mail.locator(".mail-meta").inner_text()

        # The staff pane's escalation card: opened 16:02 UTC on the 4th is 01:02 on the 5th in Tokyo.
        application.extensions["emulator_log"].add(
            "staff", what="opened", users=[user_id], display_name="ユーザー1",
            payload={"reason": "asked", "linked": False, "opened_at": "2026-12-04T16:02:03+00:00", "recent": []})
        card = page.get_by_test_id("staff-log").locator(".staff-opened")
        card.wait_for()
        assert "受付: 12/5 01:02" in card.inner_text()
    finally:
        context.close()
