"""LINE account link for customers who registered on the web My Page before the bot existed.

The web login page (``handlers.mypage``) checks the account ID and password, then sends
the browser to LINE with a nonce; LINE sends an ``accountLink`` event carrying it back
here. The nonce is spent once and links this LINE user to that account. A password is
never asked for in the chat. An account has one LINE user: when another one links it, the
LINE user it had is told by push (``PushReplies``) why it is no longer linked.
"""

from __future__ import annotations

import logging

from bot import messages
from bot.engine import Entry, Flow, Turn, words
from bot.types import AccountLinkPrompt, PushReplies, QuickReply, SwitchMenu, TextReply
from bot.understanding import intents
from storage import logins, repositories, richmenus

log = logging.getLogger(__name__)


def on_account_link(turn: Turn) -> None:
    """Link this LINE user to the account the nonce was issued for, or say politely that it failed."""
    incoming = turn.incoming
    account = logins.spend_line_link_nonce(turn.db, incoming.link_nonce, turn.now) if incoming.link_ok else None
    if account is None:
        log.info("account link refused (result ok: %s)", incoming.link_ok)
        turn.say(messages.ACCOUNT_LINK_FAILED, [QuickReply(messages.LOGIN_LINK_BUTTON, messages.LOGIN_LINK_BUTTON),
                                                QuickReply(messages.QR_OPERATOR, messages.QR_OPERATOR)])
        return
    displaced = richmenus.other_line_user_of_account(turn.db, account.id, turn.user_id)
    repositories.link_line_user(turn.db, account, turn.user_id, turn.now)
    turn.effect(SwitchMenu(turn.user_id, linked=True))
    if displaced:  # the account's older LINE user lost its link: told why, back to the newcomers' menu
        turn.effect(SwitchMenu(displaced, linked=False))
        turn.effect(PushReplies(displaced, (TextReply(messages.LINK_MOVED_PUSH, (
            QuickReply(messages.LOGIN_LINK_BUTTON, messages.LOGIN_LINK_BUTTON),
            QuickReply(messages.QR_HELP, messages.QR_HELP))),)))
        turn.signal("account_link_moved")
    turn.say(messages.ACCOUNT_LINK_DONE, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                          QuickReply(messages.QR_BILL_LIST, messages.QR_BILL_LIST),
                                          QuickReply(messages.QR_HELP, messages.QR_HELP)])


LINK_WORDS = words(messages.LOGIN_LINK_BUTTON, "ログイン", "連携", "LINE連携", "アカウント連携")


def login_to_link(turn: Turn, _match: object = None) -> None:
    """ログインして連携 (the rich menu): the web login link that carries a LINE link token."""
    if repositories.find_line_link(turn.db, turn.user_id) is not None:
        turn.say(messages.ALREADY_LINKED, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                           QuickReply(messages.QR_HELP, messages.QR_HELP)])
        return None
    turn.reply(AccountLinkPrompt(messages.ACCOUNT_LINK_PROMPT, messages.LOGIN_LINK_BUTTON))
    turn.say(messages.ACCOUNT_LINK_NOT_YET_REGISTERED, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER),
                                                       QuickReply(messages.QR_HELP, messages.QR_HELP)])
    return None


FLOW = Flow(
    name="account_link",
    entries=(Entry(LINK_WORDS, login_to_link, intent=intents.LINK),),
    on_account_link=on_account_link,
)
