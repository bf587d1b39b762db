"""Reply values -> LINE message JSON (dicts in the Messaging API's own shape).

Dicts, not SDK models, so the same JSON can be queued for a push job, stored by the
emulator, and turned into SDK request models with ``from_dict`` at the wire.
"""

from __future__ import annotations

import re
import unicodedata

from bot import charts, messages
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
_INK = "#1A1A1A"
_BRAND = "#00703C"
_TRACK = "#E3ECE6"  # the bar chart's empty track, behind the brand-green bar

# -- laying out for LINE's narrowest bubble ----------------------------------------------
# A mega bubble is 300 px wide where the screen allows, and narrower on small phones. Every label and
# amount is laid out for NARROWEST_BUBBLE_PX, so none wraps in the middle of a word there: a label
# beside its amount is cut into lines at word boundaries (spaces, brackets, 中黒) that fit beside it,
# or, when a word would not fit, goes on its own line with the amount right-aligned on the next
# (a two-line item). Amounts never wrap. Widths are estimated from the characters (a full-width one
# is 1 em in every Japanese font; the rest are counted generously); tests/line/test_bill_card_layout_browser.py
# checks the estimate in Chromium with Noto Sans CJK.
NARROWEST_BUBBLE_PX = 260
BODY_PADDING_PX = 20  # LINE's default padding of the body block
CONTENT_PX = NARROWEST_BUBBLE_PX - 2 * BODY_PADDING_PX
_GAP_PX = 12  # between a label and its amount: the box spacing (sm, 4 px) and room for error
_TEXT_PX = {"xxs": 11, "xs": 13, "sm": 14, "md": 16, "lg": 19, "xl": 22, "xxl": 29}
_BREAK = re.compile(r"(?<=\s)(?=\S)|(?=[（(「『【［\[])|(?<=[）)」』】］\]・])")


def text_px(text: str, size: str = "sm") -> float:
    """An upper estimate of ``text``'s width in px at a Flex text ``size``."""
    ems = 0.0
    for char in text:
        if char.isspace():
            ems += 0.35
        elif unicodedata.east_asian_width(char) in ("W", "F", "A"):
            ems += 1.0
        else:
            ems += 0.62  # digits and Latin letters are 0.5-0.6 em in Noto Sans CJK and Hiragino
    return ems * _TEXT_PX[size]


def whole_word_lines(text: str, room_px: float, size: str = "sm") -> list[str]:
    """``text`` cut into lines no wider than ``room_px``, only where a line may break between words.

    A space stays at the end of its line, so ``"".join(lines)`` is the text again (tests and
    copy-paste see the item's own name). A single word wider than the room keeps a line to itself."""
    lines: list[str] = []
    current = ""
    for chunk in (c for c in _BREAK.split(text.strip()) if c):
        if current and text_px((current + chunk).rstrip(), size) > room_px:
            lines.append(current)
            current = chunk
        else:
            current += chunk
    lines.append(current)
    return lines


def _fits(lines: list[str], room_px: float) -> bool:
    return room_px > 0 and all(text_px(line.rstrip()) <= room_px for line in lines)


def _row(label: str, value: str) -> dict:
    """A label and its value (an amount, a date), never broken mid-word at the narrowest bubble:
    side by side (the value its own width, the label in whole-word lines beside it), or a two-line
    item (the label on its own lines, the value right-aligned under it)."""
    label, value = label.strip() or "-", value.strip() or "-"
    room = CONTENT_PX - text_px(value) - _GAP_PX
    lines = whole_word_lines(label, room)
    if _fits(lines, room):
        return {"type": "box", "layout": "horizontal", "spacing": "sm", "contents": [
            {"type": "text", "text": "\n".join(lines), "size": "sm", "color": _MUTED, "flex": 1, "wrap": True},
            {"type": "text", "text": value, "size": "sm", "align": "end", "flex": 0, "color": _INK},
        ]}
    values = whole_word_lines(value, CONTENT_PX)
    return {"type": "box", "layout": "vertical", "contents": [
        {"type": "text", "text": "\n".join(whole_word_lines(label, CONTENT_PX)), "size": "sm", "color": _MUTED,
         "wrap": True},
        {"type": "text", "text": "\n".join(values), "size": "sm", "align": "end", "color": _INK,
         "wrap": len(values) > 1},
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
    total = messages.signed_yen(card.total)
    body: list[dict] = [
        {"type": "text", "text": messages.BILL_TOTAL_LABEL, "size": "sm", "color": _MUTED},
        {"type": "text", "text": total, "size": "xxl", "weight": "bold", "color": _INK},
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
        rows += [_row(item.name, messages.signed_yen(item.amount)) for item in card.items[:BILL_CARD_ITEMS]]
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


def _chart_row(bar: charts.Bar, command: str) -> dict:
    """One month of the 料金一覧 chart: the month and its total over a bar as long as its share of the
    largest total (a box ``bar.percent``% wide in a full-width track); tapping it opens that month."""
    bar_box = {"type": "box", "layout": "vertical", "contents": [], "width": f"{bar.percent}%", "height": "10px",
               "backgroundColor": _BRAND, "cornerRadius": "5px"}
    return {"type": "box", "layout": "vertical", "spacing": "xs", "paddingTop": "4px", "paddingBottom": "4px",
            "action": {"type": "message", "label": bar.month, "text": command[:300]}, "contents": [
                {"type": "box", "layout": "horizontal", "spacing": "sm", "contents": [
                    {"type": "text", "text": bar.month, "size": "sm", "color": _INK, "flex": 1},
                    {"type": "text", "text": bar.amount, "size": "sm", "weight": "bold", "color": _INK,
                     "align": "end", "flex": 0},
                ]},
                {"type": "box", "layout": "vertical", "height": "10px", "backgroundColor": _TRACK,
                 "cornerRadius": "5px", "contents": [bar_box] if bar.percent else []},
            ]}


def render_bill_list(bill_list: BillList) -> dict:
    """料金一覧: a bar chart of the months' totals (``bot.charts``, the web bill list draws the same),
    newest first, the month and the total on each bar; a bar sends that month's words when tapped."""
    commands = {entry.billing_month: entry.command for entry in bill_list.entries}
    bars = charts.bill_bars(bill_list.entries)
    bubble = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": _BRAND, "contents": [
            {"type": "text", "text": messages.BILL_LIST_TITLE, "size": "lg", "weight": "bold", "color": "#FFFFFF"},
        ]},
        "body": {"type": "box", "layout": "vertical", "spacing": "xs", "contents": [
            *(_chart_row(bar, commands[bar.billing_month]) for bar in bars),
            {"type": "text", "text": messages.BILL_CHART_NOTE, "size": "xs", "color": _MUTED, "wrap": True,
             "margin": "lg"},
        ]},
    }
    alt = messages.BILL_LIST_ALT.format(newest=bars[0].month, oldest=bars[-1].month,
                                        count=len(bars)) if bars else messages.BILL_LIST_TITLE
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
    total = messages.signed_yen(notice.total)
    body: list[dict] = [
        {"type": "text", "text": messages.BILL_NOTICE_LEAD.format(month=month), "size": "sm", "wrap": True},
        {"type": "text", "text": messages.BILL_TOTAL_LABEL, "size": "sm", "color": _MUTED, "margin": "md"},
        {"type": "text", "text": total, "size": "xxl", "weight": "bold", "color": _INK},
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
