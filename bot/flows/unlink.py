"""`連携解除`: unlink this LINE user from its My Page account, after a confirmation."""

from __future__ import annotations

import logging

from bot import messages
from bot.engine import Entry, Flow, StateSpec, Turn, words
from bot.normalize import command_text
from bot.states import State
from bot.types import QuickReply, SwitchMenu
from bot.understanding import intents
from storage import accounts, repositories

log = logging.getLogger(__name__)

CHOICES = (QuickReply(messages.QR_UNLINK, messages.QR_UNLINK), QuickReply(messages.QR_CANCEL, messages.QR_CANCEL))


def start(turn: Turn, _match=None) -> str | None:
    """Ask for confirmation, or say there is nothing to unlink."""
    if repositories.find_line_link(turn.db, turn.user_id) is None:
        turn.say(messages.NOT_LINKED, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER)])
        return None
    turn.say(messages.UNLINK_CONFIRM, CHOICES)
    return State.UNLINK_CONFIRM


def step_confirm(turn: Turn) -> str | None:
    """`連携解除する` removes the link (キャンセル is the engine's); anything else asks again."""
    if command_text(turn.text) != command_text(messages.QR_UNLINK):
        turn.say(messages.UNLINK_CHOOSE, CHOICES)
        return State.UNLINK_CONFIRM
    accounts.unlink_line_user(turn.db, turn.user_id)
    turn.effect(SwitchMenu(turn.user_id, linked=False))
    log.info("a LINE user unlinked itself")
    turn.say(messages.UNLINKED, [QuickReply(messages.LOGIN_LINK_BUTTON, messages.LOGIN_LINK_BUTTON),
                                 QuickReply(messages.QR_HELP, messages.QR_HELP)])
    return None


FLOW = Flow(
    name="unlink",
    entries=(Entry(words("連携解除"), start, intent=intents.UNLINK),),
    states={State.UNLINK_CONFIRM: StateSpec(step_confirm, lambda turn: turn.say(messages.UNLINK_CONFIRM, CHOICES))},
)
