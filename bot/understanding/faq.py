"""Retrieval over the operators' FAQ: BM25 over normalised words and concepts, and character bigrams.

Fitted once per FAQ set (scikit-learn's fit-then-predict), then ``search`` is pure. Each
entry is read from its question, its examples (other ways customers ask) and, with less
weight, its answer: customers often use the answer's words (「ルーターの電源を入れ直しても」).

Two views, combined (``bench understanding`` measures each alone and together):

- **BM25** (Okapi, k1=1.2, b=0.75) over the analyser's normalised forms plus the lexicon's
  concepts, so 転居 meets 引っ越し and やめたい meets 解約. A question or example counts
  twice, the answer once (BM25F-style field weights). The score is divided by what the
  query would score against a perfect match, so it reads as "how much of what the customer
  wrote this entry explains" (0..1), comparable across FAQ files.
- **Character bigrams** of the question and each example (TF-IDF cosine, best view): it
  catches what the analyser splits oddly (hiragana-only text, typos).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bot.understanding.analysis import Analysis
from bot.understanding.analyzer import Token
from bot.understanding.intents import WEIGHTED as TOPICS
from bot.understanding.spelling import Speller
from storage.faq import FaqRow

K1 = 1.2
B = 0.75
QUESTION_WEIGHT = 2  # a question or example word counts this many times, an answer word once
BM25_SHARE = 0.6
# A topic concept (転居 and 引っ越し alike) weighs this many words in the query: it is what the
# customer asked about, where the words around it vary. Grammatical concepts (forget, change …) weigh one.
# 4 was best of 1, 1.5, 2, 3, 4 on all three labelled sets (bench understanding).
CONCEPT_WEIGHT = 4.0  # combined = BM25_SHARE * bm25 + (1 - BM25_SHARE) * bigrams
# Borrowed phrasings (``phrasings``: how customers asked other operators the same question) count
# as an answer word does in BM25, and their bigram views match at this share of an own view.
BORROWED_WEIGHT = 1
BORROWED_FACTOR = 0.85
# Of two entries that match a text alike (both questions name 解約, and a perfect BM25 match is 1.0
# for both), the one whose topics the text names more fully is the likelier: 「解約したい」 asks how to
# cancel, not about the minimum term that also names cancelling. At most this much is added (the
# share of the entry's topics the text names); 0.02 was best of 0.01, 0.02, 0.03, 0.05 and 0.1 on
# every labelled set (bench understanding), larger values start to override the ranking itself.
TOPIC_COVER = 0.02


# What is asked about a topic, weighing like the topic itself when the text names one: 「引き落としは
# 何日？」 asks the debit date, not what to do when a debit failed (which shares every other word).
ASKS = frozenset({"@when"})

FaqEntry = FaqRow  # one operator FAQ entry, as ``import-faq`` stored it


@dataclass(frozen=True)
class FaqMatch:
    """An entry and how well it matches: the combined score and its two parts."""

    entry: FaqEntry
    score: float
    bm25: float
    bigrams: float
    # With borrowed phrasings (``phrasings.BorrowingIndex``): the score by the operator's own words
    # alone, and with the borrowed ones; None where the index borrows nothing (both are ``score``).
    own: float | None = None
    lent: float | None = None


class Reranker(Protocol):
    """What puts the nearest entries in order again (``ranking.Ranker``, a learned model)."""

    def rerank(self, index: FaqIndex, a: Analysis, matches: Sequence[FaqMatch]) -> list[FaqMatch]: ...


def _gram_idf(view_grams: list[list[Counter[str]]], views: int) -> dict[str, float]:
    frequency: Counter[str] = Counter(g for grams in view_grams for view in grams for g in set(view))
    return {g: math.log((views + 1) / (df + 1)) + 1 for g, df in frequency.items()}


def _weigh(view_grams: list[list[Counter[str]]], idf: dict[str, float],
           factors: list[list[float]] | None = None) -> list[list[dict[str, float]]]:
    """Each view's bigrams as a TF-IDF vector of length 1 (or of its factor: a borrowed view)."""
    weighted = []
    for number, grams in enumerate(view_grams):
        vectors = []
        for position, view in enumerate(grams):
            vector = {g: n * idf[g] for g, n in view.items()}
            norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
            if factors is not None:
                norm /= factors[number][position]
            vectors.append({g: v / norm for g, v in vector.items()})
        weighted.append(vectors)
    return weighted


