"""The bill notice filled in from a template rendered once a month (issue 22, point 7) is the notice
rendered directly, to the byte, for any amount (zero, discounts, large ones) and due date; its push
body is what the SDK would have sent, and passes LINE's OpenAPI spec."""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linebot.v3.messaging import PushMessageRequest

from bot.flows.notices import bill_notice
from handlers.emulator import line_schema
from handlers.line.notices.template import notice_template
from handlers.line.render import render_bill_notice

USER = "U" + "0123456789abcdef" * 2
NOVEMBER, DUE = date(2026, 11, 1), date(2026, 12, 28)


def direct_body(month: date, total: int, due_date: date | None) -> bytes:
    """The push body as it was built before the template: the message rendered for this customer."""
    message = render_bill_notice(bill_notice(month, total, due_date))
    return json.dumps({"to": USER, "messages": [message], "notificationDisabled": False}).encode()


def texts(node) -> list[str]:
    """Every ``text`` and ``altText`` in a message, in order."""
    if isinstance(node, dict):
        found = [node[key] for key in ("altText", "text") if isinstance(node.get(key), str)]
        return found + [text for value in node.values() for text in texts(value)]
    if isinstance(node, list):
        return [text for value in node for text in texts(value)]
    return []


@pytest.mark.parametrize(("month", "total", "due_date"), [
    (NOVEMBER, 5_280, DUE),
    (NOVEMBER, 0, DUE),  # nothing to pay
    (NOVEMBER, -550, DUE),  # a discount larger than the charges
    (NOVEMBER, 1_234_567_890, None),  # large, and no due date
    (date(2026, 12, 1), 999_999_999_999, date(2027, 1, 4)),
    (date(2027, 1, 1), 7, date(2027, 2, 27)),
])
def test_the_filled_notice_is_the_notice_rendered_directly(month, total, due_date):
    template = notice_template(month, due_date)
    assert template.parts is not None  # the template itself, not the render-each fallback

    body = template.body(USER, total)

    assert body == direct_body(month, total, due_date)
    request = json.loads(body)
    assert request == PushMessageRequest.from_dict({"to": USER, "messages": [
        render_bill_notice(bill_notice(month, total, due_date))]}).to_dict()  # what the SDK sent before
    assert line_schema.validate("PushMessageRequest", request) == []


def test_the_amount_month_and_due_date_read_as_the_customer_expects():
    message = json.loads(notice_template(NOVEMBER, DUE).body(USER, 5_280))["messages"][0]
    assert message["altText"] == "2026年11月のご請求金額は5,280円です"
    assert texts(message["contents"]).count("5,280円") == 1
    assert {"2026年11月", "2026年12月28日", "2026年11月の料金"} <= set(texts(message["contents"]))
    discount = json.loads(notice_template(NOVEMBER, DUE).body(USER, -550))["messages"][0]
    assert discount["altText"] == "2026年11月のご請求金額は−550円です"
    assert "−550円" in texts(discount["contents"])


@settings(max_examples=200, deadline=None)
@given(total=st.integers(-10**9, 10**13),
       month=st.dates(date(2020, 7, 1), date(2099, 12, 1)).map(lambda day: day.replace(day=1)),
       due_date=st.none() | st.dates(date(2020, 7, 1), date(2100, 1, 31)))
def test_any_amount_month_and_due_date_fill_in_exactly(total, month, due_date):
    assert notice_template(month, due_date).body(USER, total) == direct_body(month, total, due_date)


def test_a_notice_whose_layout_depends_on_the_amount_is_rendered_each_time(monkeypatch):
    """Should the card ever lay a long amount out differently, filling in the text would be wrong:
    the template sees that when it is made, and every notice is rendered directly instead."""
    def smaller_for_long_amounts(notice):
        message = render_bill_notice(notice)
        if notice.total >= 1_000_000:
            message["contents"]["body"]["contents"][2]["size"] = "xl"
        return message

    monkeypatch.setattr("handlers.line.notices.template.render_bill_notice", smaller_for_long_amounts)
    notice_template.cache_clear()
    try:
        template = notice_template(NOVEMBER, DUE)
        assert template.parts is None
        for total in (0, 5_280, 2_000_000):
            message = json.loads(template.body(USER, total))["messages"][0]
            assert message == smaller_for_long_amounts(bill_notice(NOVEMBER, total, DUE))
    finally:
        notice_template.cache_clear()
