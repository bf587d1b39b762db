"""Reply values -> LINE message JSON (dicts in the Messaging API's own shape).

Dicts, not SDK models, so the same JSON can be queued for a push job, stored by the
emulator, and turned into SDK request models with ``from_dict`` at the wire.
"""

from __future__ import annotations

from bot.types import AccountLinkPrompt, BillCard, BillList, QuickReply, Reply, TextReply

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


def render_bill_card(card: BillCard) -> dict:
    """A Flex bubble for one month's bill (filled in by the billing work)."""
    raise NotImplementedError


def render_bill_list(bill_list: BillList) -> dict:
    """A Flex bubble listing months (filled in by the billing work)."""
    raise NotImplementedError


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