class _Postings:
    """An inverted index of weighted bigram views: for each bigram, the views (numbered in a row) that
    hold it and its weight there, as arrays; and where each entry's views start. A text's best cosine
    with each entry's views is then a few array operations, not a Python loop over every posting
    (that loop was 40% of a message's CPU). The sums are bitwise those of the loop: the products
    and their order are the same."""

    def __init__(self, entry_views: list[list[dict[str, float]]]) -> None:
        lists: dict[str, tuple[list[int], list[float]]] = {}
        starts: list[int] = []
        number = 0
        for views in entry_views:
            starts.append(number)
            for view in views:
                for gram, weight in view.items():
                    numbers, weights = lists.setdefault(gram, ([], []))
                    numbers.append(number)
                    weights.append(weight)
                number += 1
        self._grams = {gram: (np.array(numbers, dtype=np.intp), np.array(weights, dtype=np.float64))
                       for gram, (numbers, weights) in lists.items()}
        self._starts = np.array(starts, dtype=np.intp)
        self._views = number

    def best(self, shares: dict[str, float]) -> list[float]:
        """Each entry's best dot product of its views with the text's bigram ``shares``."""
        hits = [(self._grams[gram], share) for gram, share in shares.items() if gram in self._grams]
        if not hits:
            return [0.0] * len(self._starts)
        views = np.concatenate([numbers for (numbers, _w), _s in hits])
        products = np.concatenate([weights for (_n, weights), _s in hits]) * np.repeat(
            [share for _p, share in hits], [len(numbers) for (numbers, _w), _s in hits])
        dots = np.bincount(views, weights=products, minlength=self._views)
        return np.maximum.reduceat(dots, self._starts).tolist()


_NOT_IN_BIGRAMS = str.maketrans("", "", "、。,.!?？！「」()（）・…")


def bigrams(text: str) -> Counter[str]:
    """Character bigrams of ``text`` without spaces and punctuation (a single character stands for itself)."""
    compact = "".join(text.translate(_NOT_IN_BIGRAMS).split())  # split(): every kind of space
    if len(compact) < 2:
        return Counter([compact]) if compact else Counter()
    return Counter(map(str.__add__, compact, compact[1:]))


MEMBER_PAGE = "mypage"
_QUOTED = re.compile(r"「([^」]{2,16})」")
_QUOTED_EITHER = re.compile(r"[「『]([^」』]{2,16})[」』]")
_SENTENCES = re.compile(r"[^。\n]+")
# What an answer says of the member page when it names it: 「マイいよなだ」は、…会員専用のページです.
_IS_THE_MEMBER_PAGE = re.compile(r"会員|マイページ|ログイン|ウェブ|web|お客さま専用|お客様専用|専用ページ|専用サイト",
                                 re.IGNORECASE)
# Or, unquoted, the name heads a sentence that says it is the members' own page.
_NAMED_HEAD = re.compile(r"\s*([^\s、。,「」『』（）()]{2,16}?)は[、,]")
_IS_A_MEMBERS_PAGE = re.compile(r"(?:会員|専用).*(?:ページ|サイト|ポータル)(?:です|でございます)$")


