"""オペレーター / 問い合わせ / 人と話したい: hand the chat to support staff, and take it back.

    bot --(オペレーター, 問い合わせ, 人と話したい, オペレーターと話す)--> waiting
    waiting --(a staff reply)--> with staff
    waiting | with staff --(staff press 対応完了, the customer sends ボットに戻る or blocks us)--> closed (= bot)

The handoff's state lives in the database (``storage.handoffs``), not in the Redis
conversation, which ends after 30 idle minutes while a person may answer hours later.
While a handoff is open, ``intercept`` takes everything the customer sends (text,
stickers and images as a note): it is queued for staff in the handoff's outbox and the
bot says nothing, except outside staffed hours, where it says once (for each stretch of
closed hours) when staff will answer. Every bot message of an open handoff, and every
staff reply, offers 「ボットに戻る」 as a quick reply. The staff side (Slack, or the
emulator's staff pane) calls ``staff_reply``, ``close_by_staff`` and ``no_reply_notice``
inside its own transaction and pushes the replies they return.

Before any handoff, ``intercept`` also keeps the customer's last few texts with personal
numbers and mail addresses masked (and, when the handoff opens, the names the bot knows
for a linked customer), so staff see how the chat got here; years, months and amounts stay
as written. Texts typed inside a flow (registration answers) are not kept.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot import messages
from bot.engine import Entry, Flow, Turn, words
from bot.flows.registration import USER_MISMATCH
from bot.hours import DEFAULT_CLOSED_DAYS, SupportHours
from bot.normalize import command_text, mask_customer_number, mask_personal, nfkc
from bot.types import EventKind, HandoffTimer, QuickReply, Reply, StaffOutbox, TextReply
from bot.understanding import intents
from storage import handoffs, repositories
from storage.models import Handoff
from storage.redis_client import StateUnavailable

log = logging.getLogger(__name__)

ENTRY_WORDS = ("オペレーター", "問い合わせ", "お問い合わせ", "人と話したい", messages.QR_OPERATOR)
BACK_KEYS = frozenset({command_text(messages.QR_BACK_TO_BOT)})
REASON_ASKED = "asked"
REASON_VERIFICATION_LIMIT = "verification_limit"
CLOSED_BY_CUSTOMER = "customer"


def mask_text(text: str, names: tuple[str, ...] | list[str] = ()) -> str:
    """A text with what is personal masked (customer numbers, phones, mail addresses, and ``names``,
    the names the bot knows for this person), but not years, months, dates or amounts:
    「2025年12月の料金」 reaches staff as it was written. See ``normalize.mask_personal``."""
    return mask_personal(text, names)


def known_names(link) -> tuple[str, ...]:
    """The names the bot knows for a linked LINE user (contract name in kana and kanji, nickname)."""
    if link is None:
        return ()
    account = link.account
    return tuple(n for n in (account.customer.name_kana, account.customer.name, account.nickname) if n)


def _relay_text(turn: Turn) -> str:
    if turn.incoming.kind == EventKind.STICKER:
        return messages.HANDOFF_STICKER_NOTE
    if turn.incoming.kind == EventKind.MEDIA:
        return messages.HANDOFF_MEDIA_NOTE
    if turn.incoming.kind == EventKind.POSTBACK:
        return f"（ボタン操作: {turn.incoming.postback_data[:100]}）"
    return turn.text


def intercept(turn: Turn) -> bool:
    """While a handoff is open, relay everything to staff and answer nothing (True = handled)."""
    if turn.incoming.kind not in (EventKind.TEXT, EventKind.POSTBACK, EventKind.STICKER, EventKind.MEDIA):
        return False
    handoff = handoffs.find_open(turn.db, turn.user_id, lock=True)
    if handoff is None:
        _remember(turn)
        return False
    if turn.incoming.kind == EventKind.TEXT and command_text(turn.text) in BACK_KEYS:
        handoffs.close(handoff, CLOSED_BY_CUSTOMER, turn.now)
        handoffs.add_message(turn.db, handoff, "closed", {"closed_by": CLOSED_BY_CUSTOMER,
                                                          "closed_at": turn.now.isoformat()}, turn.now)
        turn.say(messages.HANDOFF_CLOSED_BY_CUSTOMER)
        turn.effect(StaffOutbox(handoff.id))
        turn.signal("handoff_closed")
        return True
    handoffs.add_message(turn.db, handoff, "customer", {"text": _relay_text(turn), "kind": str(turn.incoming.kind)},
                         turn.now)
    _acknowledge_after_hours(turn, handoff)
    turn.effect(StaffOutbox(handoff.id))
    return True


def _back_to_bot() -> tuple[QuickReply, ...]:
    """What every bot message of an open handoff (and every staff reply) offers: back to the bot."""
    return (QuickReply(messages.QR_BACK_TO_BOT, messages.QR_BACK_TO_BOT),)


def _acknowledge_after_hours(turn: Turn, handoff: Handoff) -> None:
    """Outside staffed hours, say once when staff will answer (once per stretch of closed hours:
    the evening's messages get one answer, and so does the next evening's); staff see it too."""
    hours = SupportHours.parse(turn.settings.support_hours, turn.settings.support_closed_days)
    if hours.is_open(turn.now):
        return
    opening = hours.next_opening(turn.now)
    if handoffs.told_next_opening(turn.db, handoff.id, opening.isoformat()):
        return
    handoffs.add_message(turn.db, handoff, handoffs.AFTER_HOURS, {
        "next_opening": opening.isoformat(), "told_at": turn.now.isoformat()}, turn.now)
    turn.say(messages.HANDOFF_AFTER_HOURS_ACK.format(opening=messages.opening_label(opening, turn.now),
                                                     hours=hours.text()), _back_to_bot())


def on_unfollow(turn: Turn) -> None:
    """A customer who blocks the account cannot be answered: the handoff ends and staff are told."""
    handoff = handoffs.find_open(turn.db, turn.user_id)
    if handoff is None:
        return
    handoffs.close(handoff, CLOSED_BY_CUSTOMER, turn.now)
    handoffs.add_message(turn.db, handoff, "closed", {"closed_by": CLOSED_BY_CUSTOMER, "blocked": True,
                                                      "closed_at": turn.now.isoformat()}, turn.now)
    turn.effect(StaffOutbox(handoff.id))


def _remember(turn: Turn) -> None:
    """Keep a masked copy of a text sent outside any flow, for a later handoff (answers typed
    inside a flow, such as a name or mail address during registration, are never kept)."""
    if turn.incoming.kind != EventKind.TEXT or turn.data or turn.state:
        return
    turn.remember(mask_text(turn.text)[:200])  # kept once the turn commits, with the conversation


def start(turn: Turn, _match: object = None) -> None:
    """Open a handoff: queue the escalation for staff and tell the customer when a person answers."""
    hours = SupportHours.parse(turn.settings.support_hours, turn.settings.support_closed_days)
    reason = REASON_ASKED
    kept: list[dict] = []
    if turn.store is not None and turn.limits is not None:
        try:
            if turn.limits.blocked_for(USER_MISMATCH, turn.user_id):
                reason = REASON_VERIFICATION_LIMIT
            kept = turn.store.recent_texts(turn.user_id)
        except StateUnavailable:
            log.info("handoff opened without the recent texts (state store unavailable)")
    # The word that asked for a person is the last text kept; staff need not read it.
    if kept and command_text(kept[-1]["text"]) in _ENTRY_KEYS:
        kept = kept[:-1]
    link = repositories.find_line_link(turn.db, turn.user_id)
    # Kept masked already (numbers, mail); the names the bot knows are masked now that it knows them.
    names = known_names(link)
    recent = [mask_text(item["text"], names) if names else item["text"] for item in kept]
    # What the bot made of each text (the intent it answered, the FAQ entry it offered), so staff
    # do not ask again; "" where it answered a command word.
    understood = [item.get("understood", "") for item in kept]
    customer_number = None
    if link is not None:
        customer_number = mask_customer_number(link.account.customer.customer_number)
    handoff = handoffs.open_handoff(turn.db, turn.user_id, reason, turn.now)
    within_hours = hours.is_open(turn.now)
    opened = {"line_user_id": turn.user_id, "linked": link is not None, "customer_number": customer_number,
              "reason": reason, "recent": recent, "understood": understood, "opened_at": turn.now.isoformat(),
              "within_hours": within_hours}
    if within_hours:
        turn.say(messages.HANDOFF_OPENED.format(hours=hours.text()), _back_to_bot())
    else:  # the customer is told here when staff answer: their next messages tonight need no answer
        opening = hours.next_opening(turn.now)
        opened["next_opening"] = opening.isoformat()
        turn.say(messages.HANDOFF_OPENED_AFTER_HOURS.format(
            hours=hours.text(), opening=messages.opening_label(opening, turn.now)), _back_to_bot())
    handoffs.add_message(turn.db, handoff, handoffs.OPENED, opened, turn.now)
    turn.effect(StaffOutbox(handoff.id))
    turn.effect(HandoffTimer(handoff.id))
    turn.signal("handoff_opened")


_ENTRY_KEYS = frozenset(command_text(w) for w in ENTRY_WORDS)


# -- the staff side (called by the edges, inside their own transaction) -------------------------
def is_staff_note(text: str) -> bool:
    """A staff reply starting with ``note:`` (any case, full-width colon too) stays with staff."""
    return nfkc(text).lstrip().lower().startswith("note:")


def staff_reply(handoff: Handoff, text: str, now: datetime) -> list[Reply]:
    """A person answered in the thread: what the customer gets (nothing once closed)."""
    if handoff.status == handoffs.CLOSED:
        return []
    handoffs.record_staff_reply(handoff, now)
    return [TextReply(text[:5000], _back_to_bot())]  # the chat is with staff: the way back is one tap


def close_by_staff(session, handoff: Handoff, closed_by: str, now: datetime) -> list[Reply]:
    """Staff pressed 対応完了: the handoff ends, staff are shown who and when, the customer is told."""
    if not handoffs.close(handoff, closed_by, now):
        return []
    handoffs.add_message(session, handoff, "closed", {"closed_by": closed_by, "closed_at": now.isoformat()}, now)
    return [TextReply(messages.HANDOFF_CLOSED)]


def no_reply_notice(session, handoff: Handoff, support_hours: str, now: datetime) -> list[Reply]:
    """Nobody answered in time: tell the customer (once) and offer the phone; staff see it too."""
    if handoff.status != handoffs.WAITING or handoff.first_staff_reply_at or handoff.no_reply_notified_at:
        return []
    handoff.no_reply_notified_at = now
    handoffs.add_message(session, handoff, "notice", {"notified_at": now.isoformat()}, now)
    text = messages.HANDOFF_NO_REPLY.format(free_call=messages.FREE_CALL,
                                            hours=SupportHours.parse(support_hours).text())
    return [TextReply(text, _back_to_bot())]


def no_reply_delay_seconds(support_hours: str, minutes: int, now: datetime,
                           closed_days: str = DEFAULT_CLOSED_DAYS) -> float:
    """When the no-reply notice is due: ``minutes`` after now within hours, else after the next opening."""
    opening = SupportHours.parse(support_hours, closed_days).next_opening(now)
    return max((opening - now).total_seconds(), 0) + minutes * 60


FLOW = Flow(
    name="handoff",
    entries=(Entry(words(*ENTRY_WORDS), start, intent=intents.HANDOFF),),
    intercept=intercept,
    on_unfollow=on_unfollow,
)
