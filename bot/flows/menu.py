"""The menu: shown for ヘルプ, メニュー and anything the bot does not understand."""

from __future__ import annotations

from bot import messages
from bot.engine import Turn
from bot.types import QuickReply
from storage import repositories


def show_menu(turn: Turn) -> None:
    """The menu that fits this person: registration first for newcomers, bills for the linked;
    a person is always one tap away (someone the bot does not understand is not left stuck)."""
    operator = QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)
    if repositories.find_line_link(turn.db, turn.user_id) is not None:
        turn.say(messages.MENU_LINKED, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                        QuickReply(messages.QR_BILL_LIST, messages.QR_BILL_LIST),
                                        QuickReply(messages.QR_HELP, messages.QR_HELP), operator])
    else:
        turn.say(messages.MENU_UNLINKED, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER),
                                          QuickReply(messages.QR_HELP, messages.QR_HELP), operator])
