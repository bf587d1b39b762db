"""Months as customers say them: 今月, 先月, 先々月, 8月, ８月, 八月, 2026年8月, 2026/8, 去年の12月, 令和7年3月.

``find_month`` reads the cleaned text (digits already ASCII) and returns a ``MonthSlot``:
either relative to this month (0, -1, -2, +1) or named (a month, with or without a year).
``resolve`` turns it into the first day of the month meant, in the customer's today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import jaconv

from storage.bills import add_months

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANA_MONTHS = {"いちがつ": 1, "にがつ": 2, "さんがつ": 3, "しがつ": 4, "ごがつ": 5, "ろくがつ": 6, "しちがつ": 7,
                "はちがつ": 8, "くがつ": 9, "じゅうがつ": 10, "じゅういちがつ": 11, "じゅうにがつ": 12}
_KANA_MONTH_RE = re.compile("|".join(sorted(_KANA_MONTHS, key=len, reverse=True)))

_RELATIVE = (  # longest first
    (re.compile(r"先々月|先先月|前々月|前前月|せんせんげつ|センセンゲツ|二か月前|二ヶ月前|先月の前|先月のさらに前|"
                r"前の前の月"), -2),
    (re.compile(r"先月|前月|せんげつ|センゲツ|一か月前|一ヶ月前|前回|ぜんかい|ゼンカイ|前の月|ひと月前|ひとつき前"),
     -1),
    (re.compile(r"来月|らいげつ|翌月"), 1),
    (re.compile(r"今月|こんげつ|コンゲツ|当月|今回|最新|直近|今度の引き落とし|こんどの引き落とし|次の引き落とし|次回の請求|"
                r"次の請求"), 0),
    (re.compile(r"半年前"), -6),
)
_MONTHS_AGO = re.compile(r"(\d{1,2})\s?(?:か|ヶ|カ|ヵ|ケ|ヵ)月前|(\d{1,2})\s?つ前の月")
_ERA = re.compile(r"(令和|r)\s?(\d{1,2}|元)年")
_YEAR = re.compile(r"((?:19|20)\d{2})年")
_NUMERIC = re.compile(r"((?:19|20)\d{2})\s?[/\-.]\s?(\d{1,2})(?![\d/\-.])")
_MONTH = re.compile(r"(?<![\d.])(\d{1,2})\s?(?:月|がつ)")
_KANJI_MONTH = re.compile(r"(十[一二]?|[一二三四五六七八九])月")
_LAST_YEAR = re.compile(r"去年|昨年|前年|きょねん|さくねん")
_YEAR_BEFORE = re.compile(r"一昨年|おととし|いっさくねん")
_THIS_YEAR = re.compile(r"今年|本年|ことし|今年度")


@dataclass(frozen=True)
class MonthSlot:
    """A month the customer named: ``offset`` from this month, or ``month`` with an optional ``year``."""

    offset: int | None = None
    month: int | None = None
    year: int | None = None
    year_offset: int | None = None  # 去年 = -1, 今年 = 0


def _kanji_count(text: str) -> int:
    """一 … 九十九 as a number (令和六年, 令和十年)."""
    tens, _, ones = text.rpartition("十")
    if "十" not in text:
        return _KANJI_DIGITS[text]
    return (_KANJI_DIGITS[tens] if tens else 1) * 10 + (_KANJI_DIGITS[ones] if ones else 0)


_KANJI_YEAR = re.compile(r"[〇零一二三四五六七八九]{4}(?=年)")
_KANJI_NUMBER = re.compile(r"(?<=令和)\s?[一二三四五六七八九十]{1,3}(?=年)")
_KANJI_AGO = re.compile(r"([一二三四五六七八九十]{1,3})\s?((?:か|ヶ|カ|ヵ|ケ)月前|つ前の月)")
_ERA_DOTTED = re.compile(r"(?:令和|r)\s?(\d{1,2})[./](\d{1,2})(?!\d)")


def find_month(text: str) -> MonthSlot | None:
    """The month ``text`` names, if any (``text`` cleaned: NFKC, lower case)."""
    text = _KANJI_YEAR.sub(lambda m: "".join(str(_KANJI_DIGITS[ch]) for ch in m.group(0)), text)
    text = _KANJI_NUMBER.sub(lambda m: str(_kanji_count(m.group(0).strip())), text)
    dotted = _ERA_DOTTED.search(text)  # R8.3
    if dotted and 1 <= int(dotted.group(2)) <= 12:
        return MonthSlot(month=int(dotted.group(2)), year=2018 + int(dotted.group(1)))
    text = _KANJI_AGO.sub(lambda m: str(_kanji_count(m.group(1))) + m.group(2), text)
    ago = _MONTHS_AGO.search(text)
    if ago and 0 < int(ago.group(1) or ago.group(2)) <= 24:
        return MonthSlot(offset=-int(ago.group(1) or ago.group(2)))
    numeric = _NUMERIC.search(text)
    if numeric and 1 <= int(numeric.group(2)) <= 12:
        return MonthSlot(month=int(numeric.group(2)), year=int(numeric.group(1)))
    month = None
    found = _MONTH.search(text)
    if found and 1 <= int(found.group(1)) <= 12:
        month = int(found.group(1))
    else:
        kanji = _KANJI_MONTH.search(text)
        if kanji:
            month = _kanji_count(kanji.group(1))
        else:
            kana = _KANA_MONTH_RE.search(jaconv.kata2hira(text))  # ｲﾁｶﾞﾂ as いちがつ
            if kana:
                month = _KANA_MONTHS[kana.group(0)]
    if month is None:
        # The first month the text names: 「今月の料金…先月より高い」 asks about this month.
        found_at = [(m.start(), offset) for pattern, offset in _RELATIVE if (m := pattern.search(text))]
        return MonthSlot(offset=min(found_at)[1]) if found_at else None
    era = _ERA.search(text)
    if era:
        number = 1 if era.group(2) == "元" else int(era.group(2))
        return MonthSlot(month=month, year=2018 + number)
    year = _YEAR.search(text)
    if year:
        return MonthSlot(month=month, year=int(year.group(1)))
    if _YEAR_BEFORE.search(text):
        return MonthSlot(month=month, year_offset=-2)
    if _LAST_YEAR.search(text):
        return MonthSlot(month=month, year_offset=-1)
    if _THIS_YEAR.search(text):
        return MonthSlot(month=month, year_offset=0)
    return MonthSlot(month=month)


def resolve(slot: MonthSlot, today: date) -> date:
    """The first day of the month meant. With no year: the latest such month that is not in the future."""
    this_month = date(today.year, today.month, 1)
    if slot.offset is not None:
        return add_months(this_month, slot.offset)
    assert slot.month is not None
    if slot.year is not None:
        return date(slot.year, slot.month, 1)
    if slot.year_offset is not None:
        return date(today.year + slot.year_offset, slot.month, 1)
    year = today.year if slot.month <= today.month else today.year - 1
    return date(year, slot.month, 1)
