"""Bills in the chat: 今月の料金, 先月の料金, a named month, and 料金一覧 (stateless entry points).

Every answer is for the LINE user's linked account only. A bill card carries a bearer
link to the web detail page (15 minutes; see ``storage.bills``). Months are Asia/Tokyo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from bot import messages
from bot.engine import Entry, Flow, Turn, words
from bot.types import AccountLinkPrompt, BillCard, BillLine, BillList, BillListEntry, QuickReply
from bot.understanding import intents, months
from storage import bills
from storage.bills import Bill, LinkedAccount
from storage.timezone import TOKYO

THIS_MONTH_WORDS = words("今月の料金", "今月の請求", "今月の請求額", "今月のご請求", "今月の利用料金",
                         "今月のご利用料金", "料金", "請求額", "請求", "ご請求額", "今月分", "今月の料金は")
LAST_MONTH_WORDS = words("先月の料金", "先月の請求", "先月の請求額", "先月のご請求", "先月の利用料金",
                         "先月のご利用料金", "先月分", "前月の料金", "先月の料金は")
LIST_WORDS = words("料金一覧", "請求一覧", "料金の一覧", "ご利用料金の一覧", "料金履歴", "過去の料金", "請求履歴")

_SUFFIX = r"(?:分)?(?:の)?(?:ご?利用料金|料金|ご?請求額?|明細)?(?:は)?"
_YEAR_MONTH = re.compile(r"(\d{4})年(\d{1,2})月" + _SUFFIX)
_NUMERIC = re.compile(r"(\d{4})[/\-.](\d{1,2})" + _SUFFIX)
_MONTH_ONLY = re.compile(r"(\d{1,2})月" + _SUFFIX)


@dataclass(frozen=True)
class MonthRequest:
    """A month named by the customer; ``year`` is None for 「9月の料金」 (the nearest such month so far)."""

    year: int | None
    month: int


def parse_month(key: str) -> MonthRequest | None:
    """``2026年9月の料金``, ``9月の料金``, ``2026/9``, ``2026-09`` (command text) -> the month, else None."""
    for pattern, has_year in ((_YEAR_MONTH, True), (_NUMERIC, True), (_MONTH_ONLY, False)):
        found = pattern.fullmatch(key)
        if found:
            year = int(found.group(1)) if has_year else None
            month = int(found.group(2 if has_year else 1))
            if not 1 <= month <= 12 or (year is not None and not 2000 <= year <= 2100):
                return None
            return MonthRequest(year, month)
    return None


def resolve_month(request: MonthRequest, today: date) -> date:
    """The billing month meant: with no year, this year's if not in the future, else last year's."""
    return months.resolve(months.MonthSlot(month=request.month, year=request.year), today)


def month_command(month: date) -> str:
    """What a month button sends (and what the customer could type)."""
    return messages.BILL_MONTH_COMMAND.format(month=messages.month_label(month))


def today(turn: Turn) -> date:
    """Today in Asia/Tokyo (bills and "this month" are Tokyo's)."""
    return turn.now.astimezone(TOKYO).date()


def _active(account: LinkedAccount | None) -> LinkedAccount | None:
    return account if account is not None and account.status == "active" else None


def _linked_account(turn: Turn) -> LinkedAccount | None:
    return _active(bills.linked_account(turn.db, turn.user_id))


def _not_linked(turn: Turn) -> None:
    """Explain, offer the web login (LINE account link) and 登録."""
    turn.reply(AccountLinkPrompt(messages.BILL_NOT_LINKED, messages.BILL_LINK_BUTTON))
    turn.say(messages.BILL_REGISTER_HINT, [QuickReply(messages.QR_REGISTER, messages.QR_REGISTER),
                                           QuickReply(messages.QR_HELP, messages.QR_HELP)])


def _other_months(turn: Turn, shown: date, asked_this_month: bool = False) -> tuple[QuickReply, ...]:
    """The quick replies under a bill: other months than the one shown (今月の料金 unless it is this
    month's or was just asked for, 先月の料金 unless it is last month's, and the month before the
    one shown), then 料金一覧 and ヘルプ."""
    this = bills.month_start(today(turn))
    last = bills.add_months(this, -1)
    before = bills.add_months(shown, -1)
    choices = []
    if shown != this and not asked_this_month:
        choices.append(QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH))
    if shown != last:
        choices.append(QuickReply(messages.QR_LAST_MONTH, messages.QR_LAST_MONTH))
    if before != last and before >= bills.EARLIEST_MONTH:
        choices.append(QuickReply(month_command(before), month_command(before)))
    return (*choices, QuickReply(messages.QR_BILL_LIST, messages.QR_BILL_LIST),
            QuickReply(messages.QR_HELP, messages.QR_HELP))


