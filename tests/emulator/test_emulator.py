"""The local LINE emulator's JSON endpoints: off means 404, loopback only, real signed webhooks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from app import create_app
from handlers.emulator.mailbox import add as dev_mailbox_add
from handlers.emulator.webhook_events import build_event, sign, ulid
from storage.models import Customer
from tests.conftest import empty_tables
from tests.line_driver import ACCESS_TOKEN, CHANNEL_SECRET, drain_events
from tests.servers import served_app

USER = "U" + "0123456789abcdef" * 2
OTHER = "U" + "fedcba9876543210" * 2


@pytest.fixture
def emulator(app_config):
    """The app with the emulator on, served over HTTP in a thread (the emulator posts to /callback)."""
    def config_for(base: str) -> dict:
        return dict(app_config, EMULATOR=True, PUBLIC_BASE_URL=base, LINE_API_BASE_URL=base + "/emulator/line",
                    SMTP_URL=None, JOBS_INLINE=True)

    with served_app(config_for) as (application, base):
        with application.extensions["db"].engine.begin() as conn:
            empty_tables(conn)
        application.extensions["redis"].flushdb()
        application.config["TEST_BASE_URL"] = base
        yield application


@pytest.fixture
def emu(emulator):
    """A test client whose requests carry the server thread's host (so /callback is reachable)."""
    client = emulator.test_client()
    base = emulator.config["TEST_BASE_URL"]

    class Client:
        """Each call first lets the event workers' turn come (the answers of what was sent)."""

        app = emulator

        def get(self, path, **kw):
            drain_events(emulator)
            response = client.get(path, base_url=base, **kw)
            drain_events(emulator)  # the account-link page posts a webhook
            return response

        def post(self, path, **kw):
            response = client.post(path, base_url=base, **kw)
            drain_events(emulator)
            return response

        def send(self, **payload):
            response = client.post("/emulator/api/send", json=payload, base_url=base)
            assert response.status_code == 200, response.get_data(as_text=True)
            drain_events(emulator)
            return response.get_json()

        def log(self, user=None, after=0):
            query = f"?after={after}" + (f"&user={user}" if user else "")
            return client.get("/emulator/api/log" + query, base_url=base).get_json()

    return Client()


# -- off, and only for loopback ----------------------------------------------------------------
@pytest.mark.parametrize("path", ["/emulator", "/emulator/api/log", "/emulator/api/mailbox",
                                  "/emulator/api/messages?user=" + USER, "/emulator/api/demo-customers",
                                  "/emulator/account-link?linkToken=abcdefgh&nonce=0123456789ab"])
def test_emulator_is_404_when_off(client, path):
    assert client.get(path).status_code == 404


def test_send_and_fake_line_are_404_when_off(client):
    assert client.post("/emulator/api/send", json={"user": USER, "type": "text", "text": "ヘルプ"}).status_code == 404
    assert client.post("/emulator/line/v2/bot/message/push", json={}).status_code == 404


def test_emulator_is_off_by_default(monkeypatch, app_config):
    monkeypatch.delenv("EMULATOR", raising=False)
    monkeypatch.delenv("DEMO_DEFAULTS", raising=False)
    config = {k: v for k, v in app_config.items() if k != "EMULATOR"}
    application = create_app(config)
    try:
        assert application.config["EMULATOR"] is False
        assert application.test_client().get("/emulator").status_code == 404
    finally:
        application.extensions["db"].engine.dispose()
        application.extensions["redis"].close()


@pytest.mark.parametrize("environ, headers", [
    ({"REMOTE_ADDR": "192.0.2.10"}, {}),
    ({"REMOTE_ADDR": "10.0.0.1"}, {}),
    ({"REMOTE_ADDR": "127.0.0.1"}, {"X-Forwarded-For": "203.0.113.5"}),
])
def test_emulator_answers_loopback_clients_only(emu, environ, headers):
    for path in ("/emulator", "/emulator/api/log", "/emulator/api/mailbox",
                 "/emulator/account-link?linkToken=abcdefgh&nonce=0123456789ab"):
        assert emu.get(path, environ_base=environ, headers=headers).status_code == 403
    response = emu.post("/emulator/api/send", json={"user": USER, "type": "text", "text": "ヘルプ"},
                        environ_base=environ, headers=headers)
    assert response.status_code == 403
    assert emu.log()["entries"] == []


