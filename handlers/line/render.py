"""Reply values -> LINE message JSON (dicts in the Messaging API's own shape).

Dicts, not SDK models, so the same JSON can be queued for a push job, stored by the
emulator, and turned into SDK request models with ``from_dict`` at the wire.
"""

from __future__ import annotations

from bot import messages
from bot.types import AccountLinkPrompt, BillCard, BillList, BillNotice, QuickReply, Reply, TextReply

MAX_MESSAGES = 5
MAX_TEXT = 5000
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_ALT_TEXT = 1500


def quick_reply(items: tuple[QuickReply, ...]) -> dict | None:
    """LINE quickReply object (at most 13 items)."""
    if not items:
        return None
    out = []
    for item in items[:MAX_QUICK_REPLIES]:
        if item.postback_data:
            action = {"type": "postback", "label": item.label[:MAX_LABEL], "data": item.postback_data,
                      "displayText": item.text}
        else:
            action = {"type": "message", "label": item.label[:MAX_LABEL], "text": item.text}
        out.append({"type": "action", "action": action})
    return {"items": out}


def _with_quick_reply(message: dict, items: tuple[QuickReply, ...]) -> dict:
    qr = quick_reply(items)
    if qr:
        message["quickReply"] = qr
    return message


def render_text(reply: TextReply) -> dict:
    """Text, or a Flex bubble when the text carries link buttons."""
    if not reply.buttons:
        return _with_quick_reply({"type": "text", "text": reply.text[:MAX_TEXT]}, reply.quick_replies)
    bubble = {
        "type": "bubble",
        "body": {"type": "box", "layout": "vertical",
                 "contents": [{"type": "text", "text": reply.text, "wrap": True, "size": "sm"}]},
        "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
            {"type": "button", "style": "primary", "height": "sm",
             "action": {"type": "uri", "label": b.label[:MAX_LABEL], "uri": b.url}}
            for b in reply.buttons
        ]},
    }
    return _with_quick_reply({"type": "flex", "altText": reply.text[:MAX_ALT_TEXT], "contents": bubble},
                             reply.quick_replies)


BILL_CARD_ITEMS = 8  # main line items shown on the card; the rest are counted ("ほか N 件")
_MUTED = "#555555"
_BRAND = "#00703C"


def _row(label: str, value: str, bold: bool = False) -> dict:
    """A label on the left, a value on the right (both non-empty)."""
    return {"type": "box", "layout": "horizontal", "spacing": "sm", "contents": [
        {"type": "text", "text": label or "-", "size": "sm", "color": _MUTED, "flex": 3, "wrap": True},
        {"type": "text", "text": value or "-", "size": "sm", "align": "end", "flex": 2, "wrap": True,
         "weight": "bold" if bold else "regular", "color": "#1A1A1A"},
    ]}


def _month_bubble(header: str, month: str, body: list[dict], action: dict) -> dict:
    """The bill card's and the notice's shared bubble: a header with the month, the body, one button."""
    return {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": _BRAND, "contents": [
            {"type": "text", "text": header, "size": "xs", "color": "#FFFFFF"},
            {"type": "text", "text": month, "size": "xl", "weight": "bold", "color": "#FFFFFF"},
        ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "color": _BRAND, "height": "sm", "action": action},
        ]},
    }


def render_bill_card(card: BillCard) -> dict:
    """A Flex bubble for one month's bill: 請求年月, ご請求金額, 引落日/支払方法, main items, 「明細を見る」."""
    month = messages.month_label(card.billing_month)
    total = messages.yen(card.total)
    body: list[dict] = [
        {"type": "text", "text": messages.BILL_TOTAL_LABEL, "size": "sm", "color": _MUTED},
        {"type": "text", "text": total, "size": "xxl", "weight": "bold", "color": "#1A1A1A"},
    ]
    facts = []
    if card.due_date is not None:
        facts.append(_row(messages.BILL_DUE_LABEL, messages.date_label(card.due_date)))
    if card.payment_method:
        facts.append(_row(messages.BILL_METHOD_LABEL, card.payment_method))
    if facts:
        body.append({"type": "separator", "margin": "md"})
        body.append({"type": "box", "layout": "vertical", "spacing": "sm", "margin": "md", "contents": facts})
    if card.items:
        rows: list[dict] = [{"type": "text", "text": messages.BILL_ITEMS_LABEL, "size": "xs", "color": _MUTED}]
        rows += [_row(item.name, messages.yen(item.amount)) for item in card.items[:BILL_CARD_ITEMS]]
        if len(card.items) > BILL_CARD_ITEMS:
            rows.append({"type": "text", "text": messages.BILL_MORE_ITEMS.format(
                count=len(card.items) - BILL_CARD_ITEMS), "size": "sm", "color": _MUTED, "align": "end"})
        body.append({"type": "separator", "margin": "md"})
        body.append({"type": "box", "layout": "vertical", "spacing": "sm", "margin": "md", "contents": rows})
    if card.note:
        body.append({"type": "text", "text": card.note, "size": "xs", "color": _MUTED, "wrap": True,
                     "margin": "lg"})
    bubble = {
        **_month_bubble(messages.BILL_CARD_HEADER, month, body,
                        {"type": "uri", "label": messages.BILL_DETAIL_BUTTON, "uri": card.detail_url}),
    }
    alt = messages.BILL_CARD_ALT.format(month=month, total=total)
    return _with_quick_reply({"type": "flex", "altText": alt[:MAX_ALT_TEXT], "contents": bubble},
                             card.quick_replies)