def _card(turn: Turn, account: LinkedAccount, statement: Bill, asked_this_month: bool = False) -> BillCard:
    token = bills.issue_bill_link(turn.db, account, statement, turn.now)
    return BillCard(
        billing_month=statement.billing_month,
        total=statement.total,
        items=tuple(BillLine(item.name, item.amount) for item in statement.items),
        detail_url=turn.url(f"/mypage/bills/{statement.id}?t={token}"),
        due_date=statement.due_date,
        payment_method=statement.payment_method,
        note=messages.BILL_LINK_NOTE,
        quick_replies=_other_months(turn, statement.billing_month, asked_this_month),
    )


def _available(turn: Turn, account: LinkedAccount) -> tuple[str, list[QuickReply]] | None:
    """The months that can be shown, as text and as quick replies (newest first); None if none."""
    months = [s.billing_month for s in bills.recent_statements(turn.db, account.customer_id)]
    if not months:
        return None
    text = "、".join(messages.month_label(m) for m in months)
    return text, [QuickReply(messages.month_label(m), month_command(m)) for m in months]


def show_month(turn: Turn, month: date) -> None:
    """The statement for ``month``, or a clear 'none for that month' with the months that exist."""
    linked, statement = bills.linked_bill(turn.db, turn.user_id, month)
    account = _active(linked)
    if account is None:
        _not_linked(turn)
        return
    if statement is not None:
        turn.reply(_card(turn, account, statement))
        return
    found = _available(turn, account)
    if found is None:  # no bill at all yet
        turn.say(messages.BILL_NONE_YET, [QuickReply(messages.QR_HELP, messages.QR_HELP)])
        return
    available, choices = found
    if month < bills.EARLIEST_MONTH:
        turn.say(messages.BILL_BEFORE_EARLIEST.format(months=available), choices)
    else:
        turn.say(messages.BILL_MONTH_NOT_FOUND.format(month=messages.month_label(month), months=available),
                 choices)


def this_month(turn: Turn, _match: object = None) -> None:
    """今月の料金: this month's statement, or the newest with a word that this month's is not out yet."""
    month = bills.month_start(today(turn))
    linked, statement = bills.linked_bill(turn.db, turn.user_id, month)
    account = _active(linked)
    if account is None:
        _not_linked(turn)
        return None
    if statement is None:
        newest = bills.newest_bill(turn.db, account.customer_id)
        if newest is None:
            turn.say(messages.BILL_NONE_YET, [QuickReply(messages.QR_HELP, messages.QR_HELP)])
            return None
        turn.say(messages.BILL_NONE_THIS_MONTH.format(month=messages.month_label(month),
                                                      latest=messages.month_label(newest.billing_month)))
        statement = newest
    turn.reply(_card(turn, account, statement, asked_this_month=True))
    return None


def last_month(turn: Turn, _match: object = None) -> None:
    """先月の料金."""
    show_month(turn, bills.add_months(bills.month_start(today(turn)), -1))
    return None


def named_month(turn: Turn, request: MonthRequest) -> None:
    """2026年9月の料金, 9月の料金, 2026/9, 2026-09."""
    show_month(turn, resolve_month(request, today(turn)))
    return None


def bill_list(turn: Turn, _match: object = None) -> None:
    """料金一覧: up to 12 months, newest first, none before 2020-07, each tappable."""
    account = _linked_account(turn)
    if account is None:
        _not_linked(turn)
        return None
    statements = bills.recent_statements(turn.db, account.customer_id)
    if not statements:
        turn.say(messages.BILL_NONE_YET, [QuickReply(messages.QR_HELP, messages.QR_HELP)])
        return None
    turn.reply(BillList(
        entries=tuple(BillListEntry(s.billing_month, s.total, month_command(s.billing_month)) for s in statements),
        quick_replies=(QuickReply(messages.QR_THIS_MONTH, messages.QR_THIS_MONTH),
                       QuickReply(messages.QR_HELP, messages.QR_HELP)),
    ))
    return None


FLOW = Flow(
    name="billing",
    entries=(
        Entry(THIS_MONTH_WORDS, this_month, intent=intents.BILL_THIS_MONTH),
        Entry(LAST_MONTH_WORDS, last_month, intent=intents.BILL_LAST_MONTH),
        Entry(LIST_WORDS, bill_list, intent=intents.BILL_LIST),
        Entry(parse_month, named_month, intent=intents.BILL_MONTH),
    ),
)
