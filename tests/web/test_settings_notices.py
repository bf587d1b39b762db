"""What the mails and the LINE-link login say (issue 20, points 3 and 8).

Every mail ends with the one footer the 仮登録 mail has (``messages.MAIL_FOOTER``) and greets the
contract name, as the printed guide does (「アイコム タロウ 様」), not the nickname. The login page
that starts a LINE link says that an existing link of the account moves to this LINE.
"""

from __future__ import annotations

import re

import pytest

from bot import messages
from tests.helpers_billing import (  # noqa: F401  (fixtures)
    app_config,
    clock,
    post_form,
    seed_customer_with_account,
    start_link,
)
from tests.line_driver import drain_jobs
from tests.servers import Mailbox

GREETING = "アイコム\u3000タロウ 様"


@pytest.fixture
def taro(app):
    return seed_customer_with_account(app)  # nickname たろう, contract name アイコム　タロウ


def test_the_footer_is_one_text(app):
    assert messages.REGISTRATION_MAIL_BODY.endswith("\n" + messages.MAIL_FOOTER)
    assert "0120-00-6560（平日9:00〜17:00）" in messages.MAIL_FOOTER
    assert "送信専用" in messages.MAIL_FOOTER


@pytest.mark.parametrize("path, field, typed, subject", [
    ("/reminder/account-id", "email", "taro@example.jp", "【あいコムこうかマイページ】アカウントIDのお知らせ"),
    ("/reminder/password", "login", "aicom_taro", "【あいコムこうかマイページ】パスワード再設定のご案内"),
])
def test_reminder_mails_greet_the_contract_name_and_end_with_the_footer(app, client, mailbox, taro, path, field,
                                                                       typed, subject):
    post_form(client, path, **{field: typed})
    drain_jobs(app)
    [mail] = mailbox.wait(1)
    assert mail["Subject"] == subject
    body = Mailbox.body(mail)
    assert body.startswith(GREETING + "\n")
    assert "たろう" not in body  # the nickname is for the pages
    assert body.endswith("\n\n" + messages.MAIL_FOOTER)
    assert body.count("0120-00-6560") == 1  # the footer once, not a second copy of it


def test_the_login_that_starts_a_line_link_says_an_existing_link_would_move_after_asking(app, client):
    page = client.get(start_link(app, "U" + "0" * 32), follow_redirects=True).get_data(as_text=True)
    notice = re.sub(r"\s+", "", re.search(r'<div class="notice" id="link-notice">(.*?)</div>', page, re.S).group(1))
    assert "すでに別のLINEと連携している場合は、ログインの後で、連携をこのLINEに移すかどうかをお聞きします" in notice
    plain = client.get("/login").get_data(as_text=True)
    assert "このLINEに移す" not in plain
