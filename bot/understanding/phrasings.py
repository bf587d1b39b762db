"""Borrowed phrasings: how customers asked other operators' FAQ the same questions.

An operator's FAQ file (``import-faq``) holds each question once, in the operator's words,
with a few examples at most; customers write 「引っ越し　ネット」 or 「1ギガにあげたい」. Our
labelled sets hold about 2,000 customer phrasings of eight operators' FAQ questions (moving,
cancelling, the debit date, a TV with no picture …), each written by someone who saw only the
topic. ``data/faq_phrasings.csv`` keeps them as (question, customer's text).

When an FAQ is fitted, each of those questions is looked up in it like a customer's text
would be: when one entry clearly answers it (``MAP_MIN``, ``MAP_LEAD``), the entry borrows up
to ``PER_QUESTION`` of its phrasings (``PER_ENTRY`` in all), keeping those that name one of the
entry's own topics (so 「肉じゃがの作り方教えて」 does not meet 「マイページの作り方教えて」). Borrowed
phrasings weigh less than the entry's own words (``faq.BORROWED_WEIGHT``/``BORROWED_FACTOR``).
The entry's answer is still the operator's, verbatim: only the ranking learns.

``python -m bench understanding`` measures it leaving one FAQ file out: each set is read with a
bank drawn from the other operators' sets only (``python -m bench understanding
--write-phrasings`` rewrites the file from all of them).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from bot.understanding import stored
from bot.understanding.analysis import Analysis, analyse
from bot.understanding.faq import BM25_SHARE, FaqEntry, FaqIndex, FaqMatch
from bot.understanding.ranking import Ranker, shipped_ranker

PHRASINGS_FILE = Path(__file__).with_name("data") / "faq_phrasings.csv"
MAP_MIN = 0.5  # how well a bank question must match an entry to lend it its phrasings
MAP_LEAD = 1.3  # … and by how much it must lead the next entry
PER_QUESTION = 16  # phrasings lent by one bank question
# Phrasings borrowed by one entry at most, taken in turn from each bank question it answers: the
# bigram views are most of a message's CPU, and an entry every operator has (moving) borrowed over a
# hundred. 64 cost 2 FAQ phrasings of 4,045 (48: 14) and 14% of the ranking's CPU (2026-12-05).
PER_ENTRY = 64

Bank = tuple[tuple[Analysis, tuple[Analysis, ...]], ...]


def make_bank(pairs: Iterable[tuple[str, str]], analyse: Callable[[str], Analysis] = analyse) -> Bank:
    """(question, customer's text) pairs, grouped by question and analysed (capped per question)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for question, text in pairs:
        if len(grouped[question]) < PER_QUESTION:
            grouped[question].append(text)
    return tuple((analyse(question), tuple(analyse(text) for text in texts)) for question, texts in grouped.items())


def shipped_pairs() -> list[tuple[str, str]]:
    """(question, customer's text) rows of ``data/faq_phrasings.csv``."""
    with PHRASINGS_FILE.open(encoding="utf-8", newline="") as stream:
        return [(row["question"], row["text"]) for row in csv.DictReader(stream)]


@functools.cache
def shipped_bank() -> Bank:
    """The bank in ``data/faq_phrasings.csv``, loaded once per process (stored analysed)."""
    return make_bank(shipped_pairs(), stored.analysed)


Plan = dict[str, list[tuple[int, int]]]  # entry id -> (bank question, phrasing) numbers it borrows


def borrowed_for(index: FaqIndex, bank: Bank) -> dict[str, list[Analysis]]:
    """The phrasings each entry of ``index`` borrows: of the bank questions it clearly answers."""
    return _borrowed(lending_plan(index, bank), bank)


def lending_plan(index: FaqIndex, bank: Bank) -> Plan:
    """Which of the bank's phrasings each entry borrows, by number (``borrowed_for``'s work, in a form
    ``import-faq`` stores with the set so that no process does it again: ``stored_plan``)."""
    borrowed: dict[str, list[Iterator[tuple[int, int]]]] = defaultdict(list)
    for number, (question, texts) in enumerate(bank):
        entry = _clear_answer(index, question)
        topics = index.topics(entry) if entry is not None else frozenset()
        if topics:  # an entry that names no topic (「その他のお問い合わせ」) borrows nothing
            borrowed[entry.id].append(_lendable(index, number, texts, entry, topics))
    return {entry: _spread(lists, PER_ENTRY) for entry, lists in borrowed.items()}


def _borrowed(plan: Plan, bank: Bank) -> dict[str, list[Analysis]]:
    return {entry: [bank[q][1][t] for q, t in taken] for entry, taken in plan.items()}


def _lendable(index: FaqIndex, number: int, texts: Iterable[Analysis], entry: FaqEntry,
              topics: frozenset[str]) -> Iterator[tuple[int, int]]:
    """The bank question's phrasings that ``entry`` may borrow, checked as they are taken (an entry
    takes at most ``PER_ENTRY``: many are never checked, a quarter fewer lookups at fitting). A phrasing
    the operator's own words clearly send to another entry stays there: one lent for 「機器の故障」
    (「リモコンなくした」) is this FAQ's own 「リモコン」 entry's."""
    return ((number, i) for i, text in enumerate(texts)
            if text.concepts & topics and _clear_answer(index, text) in (None, entry))


def _spread(lists: list[Iterator[tuple[int, int]]], limit: int) -> list[tuple[int, int]]:
    """At most ``limit`` of the phrasings, taken in turn from each bank question's."""
    out: list[tuple[int, int]] = []
    for row in itertools.zip_longest(*lists):
        out.extend(text for text in row if text is not None)
        if len(out) >= limit:
            break
    return out[:limit]


def _clear_answer(index: FaqIndex, analysis: Analysis) -> FaqEntry | None:
    """The entry that clearly answers ``analysis`` by the operator's own words (at least ``MAP_MIN``,
    leading the next by ``MAP_LEAD``), or None."""
    found = index.search(analysis, limit=2)
    if not found or found[0].score < MAP_MIN or (len(found) > 1 and found[0].score < MAP_LEAD * found[1].score):
        return None
    return found[0].entry


class BorrowingIndex(FaqIndex):
    """An FAQ index whose entries also rank by their borrowed phrasings, for a text that names one
    of the entry's topics; a text that names none (「寒すぎて布団から出られない」) is ranked by the
    operator's own words alone, so small talk does not meet a borrowed phrasing's chance words."""

    def __init__(self, entries: Sequence[FaqEntry], analyse: Callable[[str], Analysis], bm25_share: float,
                 borrowed: dict[str, list[Analysis]], ranker: Ranker | None = None) -> None:
        super().__init__(entries, analyse, bm25_share, ranker=ranker)
        self._borrowing = FaqIndex(entries, analyse, bm25_share, borrowed)
        self.borrowed = self._borrowing.borrowed

    def matches(self, analysis: Analysis) -> list[FaqMatch]:
        own = super().matches(analysis)
        named = analysis.concepts
        if not named:  # small talk: the operator's own words alone, and no need to rank the borrowed
            return own
        lent = {m.entry.id: m for m in self._borrowing.matches(analysis)}
        matches = []
        for m in own:
            other = lent[m.entry.id]
            chosen = other if named & self.topics(m.entry) else m
            matches.append(FaqMatch(m.entry, chosen.score, chosen.bm25, chosen.bigrams, m.score, other.score))
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches


def fit(entries: Sequence[FaqEntry], analyse: Callable[[str], Analysis] = analyse,
        bank: Bank | None = None, bm25_share: float = BM25_SHARE, ranker: Ranker | None | bool = True,
        plan: str | None = None) -> FaqIndex:
    """The FAQ's index, its entries ranked with the phrasings they borrow (``bank``: the shipped one)
    and ordered by ``ranker`` (``True``: the shipped one; ``None``: by score alone). ``plan``: what
    ``stored_plan`` wrote at import; used when it was made for these entries, this bank and this code
    (else the lending is worked out again, as without one)."""
    once = functools.cache(analyse)  # the entries' texts are analysed once for the three fits
    ranker = shipped_ranker() if ranker is True else ranker or None
    known = read_plan(plan, entries) if bank is None and bm25_share == BM25_SHARE else None
    if known is not None:
        borrowed = _borrowed(known, shipped_bank())
    else:
        borrowed = borrowed_for(FaqIndex(entries, once, bm25_share), shipped_bank() if bank is None else bank)
    if not borrowed:
        return FaqIndex(entries, once, bm25_share, ranker=ranker)
    return BorrowingIndex(entries, once, bm25_share, borrowed, ranker)


# -- the plan stored with the set -----------------------------------------------------------------
_PLAN_SOURCES = ("faq.py", "phrasings.py")  # the ranking the lending is decided by, beside the analysis'


def _plan_key(entries: Sequence[FaqEntry]) -> str:
    """What a plan was made for: these entries, the shipped bank, and the code that reads them."""
    digest = hashlib.sha256(stored.fingerprint().encode())
    for name in _PLAN_SOURCES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    digest.update(PHRASINGS_FILE.read_bytes())
    digest.update(json.dumps([(e.id, e.question, e.answer, list(e.examples)) for e in entries],
                             ensure_ascii=False).encode())
    return digest.hexdigest()[:32]


def stored_plan(entries: Sequence[FaqEntry]) -> str:
    """The shipped bank's lending to ``entries``, as JSON for the FAQ set's row (``import-faq``)."""
    plan = lending_plan(FaqIndex(entries, functools.cache(analyse), BM25_SHARE), shipped_bank())
    return json.dumps({"key": _plan_key(entries), "plan": plan}, separators=(",", ":"))


def read_plan(text: str | None, entries: Sequence[FaqEntry]) -> Plan | None:
    if not text:
        return None
    try:
        data = json.loads(text)
        if data.get("key") != _plan_key(entries):
            return None  # made for other entries, another bank or other code: worked out again
        return {entry: [(int(q), int(t)) for q, t in taken] for entry, taken in data["plan"].items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
