"""The way in from the web: the login and reminder pages send newcomers to the LINE account to register."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from handlers.web.mypage.friend import add_friend


@pytest.fixture
def app_config(app_config):
    return dict(app_config, LINE_BASIC_ID="@aicomkoka")


ADD_FRIEND = "https://line.me/R/ti/p/%40aicomkoka"


@pytest.mark.parametrize("path", ["/login", "/reminder", "/reminder/account-id", "/reminder/password"])
def test_pages_show_the_add_friend_link_and_qr(client, path):
    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "初めてログインされる方" in html and "「<strong>登録</strong>」と送ってください" in html
    assert f'href="{ADD_FRIEND}"' in html
    qr = re.search(r'<img src="(data:image/svg\+xml[^"]+)"', html)
    assert qr and "<svg" in unquote(qr.group(1).split(",", 1)[1])
    # the CSP lets the QR code (a data: image) show, and nothing inline runs
    assert "img-src 'self' data:" in response.headers["Content-Security-Policy"]


def test_qr_code_is_drawn_from_the_add_friend_link():
    """The QR code on the page is the add-friend link's (no QR decoder here: compare with segno's own)."""
    import segno

    found = add_friend("@aicomkoka")
    assert found["url"] == ADD_FRIEND
    assert found["qr"] == segno.make(ADD_FRIEND, error="m").svg_data_uri(scale=5, border=2)
    assert found["qr_size"] == (segno.make(ADD_FRIEND, error="m").symbol_size(scale=1, border=2)[0]) * 5


def test_login_for_account_link_does_not_offer_the_add_friend_block(app, client):
    from tests.helpers_billing import start_link

    html = client.get(start_link(app, "U" + "0" * 32), follow_redirects=True).get_data(as_text=True)
    assert "LINEとマイページを連携します" in html and ADD_FRIEND not in html


def test_without_a_basic_id_the_block_is_left_out(make_app):
    application = make_app(LINE_BASIC_ID=None)
    html = application.test_client().get("/login").get_data(as_text=True)
    assert "初めてログインされる方" not in html



def test_customers_without_line_are_given_the_phone(client):
    """Issue 23: registration happens in LINE; a customer without LINE is told whom to call, and when."""
    from bot import messages

    html = client.get("/login").get_data(as_text=True)
    block = re.sub(r"<[^>]+>", "", html[html.index('id="add-friend"'):html.index("</section>")])
    assert "LINEをお使いでない方は" in block and messages.PHONE_DESK in block