def test_ipv6_loopback_is_allowed(emu):
    assert emu.get("/emulator/api/log", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


# -- the page ------------------------------------------------------------------------------------
def test_page_has_no_inline_script_or_style_and_lists_customers(emu):
    with emu.app.extensions["db"].begin() as session:
        now = datetime.now(UTC)
        session.add(Customer(customer_number="12345678", phone="0748621234", name_kana="アイコム　タロウ",
                             created_at=now, updated_at=now))
    response = emu.get("/emulator")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None  # every script is a file
    assert "<style" not in html and " style=" not in html
    assert "/static/emulator.js" in html and "/static/emulator.css" in html
    try:
        from bot.demo import DEMO_CUSTOMERS
    except ImportError:
        DEMO_CUSTOMERS = None  # noqa: N806
    expected = DEMO_CUSTOMERS[0].customer_number if DEMO_CUSTOMERS else "12345678"
    assert expected in html
    customers = emu.get("/emulator/api/demo-customers").get_json()["customers"]
    assert customers[0]["customer_number"] == expected
    assert set(customers[0]) == {"customer_number", "phone", "name_kana", "note"}


def test_static_files_are_served(emu):
    for name in ("emulator.js", "emulator.css"):
        response = emu.get("/static/" + name)
        assert response.status_code == 200
        response.close()


# -- webhook bodies --------------------------------------------------------------------------------
def test_ulid_is_26_crockford_characters_in_time_order():
    first, second = ulid(1_700_000_000_000), ulid(1_700_000_000_001)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first)
    assert first[:10] < second[:10]


def test_signature_is_base64_hmac_sha256():
    from tests.line_driver import sign as reference_sign

    body = b'{"events":[]}'
    assert sign(body, CHANNEL_SECRET) == reference_sign(body, CHANNEL_SECRET)


def test_text_event_has_every_field_line_sends():
    event = build_event(USER, "text", text="ヘルプ", now_ms=1_700_000_000_000)
    assert set(event) == {"type", "message", "webhookEventId", "deliveryContext", "timestamp", "source",
                          "replyToken", "mode"}
    assert event["type"] == "message" and event["mode"] == "active"
    assert set(event["message"]) == {"id", "type", "text", "quoteToken"}
    assert event["message"]["text"] == "ヘルプ" and event["message"]["id"].isdigit()
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert event["source"] == {"type": "user", "userId": USER}
    assert event["timestamp"] == 1_700_000_000_000
    assert re.fullmatch(r"[0-9a-f]{32}", event["replyToken"])


def test_unfollow_has_no_reply_token():
    assert "replyToken" not in build_event(USER, "unfollow")


def test_events_parse_with_the_line_sdk():
    from linebot.v3 import WebhookParser
    from linebot.v3.webhooks import (
        FollowEvent,
        ImageMessageContent,
        MessageEvent,
        PostbackEvent,
        StickerMessageContent,
        TextMessageContent,
        UnfollowEvent,
    )

    events = [build_event(USER, kind, text="x", data="a=1")
              for kind in ("text", "sticker", "image", "postback", "follow", "unfollow")]
    body = json.dumps({"destination": OTHER, "events": events})
    parsed = WebhookParser(CHANNEL_SECRET).parse(body, sign(body.encode(), CHANNEL_SECRET))
    assert [type(e) for e in parsed] == [MessageEvent, MessageEvent, MessageEvent, PostbackEvent, FollowEvent,
                                         UnfollowEvent]
    assert isinstance(parsed[0].message, TextMessageContent)
    assert isinstance(parsed[1].message, StickerMessageContent)
    assert isinstance(parsed[2].message, ImageMessageContent)
    assert parsed[3].postback.data == "a=1"


# -- send -> /callback -> fake Messaging API -> log ------------------------------------------------
def test_send_posts_a_signed_webhook_that_callback_accepts(emu):
    answer = emu.send(user=USER, type="text", text="ヘルプ")
    assert answer["status"] == 200
    entries = emu.log(USER)["entries"]
    webhook = next(e for e in entries if e["kind"] == "webhook")
    assert json.loads(webhook["raw"]) == webhook["body"]
    assert webhook["signature"] == sign(webhook["raw"].encode(), CHANNEL_SECRET)  # the bytes /callback got
    assert re.fullmatch(r"U[0-9a-f]{32}", webhook["body"]["destination"])
    assert webhook["body"]["events"][0]["webhookEventId"] == answer["webhookEventId"]
    callback = next(e for e in entries if e["kind"] == "callback")
    assert callback["status"] == 200
    replies = [e for e in entries if e["kind"] == "api" and e["api"] == "reply"]
    assert len(replies) == 1 and replies[0]["status"] == 200 and replies[0]["users"] == [USER]
    menu = replies[0]["body"]["messages"][0]
    assert "ご用件をお選びください" in menu["text"]
    assert menu["quickReply"]["items"]
    assert [e["kind"] for e in entries].index("webhook") < [e["kind"] for e in entries].index("api")


def test_messages_endpoint_returns_what_the_user_received(emu):
    emu.send(user=USER, type="text", text="ヘルプ")
    emu.send(user=OTHER, type="text", text="メニュー")
    data = emu.get(f"/emulator/api/messages?user={USER}&after=0").get_json()
    assert len(data["messages"]) == 1 and data["messages"][0]["api"] == "reply"
    later = emu.get(f"/emulator/api/messages?user={USER}&after={data['last']}").get_json()
    assert later["messages"] == []