def page_names(entries: Sequence[FaqEntry]) -> frozenset[str]:
    """The operator's own names for its member page (「マイいよなだ」, 「e-らいふ」): a name that an answer
    quotes and describes, in one sentence, as the members' page or its login, and that a question
    names too: quoted there (「マイいよなだ」の登録方法), or as it is (マイえちごとは何ですか？) where the
    answer's sentence is the name's own definition (「マイえちご」は、…会員ページです). Lower case, as
    texts are cleaned."""
    quoted = {name for entry in entries for name in _QUOTED.findall(entry.question)}
    asked = " ".join(text for entry in entries for text in (entry.question, *entry.examples))
    found = set()
    for entry in entries:
        for sentence in _SENTENCES.findall(entry.answer):
            # Unquoted, the name must head a sentence that says it is the members' own page:
            # 「みやこ会員ポータルは、…お客様専用のオンラインページです」.
            head = _NAMED_HEAD.match(sentence)
            if head and head.group(1) in asked and _IS_A_MEMBERS_PAGE.search(sentence):
                found.add(head.group(1).lower())
            for name in _QUOTED.findall(sentence):
                defined = sentence.lstrip().startswith(f"「{name}」は") or f"「{name}」とは" in sentence
                if (name in quoted or (defined and name in asked)) \
                        and _IS_THE_MEMBER_PAGE.search(sentence.replace(f"「{name}」", "")):
                    found.add(name.lower())
    return frozenset(found)


