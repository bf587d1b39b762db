"""The bills as a bar chart: one pure function of the statements, drawn twice.

``bill_bars(statements)`` turns months and totals into bars, newest first; the LINE edge draws
them as Flex boxes (``handlers.line.render.render_bill_list``, the 料金一覧 reply) and the web
bill list as server-rendered SVG (``templates/mypage/bills.html``). Neither drawing computes a
length or formats money itself, so the chat and the page always show the same picture.

A bar's length is its total as a share of the largest total shown (the longest bar fills the
width). A zero or negative total (a month of credits) has no bar, only its amount; a positive
total too small to round to 1% still gets 1%, so no real bill looks like nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot import messages

MAX_BARS = 12  # the bill list's window: one year


class MonthTotal(Protocol):
    """Anything with a billing month and a total in yen (a statement, a bill list entry)."""

    billing_month: date
    total: int


@dataclass(frozen=True)
class Bar:
    """One month of the chart."""

    billing_month: date
    month: str  # 2026年11月
    total: int  # yen
    amount: str  # 10,512円, −550円
    percent: int  # the bar's length, 0..100, as a share of the longest bar


def bill_bars(statements: Iterable[MonthTotal]) -> tuple[Bar, ...]:
    """The newest ``MAX_BARS`` months as bars, newest first, each scaled to the largest total."""
    newest = sorted(statements, key=lambda s: s.billing_month, reverse=True)[:MAX_BARS]
    largest = max((s.total for s in newest), default=0)
    return tuple(Bar(billing_month=s.billing_month, month=messages.month_label(s.billing_month), total=s.total,
                     amount=messages.signed_yen(s.total), percent=_percent(s.total, largest))
                 for s in newest)


def _percent(total: int, largest: int) -> int:
    if total <= 0 or largest <= 0:
        return 0
    return max(1, round(total * 100 / largest))