def render_bill_list(bill_list: BillList) -> dict:
    """A Flex bubble listing months, newest first; each row's button sends that month's command."""
    rows: list[dict] = []
    for entry in bill_list.entries:
        rows.append({"type": "box", "layout": "horizontal", "spacing": "sm", "alignItems": "center", "contents": [
            {"type": "text", "text": messages.month_label(entry.billing_month), "size": "sm", "flex": 3},
            {"type": "text", "text": messages.yen(entry.total), "size": "sm", "align": "end", "flex": 3,
             "weight": "bold"},
            {"type": "button", "style": "link", "height": "sm", "flex": 2,
             "action": {"type": "message", "label": messages.BILL_LIST_OPEN, "text": entry.command[:300]}},
        ]})
    bubble = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": _BRAND, "contents": [
            {"type": "text", "text": messages.BILL_LIST_TITLE, "size": "lg", "weight": "bold", "color": "#FFFFFF"},
        ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": rows + [
            {"type": "text", "text": messages.BILL_LIST_NOTE, "size": "xs", "color": _MUTED, "wrap": True,
             "margin": "lg"},
        ]},
    }
    entries = bill_list.entries
    alt = messages.BILL_LIST_ALT.format(newest=messages.month_label(entries[0].billing_month),
                                        oldest=messages.month_label(entries[-1].billing_month),
                                        count=len(entries)) if entries else messages.BILL_LIST_TITLE
    return _with_quick_reply({"type": "flex", "altText": alt[:MAX_ALT_TEXT], "contents": bubble},
                             bill_list.quick_replies)


def render(replies: list[Reply], link_url: str | None = None) -> list[dict]:
    """Every reply as LINE message JSON. ``link_url`` serves an ``AccountLinkPrompt``."""
    out: list[dict] = []
    for reply in replies:
        if isinstance(reply, TextReply):
            out.append(render_text(reply))
        elif isinstance(reply, BillCard):
            out.append(render_bill_card(reply))
        elif isinstance(reply, BillList):
            out.append(render_bill_list(reply))
        elif isinstance(reply, AccountLinkPrompt):
            from bot.types import LinkButton

            out.append(render_text(TextReply(reply.text, buttons=(LinkButton(reply.button_label, link_url or ""),))))
    return out


def render_bill_notice(notice: BillNotice) -> dict:
    """The monthly bill notice (a push): a Flex bubble like the bill card with month, total and due
    date, whose button sends that month's bill words, so what opens days later is fresh (no link)."""
    month = messages.month_label(notice.billing_month)
    total = messages.yen(notice.total)
    body: list[dict] = [
        {"type": "text", "text": messages.BILL_NOTICE_LEAD.format(month=month), "size": "sm", "wrap": True},
        {"type": "text", "text": messages.BILL_TOTAL_LABEL, "size": "sm", "color": _MUTED, "margin": "md"},
        {"type": "text", "text": total, "size": "xxl", "weight": "bold", "color": "#1A1A1A"},
    ]
    if notice.due_date is not None:
        body.append({"type": "separator", "margin": "md"})
        body.append({"type": "box", "layout": "vertical", "margin": "md", "contents": [
            _row(messages.BILL_DUE_LABEL, messages.date_label(notice.due_date))]})
    body.append({"type": "text", "text": messages.BILL_NOTICE_FOOTNOTE, "size": "xs", "color": _MUTED,
                 "wrap": True, "margin": "lg"})
    bubble = {
        **_month_bubble(messages.BILL_NOTICE_HEADER, month, body,
                        {"type": "message", "label": messages.BILL_NOTICE_BUTTON, "text": notice.command[:300]}),
    }
    alt = messages.BILL_NOTICE_ALT.format(month=month, total=total)
    return {"type": "flex", "altText": alt[:MAX_ALT_TEXT], "contents": bubble}
