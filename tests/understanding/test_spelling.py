"""Kana-only messages spelled again in the FAQ's kanji (``bot.understanding.spelling``)."""

from __future__ import annotations

import pytest

from bench.understanding import SETS, load_faq
from bot.understanding.analysis import analyse
from bot.understanding.analyzer import shared_analyzer
from bot.understanding.phrasings import fit
from bot.understanding.reader import read
from bot.understanding.spelling import Speller, kana_only, shipped_spellings
from bot.understanding.text import clean


@pytest.fixture(scope="module")
def index():
    return fit(load_faq(SETS["ours"][1]))


def speller(*texts: str, known: dict[str, str] | None = None) -> Speller:
    return Speller([t for text in texts for t in shared_analyzer().tokens(text)], known={} if known is None else known)


def test_known_readings_are_spelled_longest_first_and_the_rest_kept():
    words = speller("番組表と番組、固定電話の番号")
    assert words.respell("バングミヒョウ ミタイ") == "番組表 ミタイ"
    assert words.respell("こていでんわの ばんごう") == "固定電話の 番号"


def test_a_single_kanji_or_a_short_reading_is_never_spelled():
    """係 (カカリ) would turn 「おかね かかりますか」 into a request for a person; 家 (イエ) hides in every いえ."""
    words = speller("係の者と家の電話", known={})
    assert words.respell("おかね かかりますか") == "おかね かかりますか"
    assert "家" not in words.respell("いいえ")


@pytest.mark.parametrize(("text", "expected"), [
    ("ﾊﾞﾝｸﾞﾐﾋｮｳ", True), ("こんげつの りょうきん", True), ("ネット", True), ("12345", False),
    ("今月の りょうきん", False), ("wifi", False), ("ね", False),
])
def test_only_kana_messages_are_spelled(text, expected):
    assert kana_only(clean(text)) is expected


@pytest.mark.parametrize(("text", "entry"), [
    ("ﾊﾞﾝｸﾞﾐﾋｮｳ", "channels"),
    ("ﾂｳｼﾝｼｮｳｶﾞｲ ｼﾞｮｳﾎｳ", "outage"),
    ("ｵｷｬｸｻﾏﾊﾞﾝｺﾞｳ ﾄﾞｺ", "mypage_requirements"),
])
def test_half_width_keywords_find_the_entry_their_kanji_would(index, text, entry):
    reading = read(text, index)
    assert reading.faq is not None and reading.faq.entry.id == entry, reading.label()


def test_a_kana_question_about_money_is_not_a_request_for_a_person(index):
    assert read("まいぺーじは　おかね　かかりますか", index).intent != "handoff"


def test_the_shipped_vocabulary_holds_the_trades_words():
    words = shipped_spellings()
    assert words["ギンコウ"] == "銀行" and words["コテイ"] == "固定" and words["デンワ"] == "電話"
    assert all(len(word) >= 2 for word in words.values())


def test_kanji_text_is_read_as_written(index):
    a = analyse("番組表を見たい")
    assert read("番組表を見たい", index, analysis=a).analysis is a
