"""The web pages against WCAG 2.1 AA, checked by axe-core in real Chromium (issue 20).

axe-core comes with ``axe-playwright-python``; every page a customer meets (login, the reminder
and its sub-pages, the password reset, 本登録, the bill list and detail, the account settings)
is loaded at a phone's width and at a desktop's, with and without an error shown, and must
have no violation of the rules tagged wcag2a, wcag2aa, wcag21a and wcag21aa.
"""

from __future__ import annotations

import pytest

from storage import accounts, logins
from storage.models import Account
from tests.emulator.test_emulator_browser import TIMEOUT_MS, browser  # noqa: F401 - fixtures
from tests.helpers_billing import PASSWORD, TOKYO, seed_customer, seed_link, start_link
from tests.web.test_reset_browser import PHONE, live_mypage, sign_in  # noqa: F401 - fixtures

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1280, "height": 900}


def violations(page) -> list[str]:
    """axe-core's WCAG 2.1 AA violations on the page, one readable line per offending element."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA},
                                       "resultTypes": ["violations"]})
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"]:
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {node['target']}"
                         f" — {node.get('failureSummary', '').splitlines()[-1:]}")
    return found


def tokens(live) -> dict[str, str]:
    """A password reset link of Taro's, a 本登録 link of a newcomer's provisional account, and a LINE
    account-link start URL for another LINE user than the one Taro is linked to."""
    from datetime import datetime

    now = datetime.now(TOKYO)
    customer_id = seed_customer(live.app, number="10023456", phone="0748632345", name_kana="コウカ\u3000ハナコ")
    with live.app.extensions["db"].begin() as db:
        taro = db.query(Account).filter_by(login_id_key="aicom_taro").one()
        reset = logins.issue_reset_link(db, taro, now)
        change = accounts.request_email_change(db, taro, "taro.new@example.com", now)
        _account, register = accounts.create_provisional(
            db, customer_id=customer_id, login_id="hanako_k", email="hanako@example.jp", nickname="はなこ",
            line_user_id="U" + "0" * 32, now=now, ttl_seconds=86400)
        taro_id = taro.id
    seed_link(live.app, taro_id, "U" + "1" * 32)
    link = start_link(live.app, "U" + "2" * 32)
    return {"reset": reset, "register": register, "email": change, "link": link}


def pages(live, links: dict[str, str]) -> list[tuple[str, str, dict]]:
    """(name, path, what to do there) for every page checked; ``submit`` posts the form as it is."""
    bill, _older = live.statement_ids[1], live.statement_ids[0]
    return [
        ("login", "/login", {}),
        ("login with an error", "/login", {"fill": {"アカウントID": "nobody"}, "submit": "ログイン"}),
        ("link: start again", "/login?link=1", {"title": "LINEとの連携をやり直してください"}),
        ("login to link LINE", links["link"], {"title": "会員ログイン"}),
        ("reminder", "/reminder", {}),
        ("reminder: account ID", "/reminder/account-id", {}),
        ("reminder: account ID, error", "/reminder/account-id", {"submit": "送信する"}),
        ("reminder: password", "/reminder/password", {}),
        ("reminder: password, error", "/reminder/password", {"submit": "送信する"}),
        ("reminder: sent", "/reminder/password", {"fill": {"アカウントIDまたはメールアドレス": "nobody"},
                                                  "submit": "送信する"}),
        ("reset", "/reminder/password/reset?t=" + links["reset"], {}),
        ("reset, error", "/reminder/password/reset?t=" + links["reset"], {"submit": "パスワードを再設定する"}),
        ("reset, unknown link", "/reminder/password/reset?t=unknown", {}),
        ("本登録", "/register/complete/" + links["register"], {}),
        ("本登録, errors", "/register/complete/" + links["register"], {"submit": "本登録する"}),
        ("本登録, unknown link", "/register/complete/" + "x" * 43, {}),
        ("menu", "/mypage", {"login": True}),
        ("bill list", "/mypage/bills", {"login": True}),
        ("bill detail", f"/mypage/bills/{bill}", {"login": True}),
        ("settings", "/mypage/settings", {"login": True}),
        ("settings: password", "/mypage/settings/password", {"login": True}),
        ("settings: password, error", "/mypage/settings/password", {"login": True, "submit": "パスワードを変更する"}),
        ("settings: mail address", "/mypage/settings/email", {"login": True}),
        ("settings: mail address, error", "/mypage/settings/email", {"login": True, "submit": "確認メールを送る"}),
        ("settings: nickname", "/mypage/settings/nickname", {"login": True}),
        ("settings: nickname, error", "/mypage/settings/nickname",
         {"login": True, "fill": {"新しいニックネーム": ""}, "submit": "ニックネームを変更する"}),
        ("settings: confirm the address", "/mypage/settings/email/confirm?t=" + links["email"], {}),
        ("settings: address link unknown", "/mypage/settings/email/confirm?t=unknown", {}),
        ("withdraw", "/mypage/withdraw", {"login": True}),
        # Last: the link login signs in again, as Taro (linked to another LINE user: asked first).
        ("link: move the link?", links["link"], {"fill": {"アカウントID": "aicom_taro", "パスワード": PASSWORD},
                                                  "submit": "ログイン", "title": "LINEとの連携を移しますか"}),
        ("link: not moved", "/link/confirm", {"submit": "やめる", "title": "連携を移すのをやめました"}),
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_wcag_21_aa_violations(live_mypage, browser, viewport):  # noqa: F811 - the fixture's name
    links = tokens(live_mypage)
    found = {}
    context = browser.new_context(viewport=viewport, locale="ja-JP")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        signed_in = False
        for name, path, steps in pages(live_mypage, links):
            if steps.get("login") and not signed_in:
                sign_in(page, live_mypage)
                signed_in = True
            page.goto(live_mypage.url(path))
            for label, value in steps.get("fill", {}).items():
                page.get_by_label(label, exact=True).fill(value)
            if "submit" in steps:
                page.get_by_role("button", name=steps["submit"]).click()
                page.wait_for_load_state()
            title = page.title()
            assert "エラーが発生しました" not in title, f"{name}: {title}"
            assert not steps.get("login") or "会員ログイン" not in title, f"{name}: not signed in"
            assert steps.get("title", "") in title, f"{name}: {title}"
            problems = violations(page)
            if problems:
                found[name] = problems
    finally:
        context.close()
    assert found == {}, "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in found.items())


def test_axe_finds_what_is_wrong_on_our_pages(live_mypage, browser):  # noqa: F811 - the fixture's name
    """The check itself works under the pages' Content-Security-Policy: a picture without a text
    alternative and an unlabelled field put into the login page are reported."""
    context = browser.new_context(viewport=PHONE, locale="ja-JP")
    try:
        page = context.new_page()
        page.goto(live_mypage.url("/login"))
        assert violations(page) == []
        page.evaluate("""() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend', '<img src="/static/site.css"><input type="text" name="x">');
        }""")
        found = "\n".join(violations(page))
        assert "image-alt" in found and "label" in found
    finally:
        context.close()
