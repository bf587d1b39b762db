"""handlers.emulator.line_schema: LINE's OpenAPI spec (discriminators resolved) plus LINE's documented limits."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from bot.types import AccountLinkPrompt, BillCard, BillLine, BillList, BillListEntry, LinkButton, QuickReply, TextReply
from handlers.emulator import line_schema
from handlers.emulator.line_api_recorder import LineApiRecorder
from handlers.line.render import render, render_text
from tests.line_driver import LineUser


# -- bodies ---------------------------------------------------------------------------------
def text(value: str, **extra) -> dict:
    return {"type": "text", "text": value, **extra}


def quick_reply(*labels: str) -> dict:
    return {"items": [{"type": "action", "action": {"type": "message", "label": label, "text": label}}
                      for label in labels]}


def bill_bubble() -> dict:
    """A bubble shaped like the bill card: header/body/footer, sized and coloured texts, a uri button."""
    rows = [("インターネット 1G", "4,950円"), ("ケーブルテレビ", "3,300円"), ("セット割引", "-550円")]
    return {
        "type": "bubble",
        "size": "mega",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": "#0B6E4F", "paddingAll": "16px",
                   "contents": [
                       {"type": "text", "text": "2026年11月のご請求", "color": "#FFFFFF", "weight": "bold",
                        "size": "md"},
                       {"type": "text", "text": "あいコムこうか", "color": "#FFFFFFCC", "size": "xs"},
                   ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "box", "layout": "baseline", "contents": [
                {"type": "text", "text": "ご請求額", "size": "sm", "color": "#555555", "flex": 0},
                {"type": "text", "text": "7,700円", "size": "xxl", "weight": "bold", "align": "end"},
            ]},
            {"type": "separator", "margin": "md", "color": "#DDDDDD"},
            *[{"type": "box", "layout": "horizontal", "margin": "sm", "contents": [
                {"type": "text", "text": name, "size": "sm", "color": "#555555", "flex": 3, "wrap": True},
                {"type": "text", "text": amount, "size": "sm", "align": "end", "flex": 2},
            ]} for name, amount in rows],
            {"type": "separator", "margin": "md"},
            {"type": "text", "text": "お支払い期日：2026年12月27日（口座振替）", "size": "xs", "color": "#888888",
             "wrap": True, "margin": "md"},
        ]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "button", "style": "primary", "height": "sm", "color": "#0B6E4F",
             "action": {"type": "uri", "label": "明細をWebで見る", "uri": "https://example.jp/bill/abc?t=1"}},
            {"type": "button", "style": "link", "height": "sm",
             "action": {"type": "postback", "label": "他の月を見る", "data": "bill:list",
                        "displayText": "他の月を見る"}},
        ]},
        "styles": {"footer": {"separator": True, "separatorColor": "#EEEEEE"}},
    }


def flex(contents: dict, alt: str = "2026年11月のご請求：7,700円") -> dict:
    return {"type": "flex", "altText": alt, "contents": contents}


def reply(*messages: dict) -> dict:
    return {"replyToken": "a" * 32, "messages": list(messages)}


def bill_reply() -> dict:
    return reply(flex(bill_bubble()))


def changed(body: dict, path: str, value) -> dict:
    """A copy of ``body`` with the item at a dotted path (``messages.0.contents.body``) replaced or,
    for ``...``, deleted."""
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return body


BODY = "messages.0.contents.body"
FOOTER = "messages.0.contents.footer"

VALID = {
    "text": reply(text("こんにちは")),
    "text with quick reply": reply(text("ご用件をお選びください。", quickReply=quick_reply(
        "登録", "今月の料金", "オペレーターと話す", "キャンセル"))),
    "postback quick reply": reply(text("選んでください", quickReply={"items": [{"type": "action", "action": {
        "type": "postback", "label": "仮登録する", "data": "register:confirm", "displayText": "仮登録する"}}]})),
    "13 quick replies": reply(text("x", quickReply=quick_reply(*[f"ボタン{i}" for i in range(13)]))),
    "five messages": reply(*[text(str(i)) for i in range(5)]),
    "text of 5000": reply(text("あ" * 5000)),
    "flex bill bubble": bill_reply(),
    "altText of 1500": reply(flex(bill_bubble(), alt="x" * 1500)),
    "carousel": reply(flex({"type": "carousel", "contents": [bill_bubble() for _ in range(3)]})),
    "carousel of 12": reply(flex({"type": "carousel", "contents": [
        {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [text(f"{i}月")]}}
        for i in range(12)]})),
    "text made of spans": reply(flex({"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "contents": [{"type": "span", "text": "合計 "},
                                      {"type": "span", "text": "7,700円", "weight": "bold", "color": "#FF0000"}]},
    ]}})),
    "tel and line uris": reply(flex({"type": "bubble", "footer": {"type": "box", "layout": "vertical", "contents": [
        {"type": "button", "action": {"type": "uri", "label": "電話する", "uri": "tel:0120006560"}},
        {"type": "button", "action": {"type": "uri", "label": "友だち", "uri": "line://nv/chat"}},
    ]}})),
    "confirm template": reply({"type": "template", "altText": "確認", "template": {
        "type": "confirm", "text": "よろしいですか？", "actions": [
            {"type": "message", "label": "はい", "text": "はい"},
            {"type": "message", "label": "いいえ", "text": "いいえ"}]}}),
    "image hero and box action": reply(flex({"type": "bubble", "hero": {
        "type": "image", "url": "https://example.jp/a.png", "size": "full", "aspectRatio": "20:13",
        "aspectMode": "cover", "action": {"type": "uri", "uri": "https://example.jp/"}},
        "body": {"type": "box", "layout": "vertical", "paddingAll": "5%", "contents": [text("x")],
                 "action": {"type": "message", "label": "開く", "text": "開く"}}})),
    "push": {"to": "U" + "0" * 32, "messages": [text("お知らせ")], "notificationDisabled": False},
}

INVALID = [
    # (name, body, expected error (a substring of one of the errors))
    ("unknown message type", reply({"type": "txt", "text": "x"}), "messages[0].type: must be one of [text"),
    ("message without type", reply({"text": "x"}), "messages[0].type: must be specified"),
    ("missing text", reply({"type": "text"}), "messages[0].text: must be specified"),
    ("empty text", reply(text("")), "messages[0].text: must not be empty"),
    ("text not a string", reply(text(5)), "messages[0].text: must be a string"),
    ("text too long", reply(text("あ" * 5001)), "messages[0].text: size must be between 1 and 5000"),
    ("text too long in UTF-16", reply(text("🍎" * 2501)), "messages[0].text: size must be between 1 and 5000"),
    ("no messages", reply(), "messages: size must be between 1 and 5"),
    ("6 messages", reply(*[text(str(i)) for i in range(6)]), "messages: size must be between 1 and 5"),
    ("no reply token", {"messages": [text("x")]}, "replyToken: must be specified"),
    ("14 quick reply items", reply(text("x", quickReply=quick_reply(*[f"b{i}" for i in range(14)]))),
     "messages[0].quickReply.items: size must be between 1 and 13"),
    ("empty quick reply", reply(text("x", quickReply={"items": []})),
     "messages[0].quickReply.items: size must be between 1 and 13"),
    ("quick reply label of 21", reply(text("x", quickReply=quick_reply("あ" * 21))),
     "messages[0].quickReply.items[0].action.label: size must be between 1 and 20"),
    ("quick reply without label", reply(text("x", quickReply={"items": [
        {"type": "action", "action": {"type": "message", "text": "x"}}]})),
     "messages[0].quickReply.items[0].action.label: must be specified"),
    ("quick reply unknown action", reply(text("x", quickReply={"items": [
        {"type": "action", "action": {"type": "jump", "label": "x"}}]})),
     "messages[0].quickReply.items[0].action.type: must be one of [camera"),
    ("rich menu switch in a quick reply", reply(text("x", quickReply={"items": [{"type": "action", "action": {
        "type": "richmenuswitch", "label": "x", "richMenuAliasId": "a", "data": "d"}}]})),
     "messages[0].quickReply.items[0].action.type: must be one of [postback, message, uri, datetimepicker, camera"),
    ("camera action on a flex button", changed(bill_reply(), f"{FOOTER}.contents.0.action",
                                               {"type": "camera", "label": "写真"}),
     "messages[0].contents.footer.contents[0].action.type: must be one of [postback, message, uri, datetimepicker, "
     "clipboard] here"),
    ("text as a hero", changed(bill_reply(), "messages.0.contents.hero", text("x")),
     "messages[0].contents.hero.type: a hero must be a box, image or video"),
    ("confirm template with 3 actions", reply({"type": "template", "altText": "確認", "template": {
        "type": "confirm", "text": "よろしいですか？", "actions": [
            {"type": "message", "label": str(i), "text": str(i)} for i in range(3)]}}),
     "messages[0].template.actions: size must be 2"),
    ("message action without text", reply(text("x", quickReply={"items": [
        {"type": "action", "action": {"type": "message", "label": "x"}}]})),
     "messages[0].quickReply.items[0].action.text: must be specified"),
    ("message action text of 301", reply(text("x", quickReply={"items": [
        {"type": "action", "action": {"type": "message", "label": "x", "text": "a" * 301}}]})),
     "messages[0].quickReply.items[0].action.text: size must be between 1 and 300"),
    ("postback data of 301", changed(bill_reply(), f"{FOOTER}.contents.1.action.data", "d" * 301),
     "messages[0].contents.footer.contents[1].action.data: size must be between 0 and 300"),
    ("postback without data", changed(bill_reply(), f"{FOOTER}.contents.1.action.data", ...),
     "messages[0].contents.footer.contents[1].action.data: must be specified"),
    ("flex unknown component", changed(bill_reply(), f"{BODY}.contents.1", {"type": "widget"}),
     "messages[0].contents.body.contents[1].type: must be one of [box, button"),
    ("flex unknown container", changed(bill_reply(), "messages.0.contents.type", "bubbles"),
     "messages[0].contents.type: must be one of [bubble, carousel]"),
    ("box without layout", changed(bill_reply(), f"{BODY}.layout", ...),
     "messages[0].contents.body.layout: must be specified"),
    ("box without contents", changed(bill_reply(), f"{BODY}.contents", ...),
     "messages[0].contents.body.contents: must be specified"),
    ("bad layout value", changed(bill_reply(), f"{BODY}.layout", "grid"),
     "messages[0].contents.body.layout: must be one of [horizontal, vertical, baseline]"),
    ("button without action", changed(bill_reply(), f"{FOOTER}.contents.0.action", ...),
     "messages[0].contents.footer.contents[0].action: must be specified"),
    ("flex button without label", changed(bill_reply(), f"{FOOTER}.contents.0.action.label", ...),
     "messages[0].contents.footer.contents[0].action.label: must be specified"),
    ("flex button label of 41", changed(bill_reply(), f"{FOOTER}.contents.0.action.label", "x" * 41),
     "messages[0].contents.footer.contents[0].action.label: size must be between 1 and 40"),
    ("bad button style", changed(bill_reply(), f"{FOOTER}.contents.0.style", "danger"),
     "messages[0].contents.footer.contents[0].style: must be one of [primary, secondary, link]"),
    ("uri action with bad scheme", changed(bill_reply(), f"{FOOTER}.contents.0.action.uri", "javascript:alert(1)"),
     "messages[0].contents.footer.contents[0].action.uri: must be a URI with the scheme http, https, line or tel"),
    ("uri action relative", changed(bill_reply(), f"{FOOTER}.contents.0.action.uri", "/bill/abc"),
     "action.uri: must be a URI with the scheme"),
    ("uri action too long", changed(bill_reply(), f"{FOOTER}.contents.0.action.uri",
                                    "https://example.jp/" + "a" * 990),
     "messages[0].contents.footer.contents[0].action.uri: size must be between 0 and 1000"),
    ("uri action without uri", changed(bill_reply(), f"{FOOTER}.contents.0.action.uri", ...),
     "messages[0].contents.footer.contents[0].action.uri: must be specified"),
    ("bad color name", changed(bill_reply(), f"{BODY}.contents.1.color", "red"),
     "messages[0].contents.body.contents[1].color: must be a colour code #RRGGBB or #RRGGBBAA"),
    ("bad color length", changed(bill_reply(), "messages.0.contents.header.backgroundColor", "#0B6E4"),
     "messages[0].contents.header.backgroundColor: must be a colour code"),
    ("bad text size", changed(bill_reply(), f"{BODY}.contents.0.contents.1.size", "huge"),
     "messages[0].contents.body.contents[0].contents[1].size: must be xxs, xs, sm"),
    ("bad margin", changed(bill_reply(), f"{BODY}.contents.1.margin", "10"),
     "messages[0].contents.body.contents[1].margin: must be none, xs, sm"),
    ("bad weight", changed(bill_reply(), f"{BODY}.contents.0.contents.1.weight", "heavy"),
     "messages[0].contents.body.contents[0].contents[1].weight: must be one of [regular, bold]"),
    ("wrap not boolean", changed(bill_reply(), f"{BODY}.contents.2.contents.0.wrap", "yes"),
     "messages[0].contents.body.contents[2].contents[0].wrap: must be a boolean"),
    ("flex text empty", changed(bill_reply(), f"{BODY}.contents.0.contents.0.text", ""),
     "messages[0].contents.body.contents[0].contents[0].text: must not be empty"),
    ("flex text missing", changed(bill_reply(), f"{BODY}.contents.0.contents.0.text", ...),
     "messages[0].contents.body.contents[0].contents[0].text: must be specified"),
    ("separator in a baseline box", changed(bill_reply(), f"{BODY}.contents.0.contents.0", {"type": "separator"}),
     "messages[0].contents.body.contents[0].contents[0].type: a baseline box holds only icon, text and filler"),
    ("icon in a vertical box", changed(bill_reply(), f"{BODY}.contents.1",
                                       {"type": "icon", "url": "https://example.jp/i.png"}),
     "messages[0].contents.body.contents[1].type: icon belongs in a baseline box"),
    ("image over http", changed(bill_reply(), "messages.0.contents.hero",
                                {"type": "image", "url": "http://example.jp/a.png"}),
     "messages[0].contents.hero.url: must be an https URL"),
    ("bad bubble size", changed(bill_reply(), "messages.0.contents.size", "huge"),
     "messages[0].contents.size: must be one of [nano"),
    ("carousel of 13 bubbles", reply(flex({"type": "carousel", "contents": [
        {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [text("x")]}}
        for _ in range(13)]})), "messages[0].contents.contents: size must be between 1 and 12"),
    ("carousel holding a box", reply(flex({"type": "carousel", "contents": [
        {"type": "box", "layout": "vertical", "contents": []}]})),
     "messages[0].contents.contents[0].type: must be one of [bubble]"),
    ("bubble over 30 KB", changed(bill_reply(), f"{BODY}.contents.6.text", "あ" * 10_500),
     "messages[0].contents: JSON size must be at most 30000 bytes"),
    ("carousel over 50 KB", reply(flex({"type": "carousel", "contents": [
        {"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [text("あ" * 6000)]}}
        for _ in range(3)]})), "messages[0].contents: JSON size must be at most 50000 bytes"),
    ("altText missing", changed(bill_reply(), "messages.0.altText", ...), "messages[0].altText: must be specified"),
    ("altText empty", changed(bill_reply(), "messages.0.altText", ""), "messages[0].altText: must not be empty"),
    ("altText too long", changed(bill_reply(), "messages.0.altText", "x" * 1501),
     "messages[0].altText: size must be between 1 and 1500"),
    ("flex without contents", changed(bill_reply(), "messages.0.contents", ...),
     "messages[0].contents: must be specified"),
    ("push without to", {"messages": [text("x")]}, "to: must be specified"),
    ("not an object", [text("x")], "(body): must be an object"),
]


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
def test_valid_bodies_pass(body):
    schema = "PushMessageRequest" if "to" in body else "ReplyMessageRequest"
    assert line_schema.validate(schema, body) == []


@pytest.mark.parametrize(("body", "expected"), [(b, e) for _n, b, e in INVALID], ids=[n for n, _b, _e in INVALID])
def test_invalid_bodies_are_rejected_with_a_json_path(body, expected):
    schema = "PushMessageRequest" if isinstance(body, dict) and "to" in body else "ReplyMessageRequest"
    if "to" in expected:
        schema = "PushMessageRequest"
    errors = line_schema.validate(schema, body)
    assert any(expected in error for error in errors), errors


def test_one_error_per_problem_in_bill_order():
    body = changed(changed(bill_reply(), f"{BODY}.layout", "grid"), f"{BODY}.contents.1.color", "red")
    assert line_schema.validate("ReplyMessageRequest", body) == [
        "messages[0].contents.body.layout: must be one of [horizontal, vertical, baseline], not 'grid'",
        "messages[0].contents.body.contents[1].color: must be a colour code #RRGGBB or #RRGGBBAA",
    ]


def test_multicast_and_loading_bodies():
    assert line_schema.validate("MulticastRequest", {"to": ["U1", "U2"], "messages": [text("x")]}) == []
    assert line_schema.validate("MulticastRequest", {"to": [], "messages": [text("x")]}) == [
        "to: size must be between 1 and 500"]
    assert line_schema.validate("ShowLoadingAnimationRequest", {"chatId": "U1", "loadingSeconds": 20}) == []
    assert line_schema.validate("ShowLoadingAnimationRequest", {"chatId": "U1", "loadingSeconds": 7}) == [
        "loadingSeconds: must be a multiple of 5"]
    assert line_schema.validate("ShowLoadingAnimationRequest", {"chatId": "U1", "loadingSeconds": 65}) == [
        "loadingSeconds: must be between 5 and 60"]
    assert line_schema.validate("ShowLoadingAnimationRequest", {}) == ["chatId: must be specified"]


def test_unknown_schema_name_is_a_programming_error():
    with pytest.raises(KeyError):
        line_schema.validate("NoSuchRequest", {})


def test_validators_are_built_once():
    """Building a validator (the spec read, discriminators resolved) happens once per schema; every
    later body reuses it (how fast a bill bubble validates is bench/'s, not a test's)."""
    line_schema.validate("ReplyMessageRequest", bill_reply())
    built = line_schema._validator.cache_info().misses, line_schema._registry.cache_info().misses
    for _ in range(3):
        assert line_schema.validate("ReplyMessageRequest", bill_reply()) == []
    assert (line_schema._validator.cache_info().misses, line_schema._registry.cache_info().misses) == built


# -- what our own code sends ----------------------------------------------------------------
def test_render_text_with_link_buttons_validates():
    message = render_text(TextReply(
        "マイページにログインしてください。",
        quick_replies=(QuickReply("キャンセル", "キャンセル"),
                       QuickReply("仮登録する", "仮登録する", "register:confirm")),
        buttons=(LinkButton("マイページを開く", "https://example.jp/login?linkToken=abc"),
                 LinkButton("パスワードを再設定する", "http://127.0.0.1:8000/reset")),
    ))
    assert message["type"] == "flex"
    assert line_schema.validate("ReplyMessageRequest", reply(message)) == []
    assert line_schema.validate("PushMessageRequest", {"to": "U" + "1" * 32, "messages": [message]}) == []


def test_render_text_plain_validates():
    message = render_text(TextReply("こんにちは", quick_replies=(QuickReply("ヘルプ", "ヘルプ"),)))
    assert line_schema.validate("ReplyMessageRequest", reply(message)) == []


def _rendered(replies: list) -> list[dict]:
    return render(replies, link_url="https://example.jp/login?linkToken=abc")


def test_rendered_bill_card_and_list_validate():
    month = date(2026, 11, 1)
    items = tuple(BillLine(name, amount) for name, amount in [
        ("インターネット 1Gコース（光回線・集合住宅タイプ）月額利用料", 4950), ("ケーブルテレビ スタンダード", 3300),
        ("セット割引", -550), ("ユニバーサルサービス料", 3), ("電話 基本料", 1320), ("オプション", 550),
        ("機器レンタル", 440), ("工事費分割", 1100)])
    cards = [
        BillCard(month, 11113, items, "https://example.jp/bill/abc?t=x", date(2026, 12, 27), "口座振替",
                 note="お支払いは口座振替です。", quick_replies=(QuickReply("他の月を見る", "料金一覧"),)),
        BillCard(month, 0, (), "http://127.0.0.1:8000/bill/abc"),
    ]
    bill_list = BillList(tuple(BillListEntry(date(2026 - (i >= 11), (10 - i) % 12 + 1, 1), 7700 + i, f"料金 {i}")
                               for i in range(12)), quick_replies=(QuickReply("ヘルプ", "ヘルプ"),))
    messages = _rendered([*cards, bill_list])
    for message in messages:
        assert line_schema.validate("PushMessageRequest", {"to": "U" + "2" * 32, "messages": [message]}) == []


def test_account_link_prompt_without_a_url_is_refused():
    """render() without a link URL gives the button uri "", which LINE refuses."""
    message = render([AccountLinkPrompt("ログインしてください。", "ログイン")])[0]
    assert line_schema.validate("ReplyMessageRequest", reply(message)) == [
        "messages[0].contents.footer.contents[0].action.uri: must be a URI with the scheme http, https, line or tel"]
    linked = render([AccountLinkPrompt("ログインしてください。", "ログイン")], link_url="https://example.jp/login")[0]
    assert line_schema.validate("ReplyMessageRequest", reply(linked)) == []


def test_the_sdk_request_for_help_passes_the_fake_line(line_user, line_api):
    replies = line_user.say("ヘルプ")
    assert replies, "the bot answered nothing"
    refused = [(call.kind, call.errors) for call in line_api.calls if call.status == 400]
    assert refused == []
    for call in line_api.accepted("reply"):
        assert line_schema.validate("ReplyMessageRequest", call.body) == []


def test_the_fake_line_answers_400_to_an_invalid_body(line_api, fake_line_server):
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, ReplyMessageRequest
    from linebot.v3.messaging.exceptions import ApiException

    _recorder, url = fake_line_server
    body = reply(text("x", quickReply=quick_reply("あ" * 21)))
    with ApiClient(Configuration(host=url, access_token=line_api.access_token)) as client:
        with pytest.raises(ApiException) as caught:
            MessagingApi(client).reply_message(ReplyMessageRequest.from_dict(body))
    assert caught.value.status == 400
    assert line_api.calls[-1].errors == ["messages[0].quickReply.items[0].action.label: size must be between 1 and 20"]


# -- webhook bodies the tests build -------------------------------------------------------------
def _webhook_user() -> LineUser:
    return LineUser(client=None, api=LineApiRecorder("unused"), app=None)


def _webhook(event: dict) -> dict:
    return {"destination": "U" + "0123456789abcdef" * 2, "events": [event]}


def _conftest_events(user: LineUser) -> dict[str, dict]:
    return {
        "text": user.text_event("ヘルプ"),
        "sticker": user._event("message", message={
            "type": "sticker", "id": "1", "packageId": "446", "stickerId": "1988",
            "stickerResourceType": "STATIC", "quoteToken": "q" * 32}),
        "follow": user._event("follow", follow={"isUnblocked": False}),
        "unfollow": user._event("unfollow"),
        "postback": user._event("postback", postback={"data": "bill:list"}),
        "postback with params": user._event("postback", postback={"data": "d", "params": {"date": "2026-11-25"}}),
        "accountLink": user._event("accountLink", link={"result": "ok", "nonce": "n0nce"}),
    }


@pytest.mark.parametrize("kind", list(_conftest_events(_webhook_user())))
def test_line_user_builds_valid_webhook_events(kind):
    event = _conftest_events(_webhook_user())[kind]
    assert line_schema.validate_webhook(_webhook(event)) == []


def test_invalid_webhook_bodies_are_rejected():
    user = _webhook_user()
    sticker = user._event("message", message={"type": "sticker", "id": "1", "packageId": "446", "stickerId": "1988"})
    assert line_schema.validate_webhook(_webhook(sticker)) == [
        "events[0].message.stickerResourceType: must be specified",
        "events[0].message.quoteToken: must be specified",
    ]
    unknown = user._event("poke")
    assert line_schema.validate_webhook(_webhook(unknown))[0].startswith("events[0].type: must be one of [message")
    bad_source = user._event("follow", follow={"isUnblocked": False}, source={"type": "channel"})
    assert line_schema.validate_webhook(_webhook(bad_source))[0].startswith(
        "events[0].source.type: must be one of [user, group, room]")
    bad_link = user._event("accountLink", link={"result": "maybe", "nonce": "n"})
    assert line_schema.validate_webhook(_webhook(bad_link)) == [
        "events[0].link.result: must be one of [ok, failed], not 'maybe'"]
    assert line_schema.validate_webhook({"destination": "Uxxxxxxxx", "events": []}) == [
        "destination: must match ^U[0-9a-f]{32}$", "destination: size must be 33"]


def test_line_user_post_destination_is_a_valid_bot_user_id():
    """LineUser.post wraps events as {"destination": ..., "events": [...]}; LINE's destination is U + 32 hex."""
    import json

    sent = {}

    class Recorder:
        def post(self, path, data, headers):
            sent.update(json.loads(data))

    user = LineUser(client=Recorder(), api=LineApiRecorder("unused"), app=None)
    user.post([user.text_event("ヘルプ")])
    assert line_schema.validate_webhook(sent) == []