class FaqIndex:
    """The fitted index of one FAQ set."""

    def __init__(self, entries: Sequence[FaqEntry], analyse: Callable[[str], Analysis],
                 bm25_share: float = BM25_SHARE, borrowed: Mapping[str, Sequence[Analysis]] | None = None,
                 ranker: Reranker | None = None) -> None:
        self.entries = tuple(entries)
        self.ranker = ranker
        self.bm25_share = bm25_share
        self._analyse = analyse
        self.borrowed = {key: len(value) for key, value in (borrowed or {}).items()}
        self._topics: dict[str, frozenset[str]] = {}
        self._concepts: dict[str, frozenset[str]] = {}
        self.question_concepts: dict[str, frozenset[str]] = {}
        self.answer_terms: dict[str, frozenset[str]] = {}
        self.answer_concepts: dict[str, frozenset[str]] = {}
        docs: list[Counter[str]] = []
        view_grams: list[list[Counter[str]]] = []
        reading_grams: list[list[Counter[str]]] = []
        factors: list[list[float]] = []
        words: list[Token] = []  # the entries' own words, for ``speller``
        for entry in self.entries:
            doc, grams, readings, factor = self._read_entry(entry, (borrowed or {}).get(entry.id, ()), words)
            docs.append(doc)
            view_grams.append(grams)
            reading_grams.append(readings)
            factors.append(factor)
        self.speller = Speller(words)
        self.page_names = page_names(self.entries)
        for entry, doc in zip(self.entries, docs, strict=True):
            self._name_the_page(entry, doc)
            self._read_a_quoted_name(entry, doc)
        count = max(len(docs), 1)
        self._docs = docs
        self._lengths = [sum(d.values()) for d in docs]
        self._avg_length = (sum(self._lengths) / count) or 1.0
        frequency: Counter[str] = Counter(term for doc in docs for term in doc)
        self._idf = {term: math.log((count - df + 0.5) / (df + 0.5) + 1) for term, df in frequency.items()}
        # A word no entry uses counts like an average word: a customer's extra detail (県外, 来年の春)
        # should lower the score, not sink it.
        self._unknown_idf = (sum(self._idf.values()) / len(self._idf)) if self._idf else 1.0
        views = sum(len(grams) for grams in view_grams) or 1
        self._unknown_gram_idf = math.log(views + 1) + 1
        self._gram_idf = _gram_idf(view_grams, views)
        self._views = _weigh(view_grams, self._gram_idf, factors)
        self._reading_idf = _gram_idf(reading_grams, views)
        self._reading_views = _weigh(reading_grams, self._reading_idf, factors)
        self._postings = _Postings(self._views)
        self._reading_postings = _Postings(self._reading_views)

    def _read_entry(self, entry: FaqEntry, borrowed: Sequence[Analysis], words: list[Token]) -> tuple[
            Counter[str], list[Counter[str]], list[Counter[str]], list[float]]:
        """One entry's BM25 document, its bigram views (written and read) with their weights: its
        question and examples, then its borrowed phrasings; its concepts and answer words are kept,
        and its own words (question, examples, answer) added to ``words``."""
        doc: Counter[str] = Counter()
        grams, readings = [], []
        concepts: set[str] = set()
        question = self._analyse(entry.question)
        self.question_concepts[entry.id] = question.concepts
        for analysis in (question, *map(self._analyse, entry.examples)):
            words.extend(analysis.tokens)
            concepts |= analysis.concepts
            for term in analysis.retrieval_terms():
                doc[term] += QUESTION_WEIGHT
            grams.append(bigrams(analysis.core))
            readings.append(bigrams(analysis.reading))
        factor = [1.0] * len(grams)
        for analysis in borrowed:  # the entry's own topics stay its own
            for term in analysis.retrieval_terms():
                doc[term] += BORROWED_WEIGHT
            grams.append(bigrams(analysis.core))
            readings.append(bigrams(analysis.reading))
            factor.append(BORROWED_FACTOR)
        # The answer's words count once, its concepts not at all: nearly every answer names the
        # free-call number or the bill, which would make those concepts tell no entry apart.
        answered = self._analyse(entry.answer)
        words.extend(answered.tokens)
        answer = answered.terms
        for term in answer:
            doc[term] += 1
        self.answer_terms[entry.id] = frozenset(answer)
        self.answer_concepts[entry.id] = answered.concepts
        self._concepts[entry.id] = frozenset(concepts)
        self._topics[entry.id] = frozenset(concepts) & TOPICS
        return doc, grams, readings, factor

    def _name_the_page(self, entry: FaqEntry, doc: Counter[str]) -> None:
        """An entry whose question names the member page by the operator's own name (「マイいよなだ」の
        登録方法) is about the member page, as one that says マイページ is."""
        asked = " ".join((entry.question, *entry.examples)).lower()
        names = [name for name in self.page_names if name in asked]
        if names:
            self._as_if_asked(entry, doc, frozenset({MEMBER_PAGE}))
            self._not_the_names_words(entry, doc, names)

    def _not_the_names_words(self, entry: FaqEntry, doc: Counter[str], names: list[str]) -> None:
        """The topics only the page's own name brought (契約者, a contract holder's name, in 「ご契約者
        ポータル」) are not the entry's: its texts are read again with the name as マイページ."""
        dropped: set[str] = set()
        for text in (entry.question, *entry.examples):
            plain = text.lower()
            for name in names:
                plain = plain.replace(name, "マイページ")
            if plain != text.lower():
                only_named = (self._analyse(text).concepts - self._analyse(plain).concepts) & TOPICS
                for concept in only_named:  # counted once for each own text that named it
                    doc["@" + concept] -= QUESTION_WEIGHT
                dropped |= only_named
        dropped = {concept for concept in dropped if doc["@" + concept] <= 0}
        if dropped:
            self._concepts[entry.id] -= dropped
            self._topics[entry.id] -= dropped
            self.question_concepts[entry.id] -= dropped
            for concept in dropped:
                del doc["@" + concept]

    def _read_a_quoted_name(self, entry: FaqEntry, doc: Counter[str]) -> None:
        """An entry titled with a letter's or a service's own name (『お支払いのお願い』が届いた場合) is about
        what its answer says that name is (「お支払いのお願い」は、…お支払いが確認できなかった場合に…):
        the topics of that sentence count as the question's."""
        for name in _QUOTED_EITHER.findall(entry.question):
            if name.lower() in self.page_names:  # the member page's own name: the page, whatever it holds
                continue
            for sentence in _SENTENCES.findall(entry.answer):
                if sentence.lstrip().startswith((f"「{name}」は", f"『{name}』は")):
                    self._as_if_asked(entry, doc, self._analyse(sentence).concepts & TOPICS)
                    return

    def _as_if_asked(self, entry: FaqEntry, doc: Counter[str], concepts: frozenset[str]) -> None:
        """``concepts`` counted as the entry's question names them (those it does not name already)."""
        new = concepts - self._concepts[entry.id]
        for concept in new:
            doc["@" + concept] += QUESTION_WEIGHT
        self._concepts[entry.id] |= new
        self._topics[entry.id] |= new & TOPICS
        self.question_concepts[entry.id] |= new

    def topics(self, entry: FaqEntry) -> frozenset[str]:
        """The topics (``intents.WEIGHTED`` concepts) an entry's question and examples name."""
        return self._topics.get(entry.id, frozenset())

    def concepts(self, entry: FaqEntry) -> frozenset[str]:
        """Every concept an entry's question and examples name (``topics`` is the weighted part)."""
        return self._concepts.get(entry.id, frozenset())

    def knows(self, term: str) -> bool:
        """Whether any entry's question, examples or answer uses ``term`` (a normalised word)."""
        return term in self._idf

    def __len__(self) -> int:
        return len(self.entries)

    def _bm25(self, terms: list[str]) -> list[float]:
        unique = list(dict.fromkeys(terms))
        if not unique or not self.entries:
            return [0.0] * len(self.entries)
        # A perfect match: every query word in a question-weighted field of an average-length entry.
        tf = QUESTION_WEIGHT
        topical = any(t.startswith("@") and t[1:] in TOPICS for t in unique)
        weight = {t: CONCEPT_WEIGHT if t[1:] in TOPICS or (t in ASKS and topical) else 1.0 for t in unique}
        best = sum(weight[t] * self._idf.get(t, self._unknown_idf) * tf * (K1 + 1) / (tf + K1) for t in unique)
        scores = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            score = 0.0
            for term in unique:
                n = doc.get(term)
                if n:
                    score += weight[term] * self._idf[term] * n * (K1 + 1) / (
                        n + K1 * (1 - B + B * length / self._avg_length))
            scores.append(min(score / best, 1.0))
        return scores

    def _bigram_scores(self, text: str, idf: dict[str, float], postings: _Postings) -> list[float]:
        """Best cosine of the text's bigrams with each entry's views."""
        grams = bigrams(text)
        if not grams or not self.entries:
            return [0.0] * len(self.entries)
        vector = {g: n * idf.get(g, self._unknown_gram_idf) for g, n in grams.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return postings.best({gram: value / norm for gram, value in vector.items()})

    def _covered(self, entry: FaqEntry, asked: frozenset[str]) -> float:
        """``TOPIC_COVER`` times the share of the entry's topics that the text names."""
        topics = self._topics.get(entry.id)
        return TOPIC_COVER * len(topics & asked) / len(topics) if topics and asked else 0.0

    def search(self, analysis: Analysis, limit: int = 4) -> list[FaqMatch]:
        """The best ``limit`` entries for the analysed text, best first (re-ordered by the index's
        ``ranker``, where it has one)."""
        matches = self.matches(analysis)
        if self.ranker is not None:
            matches = self.ranker.rerank(self, analysis, matches)
        return matches[:limit]

    def matches(self, analysis: Analysis) -> list[FaqMatch]:
        """Every entry with its score for the analysed text, best first."""
        if not self.entries:
            return []
        bm25 = self._bm25(analysis.retrieval_terms())
        written = self._bigram_scores(analysis.core, self._gram_idf, self._postings)
        read = self._bigram_scores(analysis.reading, self._reading_idf, self._reading_postings)
        grams = [max(w, r) for w, r in zip(written, read, strict=True)]
        share = self.bm25_share
        asked = analysis.concepts & TOPICS
        matches = [FaqMatch(entry, share * b + (1 - share) * g + self._covered(entry, asked), b, g)
                   for entry, b, g in zip(self.entries, bm25, grams, strict=True)]
        matches.sort(key=lambda m: m.score, reverse=True)
        return matches