@pytest.mark.parametrize("kind, extra", [
    ("sticker", {}), ("image", {}), ("follow", {}), ("unfollow", {}),
    ("postback", {"data": "action=menu", "displayText": "メニュー"}),
])
def test_other_events_reach_the_handler(emu, kind, extra):
    answer = emu.send(user=USER, type=kind, **extra)
    assert answer["status"] == 200
    webhook = next(e for e in emu.log(USER)["entries"] if e["kind"] == "webhook")
    event = webhook["body"]["events"][0]
    assert webhook["event"] == kind
    assert event["type"] == {"sticker": "message", "image": "message"}.get(kind, kind)
    if kind == "postback":
        assert event["postback"] == {"data": "action=menu"}
        assert webhook["displayText"] == "メニュー"


def test_follow_gets_the_greeting_in_the_users_chat(emu):
    emu.send(user=USER, type="follow")
    replies = [e for e in emu.log(USER)["entries"] if e["kind"] == "api" and e["api"] == "reply"]
    assert "友だち追加ありがとうございます" in replies[0]["body"]["messages"][0]["text"]
    assert emu.log(OTHER)["entries"] == []


@pytest.mark.parametrize("payload, error", [
    ({"user": "U123", "type": "text", "text": "x"}, "user"),
    ({"user": USER, "type": "video"}, "type"),
    ({"user": USER, "type": "text", "text": ""}, "text"),
    ({"user": USER, "type": "postback"}, "data"),
])
def test_send_refuses_bad_requests(emu, payload, error):
    response = emu.post("/emulator/api/send", json=payload)
    assert response.status_code == 400
    assert error in response.get_json()["error"]


def test_send_needs_json(emu):
    assert emu.post("/emulator/api/send", data="user=U&type=text").status_code == 400


def test_profile_uses_the_emulator_users_name(emu):
    emu.send(user=USER, type="text", text="ヘルプ", displayName="テスト花子")
    response = emu.get(f"/emulator/line/v2/bot/profile/{USER}", headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    assert response.get_json()["displayName"] == "テスト花子"


# -- what the page renders from the log --------------------------------------------------------------
def _api(emu, path, body):
    return emu.post("/emulator/line" + path, json=body, headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})


def test_multicast_shows_in_each_users_chat(emu):
    body = {"to": [USER, OTHER], "messages": [{"type": "text", "text": "お知らせです"}]}
    assert _api(emu, "/v2/bot/message/multicast", body).status_code == 200
    for user in (USER, OTHER):
        (entry,) = emu.log(user)["entries"]
        assert entry["api"] == "multicast" and entry["status"] == 200
        data = emu.get(f"/emulator/api/messages?user={user}").get_json()
        assert data["messages"][0]["message"]["text"] == "お知らせです"


def test_push_and_loading_are_logged_for_the_user(emu):
    assert _api(emu, "/v2/bot/chat/loading/start", {"chatId": USER, "loadingSeconds": 5}).status_code == 202
    assert _api(emu, "/v2/bot/message/push", {"to": USER, "messages": [{"type": "text", "text": "後から"}]}
                ).status_code == 200
    kinds = [(e["api"], e["status"]) for e in emu.log(USER)["entries"]]
    assert kinds == [("loading", 200), ("push", 200)]


def test_rejected_call_is_logged_with_lines_errors(emu):
    body = {"to": USER, "messages": [{"type": "text", "text": str(i)} for i in range(6)]}
    response = _api(emu, "/v2/bot/message/push", body)
    assert response.status_code == 400
    (entry,) = emu.log(USER)["entries"]
    assert entry["status"] == 400 and entry["errors"]
    assert len(entry["body"]["messages"]) == 6  # the page shows what was refused
    assert emu.get(f"/emulator/api/messages?user={USER}").get_json()["messages"] == []


def test_log_after_returns_only_newer_entries(emu):
    emu.send(user=USER, type="text", text="ヘルプ")
    last = emu.log()["last"]
    assert emu.log(after=last)["entries"] == []
    emu.send(user=USER, type="text", text="ヘルプ")
    newer = emu.log(after=last)["entries"]
    assert newer and all(e["seq"] > last for e in newer)


def test_mailbox_shows_the_dev_mailbox_newest_first(emu):
    redis = emu.app.extensions["redis"]
    dev_mailbox_add(redis, {"to": "a@example.jp", "subject": "一通目", "body": "https://x.example/1", "date": "d1"})
    dev_mailbox_add(redis, {"to": "b@example.jp", "subject": "二通目", "body": "本文", "date": "d2"})
    data = emu.get("/emulator/api/mailbox").get_json()
    assert [m["subject"] for m in data["mails"]] == ["二通目", "一通目"]
    assert data["smtp"] is False


def test_callback_unreachable_is_reported_not_raised(emu):
    # A page opened through a non-loopback host name falls back to PUBLIC_BASE_URL.
    emu.app.config["PUBLIC_BASE_URL"] = "http://127.0.0.1:9"  # discard port: nothing listens
    client = emu.app.test_client()
    response = client.post("/emulator/api/send", json={"user": USER, "type": "text", "text": "ヘルプ"},
                           base_url="http://emulator.invalid")
    assert response.status_code == 200
    assert response.get_json()["status"] == 0
    callback = [e for e in emu.log(USER)["entries"] if e["kind"] == "callback"]
    assert callback[0]["status"] == 0

