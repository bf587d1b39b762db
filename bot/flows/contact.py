"""オペレーター / 問い合わせ: for now, the free-call number and hours.

The staff handoff (Slack) is a later piece of work and will replace this flow under the
same words; until then nobody who asks for a person is left with only the menu.
"""

from __future__ import annotations

from bot import messages
from bot.engine import Entry, Flow, Turn, words
from bot.types import QuickReply


def contact(turn: Turn, _match: object = None) -> None:
    """Tell the customer how to reach a person."""
    turn.say(messages.CONTACT_BY_PHONE, [QuickReply(messages.QR_HELP, messages.QR_HELP)])
    return None


FLOW = Flow(
    name="contact",
    entries=(Entry(words("オペレーター", "問い合わせ", "お問い合わせ", messages.QR_OPERATOR), contact),),
)
