"""Bill notices in the chat: `通知停止` / `通知再開` / `通知設定`, and unfollow/follow (a block).

The monthly push itself is the LINE edge's (``handlers.line.notices``); what it says is built
here (``bill_notice``), so the conversation owns every sentence and the button's words.
An unfollow means the customer blocked the account: no notices until they follow again.
"""

from __future__ import annotations

import logging
from datetime import date

from bot import messages
from bot.engine import Entry, Flow, Turn, words
from bot.flows.billing import month_command
from bot.types import BillNotice, QuickReply
from bot.understanding import intents
from storage import notices, repositories

log = logging.getLogger(__name__)

STOP_WORDS = words("通知停止", "通知を停止", "お知らせ停止", "通知オフ")
RESUME_WORDS = words("通知再開", "通知を再開", "お知らせ再開", "通知オン")
SETTINGS_WORDS = words("通知設定", "お知らせ設定", "通知の設定")


def bill_notice(billing_month: date, total: int, due_date: date | None) -> BillNotice:
    """The notice for one month's statement; its button sends ``2026年11月の料金``."""
    return BillNotice(billing_month=billing_month, total=total, command=month_command(billing_month),
                      due_date=due_date)


def _other_choices() -> list[QuickReply]:
    return [QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH), QuickReply(messages.QR_HELP, messages.QR_HELP)]


def _not_linked(turn: Turn) -> None:
    turn.say(messages.NOTICES_NOT_LINKED, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER),
                                           QuickReply(messages.QR_HELP, messages.QR_HELP)])


def _set(turn: Turn, enabled: bool) -> None:
    """Change the setting, or say it already was so (a second 通知停止 is not 「停止しました」 again)."""
    link = repositories.find_line_link(turn.db, turn.user_id)
    if link is None:
        _not_linked(turn)
        return
    already = link.notices_enabled == enabled
    if not already:
        notices.set_notices_enabled(turn.db, turn.user_id, enabled)
        turn.signal("notices_resumed" if enabled else "notices_stopped")
    if enabled:
        turn.say(messages.NOTICES_ALREADY_ON if already else messages.NOTICES_RESUMED,
                 [QuickReply(messages.QR_NOTICES_SETTINGS, messages.QR_NOTICES_SETTINGS), *_other_choices()])
    else:
        turn.say(messages.NOTICES_ALREADY_STOPPED if already else messages.NOTICES_STOPPED,
                 [QuickReply(messages.QR_NOTICES_RESUME, messages.QR_NOTICES_RESUME), *_other_choices()])


def stop(turn: Turn, _match: object = None) -> None:
    """通知停止: no more monthly bill notices."""
    _set(turn, False)


def resume(turn: Turn, _match: object = None) -> None:
    """通知再開: monthly bill notices again."""
    _set(turn, True)


def settings(turn: Turn, _match: object = None) -> None:
    """通知設定: the current setting, with the quick reply that changes it."""
    link = repositories.find_line_link(turn.db, turn.user_id)
    if link is None:
        _not_linked(turn)
        return
    if link.notices_enabled:
        turn.say(messages.NOTICES_SETTING_ON,
                 [QuickReply(messages.QR_NOTICES_STOP, messages.QR_NOTICES_STOP), *_other_choices()])
    else:
        turn.say(messages.NOTICES_SETTING_OFF,
                 [QuickReply(messages.QR_NOTICES_RESUME, messages.QR_NOTICES_RESUME), *_other_choices()])


def on_unfollow(turn: Turn) -> None:
    """The customer blocked the account: remember it, so no notice is pushed meanwhile."""
    if notices.mark_blocked(turn.db, turn.user_id, turn.now):
        log.info("a linked LINE user blocked the account; notices paused")


def on_follow(turn: Turn) -> None:
    """Followed again (or for the first time): notices as the customer's setting says."""
    notices.mark_unblocked(turn.db, turn.user_id)


FLOW = Flow(
    name="notices",
    entries=(Entry(STOP_WORDS, stop, intent=intents.NOTICES_STOP),
             Entry(RESUME_WORDS, resume, intent=intents.NOTICES_RESUME),
             Entry(SETTINGS_WORDS, settings, intent=intents.NOTICES_SETTINGS)),
    on_follow=on_follow,
    on_unfollow=on_unfollow,
)
