"""The menu: shown for ヘルプ, メニュー and anything the bot does not understand."""

from __future__ import annotations

from bot import messages
from bot.engine import Turn
from bot.types import QuickReply
from storage import repositories


def show_menu(turn: Turn) -> None:
    """The menu that fits this person: registration first for newcomers, bills for the linked;
    a person is always one tap away (someone the bot does not understand is not left stuck).
    Its quick replies are the buttons its lines name, in the same order."""
    if repositories.find_line_link(turn.db, turn.user_id) is not None:
        turn.say(messages.MENU_LINKED, _buttons(messages.QR_THIS_MONTH, messages.QR_BILL_LIST,
                                                messages.QR_NOTICES_SETTINGS, messages.QR_OPERATOR))
    else:
        turn.say(messages.MENU_UNLINKED, _buttons(messages.QR_REGISTER, messages.LOGIN_LINK_BUTTON,
                                                  messages.QR_FAQ, messages.QR_OPERATOR))


def _buttons(*words: str) -> list[QuickReply]:
    return [QuickReply(word, word) for word in words]
