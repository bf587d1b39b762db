"""The お客様メニュー's own pieces: よくある質問, and the rich menu that follows each customer.

Following the account (again) switches the customer to the menu that fits them: the
linked customers' menu, or the newcomers' default. Linking and unlinking switch it where
the link is made or removed (``account_link``, ``unlink``, the 本登録 page).
"""

from __future__ import annotations

from bot import messages
from bot.engine import Entry, Flow, Turn, words
from bot.flows.understand import question_button
from bot.types import QuickReply, SwitchMenu
from storage import faq as faq_store
from storage import richmenus

FAQ_BUTTONS = 12  # LINE shows at most 13 quick replies; the last is a person


def faq(turn: Turn, _match: object = None) -> None:
    """よくある質問: the operators' FAQ questions to tap (the first 12, in their file's order); before
    any FAQ was imported, short answers: to what newcomers ask before registering, or, for a linked
    customer, to what they ask once linked (never 登録 or ログインして連携 offered to them)."""
    _version, entries = faq_store.load(turn.db)
    if entries:
        turn.say(messages.FAQ_LIST, [*(question_button(e.question) for e in entries[:FAQ_BUTTONS]),
                                     QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)])
        return None
    operator = QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)
    if richmenus.is_linked(turn.db, turn.user_id):  # registered and linked: nothing to register or link
        turn.say(messages.FAQ_LINKED, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                       QuickReply(messages.QR_BILL_LIST, messages.QR_BILL_LIST),
                                       operator, QuickReply(messages.QR_HELP, messages.QR_HELP)])
        return None
    turn.say(messages.FAQ, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER),
                            QuickReply(messages.LOGIN_LINK_BUTTON, messages.LOGIN_LINK_BUTTON),
                            operator, QuickReply(messages.QR_HELP, messages.QR_HELP)])
    return None


def on_follow(turn: Turn) -> None:
    """A (re)follow shows the menu that fits this person now."""
    turn.effect(SwitchMenu(turn.user_id, linked=richmenus.is_linked(turn.db, turn.user_id)))


FLOW = Flow(
    name="customer_menu",
    entries=(Entry(words(messages.QR_FAQ, "FAQ", "質問", "よくあるご質問"), faq),),
    on_follow=on_follow,
)
