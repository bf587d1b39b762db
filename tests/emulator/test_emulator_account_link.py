"""LINE's account-link dialog, played by the emulator: the round trip, single use, expiry, bad requests."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from app import create_app
from handlers.emulator.webhook_events import build_event, sign
from tests.emulator.test_emulator import OTHER, USER, emu, emulator  # noqa: F401 - fixtures
from tests.line_driver import CHANNEL_SECRET

LINKED_TEXT = "連携が完了しました"
FAILED_TEXT = "連携を完了できませんでした"


@pytest.fixture
def web_customer(emulator):
    """Registered on the web My Page before the bot: an active account, this month's bill, no LINE link."""
    from tests.helpers_billing import TOKYO, seed_customer_with_account, seed_statement

    seeded = seed_customer_with_account(emulator)
    this_month = datetime.now(TOKYO).date().replace(day=1)
    seed_statement(emulator, seeded.customer_id, this_month, [("基本料金", 5280)], payment_method="口座振替")
    return seeded


def _uris(value) -> list[str]:
    """Every ``uri`` action anywhere in a message (text buttons are Flex bubbles)."""
    if isinstance(value, dict):
        found = [value["uri"]] if value.get("type") == "uri" and "uri" in value else []
        return found + [u for v in value.values() for u in _uris(v)]
    if isinstance(value, list):
        return [u for v in value for u in _uris(v)]
    return []


def _delivered(emu, user, after=0) -> list[dict]:
    return [m["message"] for m in emu.get(f"/emulator/api/messages?user={user}&after={after}").get_json()["messages"]]


def _login_url_from_chat(emu, user=USER) -> str:
    """Ask for this month's bill while unlinked; the 「ログインして連携」 button's URL (our start URL)."""
    last = emu.log()["last"]
    assert emu.send(user=user, type="text", text="今月の料金")["status"] == 200
    uris = [u for m in _delivered(emu, user, last) for u in _uris(m) if "/link/start?t=" in u]
    assert len(uris) == 1, _delivered(emu, user, last)
    return uris[0]


