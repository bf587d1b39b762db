"""LINE account link for customers who registered on the web My Page before the bot existed.

The web login page (``handlers.mypage``) checks the account ID and password, then sends
the browser to LINE with a nonce; LINE sends an ``accountLink`` event carrying it back
here. The nonce is spent once and links this LINE user to that account. A password is
never asked for in the chat.
"""

from __future__ import annotations

import logging

from bot import messages
from bot.engine import Flow, Turn
from bot.types import QuickReply
from storage import logins, repositories

log = logging.getLogger(__name__)


def on_account_link(turn: Turn) -> None:
    """Link this LINE user to the account the nonce was issued for, or say politely that it failed."""
    incoming = turn.incoming
    account = logins.spend_line_link_nonce(turn.db, incoming.link_nonce, turn.now) if incoming.link_ok else None
    if account is None:
        log.info("account link refused (result ok: %s)", incoming.link_ok)
        turn.say(messages.ACCOUNT_LINK_FAILED, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                                QuickReply(messages.QR_HELP, messages.QR_HELP)])
        return
    repositories.link_line_user(turn.db, account, turn.user_id, turn.now)
    turn.say(messages.ACCOUNT_LINK_DONE, [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                                          QuickReply(messages.QR_BILL_LIST, messages.QR_BILL_LIST),
                                          QuickReply(messages.QR_HELP, messages.QR_HELP)])


FLOW = Flow(name="account_link", on_account_link=on_account_link)
