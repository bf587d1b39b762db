"""The bill turn's fast paths (issue 13): the reply sent without the SDK's models says exactly
what the SDK would have sent; one timer thread shows the loading animation only for slow turns."""

from __future__ import annotations

import threading
import time
from datetime import date

from linebot.v3.messaging import ApiClient, Configuration, ReplyMessageRequest

from bot.types import BillCard, BillLine, QuickReply, TextReply
from handlers.line import delivery
from handlers.line.loading import LoadingTimers
from handlers.line.render import render


def test_the_reply_body_is_the_one_the_sdk_would_send(app, line_api):
    messages = render([
        BillCard(billing_month=date(2026, 11, 1), total=8470, items=(BillLine("ケーブルテレビ 基本料金", 3300),),
                 detail_url="http://localhost/mypage/bills/1?t=x", due_date=date(2026, 11, 27),
                 payment_method="口座振替", note="15分", quick_replies=(QuickReply("料金一覧", "料金一覧"),)),
        TextReply("ほかにご用件は？", ()),
    ])
    with app.app_context():
        assert delivery.deliver("U" + "1" * 32, "token-1", messages) == "reply"
    sent = line_api.accepted("reply")[-1].body
    sdk = ApiClient(Configuration(host="http://unused", access_token="t"))
    expected = sdk.sanitize_for_serialization(
        ReplyMessageRequest.from_dict({"replyToken": "token-1", "messages": messages}))
    assert sent == expected


def test_a_refused_reply_becomes_a_push(app, line_api):
    line_api.fail_next.append(400)
    with app.app_context():
        assert delivery.deliver("U" + "2" * 32, "token-2", [{"type": "text", "text": "こんにちは"}]) == "push"


def test_loading_timers_fire_only_for_slow_turns_and_wait_for_one_under_way():
    timers = LoadingTimers()
    fired: list[str] = []
    quick = timers.schedule(0.2, lambda: fired.append("quick"))
    timers.cancel(quick, settle=1.0)
    landed = threading.Event()

    def slow_animation() -> None:
        time.sleep(0.2)
        fired.append("slow")
        landed.set()

    slow = timers.schedule(0.01, slow_animation)
    time.sleep(0.1)  # the turn took longer than the delay: the animation request is under way
    timers.cancel(slow, settle=2.0)
    assert landed.is_set()  # cancel waited for it to land
    time.sleep(0.3)
    assert fired == ["slow"]