def _web_login(emu, login_url: str, password: str | None = None):
    """A browser: open the chat's start URL (its cookie binds the link attempt; then the login page),
    post the form, return the redirect."""
    import re
    from urllib.parse import urlsplit

    from tests.helpers_billing import PASSWORD, csrf_from

    browser = emu.app.test_client()
    base = emu.app.config["TEST_BASE_URL"]
    url = urlsplit(login_url)
    assert f"{url.scheme}://{url.netloc}" == base and url.path == "/link/start"
    page = browser.get(f"{url.path}?{url.query}", base_url=base, follow_redirects=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "LINEとマイページを連携します" in html
    link = re.search(r'name="link" value="([0-9a-f]{64})"', html).group(1)
    return browser.post("/login", base_url=base, data={
        "csrf_token": csrf_from(html), "account_id": "aicom_taro", "password": password or PASSWORD,
        "link": link})


def _account_link_path(emu, response) -> str:
    from urllib.parse import urlsplit

    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    base = emu.app.config["TEST_BASE_URL"]
    assert f"{target.scheme}://{target.netloc}{target.path}" == base + "/emulator/account-link"
    return f"{target.path}?{target.query}"


def _line_link(emu, user=USER):
    from sqlalchemy import select

    from storage.models import LineLink

    with emu.app.extensions["db"].begin() as db:
        link = db.scalar(select(LineLink).where(LineLink.line_user_id == user))
        return link.account_id if link else None


def _account_link_webhooks(emu, user=USER) -> list[dict]:
    return [e["body"]["events"][0] for e in emu.log(user)["entries"]
            if e["kind"] == "webhook" and e["event"] == "accountLink"]


def test_emulator_is_the_account_link_url(emu):
    assert emu.app.config["LINE_ACCOUNT_LINK_URL"] == emu.app.config["TEST_BASE_URL"] + "/emulator/account-link"


def test_a_configured_account_link_url_is_kept(app_config):
    application = create_app(dict(app_config, EMULATOR=True, LINE_ACCOUNT_LINK_URL="https://example.jp/link"))
    try:
        assert application.config["LINE_ACCOUNT_LINK_URL"] == "https://example.jp/link"
    finally:
        application.extensions["db"].engine.dispose()
        application.extensions["redis"].close()


def test_without_the_emulator_login_goes_to_line(app):
    assert not app.config.get("LINE_ACCOUNT_LINK_URL")


def test_account_link_round_trip(emu, web_customer):
    login_url = _login_url_from_chat(emu)
    issued = emu.app.extensions["emulator_recorder"].accepted("link_token", USER)
    assert len(issued) == 1 and issued[0].body["linkToken"] not in login_url  # the link token stays ours
    assert _line_link(emu) is None

    path = _account_link_path(emu, _web_login(emu, login_url))
    last = emu.log()["last"]
    page = emu.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "LINEアカウントとの連携手続きを送信しました。エミュレーターのトークに戻ってください。" in html
    assert 'href="/emulator"' in html
    assert _line_link(emu) == web_customer.account_id

    (event,) = _account_link_webhooks(emu)
    assert set(event) == {"type", "mode", "timestamp", "source", "webhookEventId", "deliveryContext", "replyToken",
                          "link"}
    assert event["type"] == "accountLink" and event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": USER}
    assert event["link"]["result"] == "ok" and event["link"]["nonce"] in path
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", event["webhookEventId"])
    callback = [e for e in emu.log(USER, after=last)["entries"] if e["kind"] == "callback"]
    assert callback[0]["status"] == 200
    (done,) = _delivered(emu, USER, last)
    assert LINKED_TEXT in done["text"]

    last = emu.log()["last"]
    emu.send(user=USER, type="text", text="今月の料金")
    card = _delivered(emu, USER, last)[0]
    assert card["type"] == "flex" and card["altText"].endswith("のご請求金額は5,280円です")


def test_link_token_is_single_use(emu, web_customer):
    path = _account_link_path(emu, _web_login(emu, _login_url_from_chat(emu)))
    assert emu.get(path).status_code == 200
    last = emu.log()["last"]
    again = emu.get(path)
    assert again.status_code == 410
    assert "すでに使われています" in again.get_data(as_text=True)
    failed = _account_link_webhooks(emu)[-1]
    assert failed["link"]["result"] == "failed" and "replyToken" not in failed  # LINE: no reply token on failure
    recorder = emu.app.extensions["emulator_recorder"]
    assert recorder.wait_for(lambda r: any(FAILED_TEXT in m.get("text", "") for m in _delivered(emu, USER, last)))
    assert recorder.accepted(user_id=USER)[-1].kind == "push"  # no reply token: the bot pushes
    assert _line_link(emu) == web_customer.account_id  # the first link stands


def test_expired_link_token_fails(emu, web_customer):
    login_url = _login_url_from_chat(emu)
    (issued,) = emu.app.extensions["emulator_recorder"].accepted("link_token", USER)
    path = _account_link_path(emu, _web_login(emu, login_url))
    # The emulator keeps issued link tokens in Redis (any process may be asked): age this one.
    from storage.keys import emulator_key as _emu_key

    client, key = emu.app.extensions["redis"], _emu_key("link", issued.body["linkToken"])
    record = json.loads(client.get(key))
    client.set(key, json.dumps({**record, "at": record["at"] - (10 * 60 + 1)}))
    response = emu.get(path)
    assert response.status_code == 410
    assert "有効期限" in response.get_data(as_text=True)
    assert _account_link_webhooks(emu)[-1]["link"]["result"] == "failed"
    assert _line_link(emu) is None


def test_unknown_link_token_sends_nothing(emu):
    last = emu.log()["last"]
    response = emu.get("/emulator/account-link?linkToken=NotIssuedByTheEmulator&nonce=0123456789abcdef")
    assert response.status_code == 404
    assert "不明なリンクトークン" in response.get_data(as_text=True)
    assert emu.log(after=last)["entries"] == []


@pytest.mark.parametrize("query", ["", "?linkToken=abcdefgh", "?nonce=0123456789ab",
                                   "?linkToken=abc%20def&nonce=0123456789ab", "?linkToken=abcdefgh&nonce=short"])
def test_account_link_needs_a_link_token_and_a_nonce(emu, query):
    last = emu.log()["last"]
    assert emu.get("/emulator/account-link" + query).status_code == 400
    assert emu.log(after=last)["entries"] == []


def test_account_link_events_parse_with_the_line_sdk():
    from linebot.v3 import WebhookParser
    from linebot.v3.webhooks import AccountLinkEvent

    events = [build_event(USER, "accountLink", link={"result": "ok", "nonce": "n" * 43}),
              build_event(USER, "accountLink", link={"result": "failed", "nonce": "n" * 43})]
    assert "replyToken" in events[0] and "replyToken" not in events[1]
    body = json.dumps({"destination": OTHER, "events": events})
    parsed = WebhookParser(CHANNEL_SECRET).parse(body, sign(body.encode(), CHANNEL_SECRET))
    assert all(isinstance(e, AccountLinkEvent) for e in parsed)
    assert [e.link.result for e in parsed] == ["ok", "failed"]
    assert parsed[0].link.nonce == "n" * 43 and parsed[0].reply_token

