"""Support hours (weekdays but public holidays, Asia/Tokyo) and the masking of the transcript staff see."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.flows.handoff import mask_text, no_reply_delay_seconds
from bot.hours import TOKYO, SupportHours

HOURS = SupportHours.parse("09:00-17:00")


@pytest.mark.parametrize("moment, is_open", [
    (datetime(2026, 12, 1, 9, 0), True),     # Tuesday opening
    (datetime(2026, 12, 1, 16, 59), True),
    (datetime(2026, 12, 1, 17, 0), False),   # closing time
    (datetime(2026, 12, 1, 8, 59), False),
    (datetime(2026, 12, 5, 10, 0), False),   # Saturday
    (datetime(2026, 12, 6, 10, 0), False),   # Sunday
    (datetime(2026, 11, 23, 10, 0), False),  # a Monday, 勤労感謝の日
    (datetime(2026, 5, 6, 10, 0), False),    # a Wednesday, 振替休日 (憲法記念日 fell on a Sunday)
    (datetime(2026, 9, 22, 10, 0), False),   # a Tuesday, 国民の休日 (between two holidays)
    (datetime(2026, 11, 24, 10, 0), True),   # the Tuesday after a holiday
])
def test_open_on_weekdays_within_the_hours(moment, is_open):
    assert HOURS.is_open(moment.replace(tzinfo=TOKYO)) is is_open


@pytest.mark.parametrize("moment, opening", [
    (datetime(2026, 12, 1, 7, 0), datetime(2026, 12, 1, 9, 0)),    # before opening: the same day
    (datetime(2026, 12, 1, 18, 0), datetime(2026, 12, 2, 9, 0)),   # evening: the next day
    (datetime(2026, 12, 4, 18, 0), datetime(2026, 12, 7, 9, 0)),   # Friday evening: Monday
    (datetime(2026, 12, 6, 12, 0), datetime(2026, 12, 7, 9, 0)),   # Sunday: Monday
    (datetime(2026, 11, 20, 18, 0), datetime(2026, 11, 24, 9, 0)),  # Friday evening, Monday a holiday: Tuesday
    (datetime(2026, 9, 18, 17, 30), datetime(2026, 9, 24, 9, 0)),   # before Silver Week: the Thursday after
    (datetime(2026, 5, 1, 18, 0), datetime(2026, 5, 7, 9, 0)),     # before Golden Week: the Thursday after
    (datetime(2026, 12, 31, 18, 0), datetime(2027, 1, 4, 9, 0)),   # New Year's Eve evening: 元日, then the weekend
])
def test_next_opening(moment, opening):
    assert HOURS.next_opening(moment.replace(tzinfo=TOKYO)) == opening.replace(tzinfo=TOKYO)


def test_hours_text_and_a_bad_setting():
    assert SupportHours.parse("10:30-18:00").text() == "10:30〜18:00"
    assert SupportHours.parse("nonsense").text() == "9:00〜17:00"
    assert SupportHours.parse("18:00-09:00").text() == "9:00〜17:00"


def test_no_reply_delay_within_and_outside_hours():
    tuesday = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
    assert no_reply_delay_seconds("09:00-17:00", 15, tuesday) == 15 * 60
    friday_night = datetime(2026, 12, 4, 23, 0, tzinfo=TOKYO)
    assert no_reply_delay_seconds("09:00-17:00", 15, friday_night) == (58 * 60 + 15) * 60


@pytest.mark.parametrize("text, masked", [
    ("番号は12345678です", "番号は********です"),
    ("電話 0748-62-1234 まで", "電話 ************ まで"),
    ("１２３４５６７８", "********"),
    ("mail taro@example.jp です", "mail ***@*** です"),
    ("今月の料金", "今月の料金"),
    ("3月に", "3月に"),
])
def test_transcript_masks_numbers_and_mail(text, masked):
    assert mask_text(text) == masked
