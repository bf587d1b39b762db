"""The bill notice, rendered once a month: ``notice_template`` renders the month's notice (for
one due date) with a marker where the total goes and cuts it there, so each customer's push
body is a few string joins instead of a render and the SDK's model round trip.

What the notice says is ``bot.flows.notices.bill_notice``; its LINE JSON is
``handlers.line.render.render_bill_notice``. The batch job (``batch``) fills the template in
per customer and hands the body to ``push``.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import date

from linebot.v3.messaging import PushMessageRequest

from bot import messages
from bot.flows.notices import bill_notice
from handlers.line.render import render_bill_notice

log = logging.getLogger(__name__)

_TOTAL_MARK = 918_273_645  # rendered in its place, then cut out: no bill is this large
_CHECK_TOTALS = (0, -550, 5_280, 1_234_567_890)  # fills compared with direct renders before use


def _message_json(month: date, total: int, due_date: date | None) -> str:
    """The notice's message as JSON text, rendered directly (what the template must equal)."""
    return json.dumps(render_bill_notice(bill_notice(month, total, due_date)))


@dataclass(frozen=True)
class NoticeTemplate:
    """One month's notice (for one due date) rendered once and cut where the total goes, so a
    customer's push body is a few joins instead of a render and the SDK's model round trip;
    ``parts`` None: the total changes more than its own text, so every notice is rendered."""

    billing_month: date
    due_date: date | None
    parts: tuple[str, ...] | None

    def message_json(self, total: int) -> str:
        """The notice's message for ``total`` as JSON text (``5,280円`` in both places it shows)."""
        if self.parts is None:
            return _message_json(self.billing_month, total, self.due_date)
        return json.dumps(messages.signed_yen(total))[1:-1].join(self.parts)

    def body(self, user_id: str, total: int) -> bytes:
        """The ``POST /v2/bot/message/push`` body for one customer, as the SDK would have sent it."""
        return (f'{{"to": {json.dumps(user_id)}, "messages": [{self.message_json(total)}], '
                f'"notificationDisabled": false}}').encode()


@functools.lru_cache(maxsize=64)
def notice_template(month: date, due_date: date | None) -> NoticeTemplate:
    """The month's template for one due date (a handful per month, so the cache stays small). It is
    used only if filling it gives exactly the direct render for a few totals (zero, a discount,
    a large one), and its body passes the SDK's own request model once."""
    marked = _message_json(month, _TOTAL_MARK, due_date)
    template = NoticeTemplate(month, due_date, tuple(marked.split(json.dumps(messages.signed_yen(_TOTAL_MARK))[1:-1])))
    if template.parts is None or len(template.parts) < 2 or any(
            template.message_json(total) != _message_json(month, total, due_date) for total in _CHECK_TOTALS):
        log.warning("the bill notice cannot be filled in from a template; rendering each one")
        template = NoticeTemplate(month, due_date, None)
    PushMessageRequest.from_dict(json.loads(template.body("U" + "0" * 32, _CHECK_TOTALS[-1])))
    return template
