"""The bill chart's one function of the statements (``bot.charts.bill_bars``), drawn by LINE and the web."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from bot.charts import MAX_BARS, bill_bars


@dataclass(frozen=True)
class Month:
    billing_month: date
    total: int


def months(*totals: int, newest: date = date(2026, 11, 1)) -> list[Month]:
    """``totals`` newest first, one a month back from ``newest``."""
    out, year, month = [], newest.year, newest.month
    for total in totals:
        out.append(Month(date(year, month, 1), total))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out


def test_no_statements_no_bars():
    assert bill_bars([]) == ()


def test_one_month_fills_the_width():
    (bar,) = bill_bars(months(5280))
    assert (bar.month, bar.total, bar.amount, bar.percent) == ("2026年11月", 5280, "5,280円", 100)
    assert bar.billing_month == date(2026, 11, 1)


def test_twelve_months_newest_first_scaled_to_the_largest():
    totals = [8043, 8100, 9992, 12000, 6000, 3000, 0, 7777, 8043, 8043, 4321, 10000]
    statements = months(*totals)
    bars = bill_bars(reversed(statements))  # the order given does not matter
    assert [b.billing_month for b in bars] == [s.billing_month for s in statements]
    assert [b.month for b in bars][:3] == ["2026年11月", "2026年10月", "2026年9月"]
    assert bars[-1].month == "2025年12月"
    assert [b.percent for b in bars] == [67, 68, 83, 100, 50, 25, 0, 65, 67, 67, 36, 83]
    assert bars[3].amount == "12,000円"


def test_more_than_a_year_keeps_the_newest_twelve():
    bars = bill_bars(months(*range(1000, 1000 + 15 * 100, 100)))
    assert len(bars) == MAX_BARS == 12
    assert bars[0].month == "2026年11月" and bars[-1].month == "2025年12月"


def test_all_zero_totals_draw_no_bars_and_do_not_divide_by_zero():
    bars = bill_bars(months(0, 0, 0))
    assert [b.percent for b in bars] == [0, 0, 0]
    assert [b.amount for b in bars] == ["0円", "0円", "0円"]


@pytest.mark.parametrize(("totals", "percents", "amounts"), [
    ((-550, 1000), [0, 100], ["−550円", "1,000円"]),  # a credit month: no bar, a true minus
    ((-550, -100), [0, 0], ["−550円", "−100円"]),  # nothing positive at all
    ((0, 2000, -1), [0, 100, 0], ["0円", "2,000円", "−1円"]),
])
def test_zero_and_negative_totals_have_no_bar_but_keep_their_amount(totals, percents, amounts):
    bars = bill_bars(months(*totals))
    assert [b.percent for b in bars] == percents
    assert [b.amount for b in bars] == amounts
    assert all("-" not in b.amount for b in bars)  # never the ASCII hyphen


def test_equal_totals_are_equal_full_bars():
    bars = bill_bars(months(*[5280] * 6))
    assert {b.percent for b in bars} == {100}


def test_a_tiny_positive_total_still_shows():
    bars = bill_bars(months(1_000_000, 1))
    assert [b.percent for b in bars] == [100, 1]


def test_large_amounts_are_grouped():
    (bar,) = bill_bars(months(1_234_567))
    assert bar.amount == "1,234,567円"
