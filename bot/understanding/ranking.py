"""Which of the nearest FAQ entries answers the text: a learned re-ranking of the first few.

BM25 and bigrams find the right entry among the first six for 99% of the labelled customer
phrasings, but put it first for only about 94%: of two entries on the same topic (mail that
does not arrive, mail that will not send), the scores alone often pick the wrong one. A linear
model over a few properties of each candidate (its score and parts, how many phrasings it
borrowed, how much of its question's concepts the text names, whether the text uses its
answer's words, whether it asks "when" as the text does or does not …) orders the first
``depth`` again (learning to rank, softmax over the candidates). Its weights are fitted on the
labelled sets by ``python -m bench understanding --write-ranker`` (``data/ranker.json``); the
bench measures it leaving each FAQ file out, as the borrowed phrasings are measured. Only the
order changes: the first keeps the best score (how well the FAQ answers the text at all, which
every threshold of ``reader`` reads).
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bot.understanding.analysis import Analysis
from bot.understanding.faq import FaqIndex, FaqMatch

log = logging.getLogger(__name__)

RANKER_FILE = Path(__file__).with_name("data") / "ranker.json"
DEPTH = 6  # candidates re-ordered: the right entry is among the first six for 99% of phrasings

FEATURES = ("score", "bigrams", "own", "lent_gain", "borrowed", "question_named", "answer_words",
            "has_examples", "concepts_shared", "first", "when_differs")


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def features(index: FaqIndex, a: Analysis, match: FaqMatch, rank: int) -> tuple[float, ...]:
    """What the model sees of one candidate (in ``FEATURES``' order)."""
    entry = match.entry
    own = match.score if match.own is None else match.own
    lent = match.score if match.lent is None else match.lent
    question = index.question_concepts.get(entry.id, frozenset())
    words = set(a.terms)
    return (match.score, match.bigrams, own, lent - own,
            math.log1p(index.borrowed.get(entry.id, 0)),
            _share(len(a.concepts & question), len(question)),
            _share(len(words & index.answer_terms.get(entry.id, frozenset())), len(words)),
            float(bool(entry.examples)),
            _share(len(a.concepts & index.concepts(entry)), len(a.concepts)),
            float(rank == 0),
            float(("when" in question) != ("when" in a.concepts)))  # 「口座振替日はいつ？」 for 「銀行を変えたい」


@dataclass(frozen=True)
class Ranker:
    """A linear model over ``FEATURES``: the candidate with the highest weighted sum comes first."""

    weights: tuple[float, ...]
    depth: int = DEPTH

    def value(self, index: FaqIndex, a: Analysis, match: FaqMatch, rank: int) -> float:
        return sum(w * x for w, x in zip(self.weights, features(index, a, match, rank), strict=True))

    def rerank(self, index: FaqIndex, a: Analysis, matches: Sequence[FaqMatch]) -> list[FaqMatch]:
        """``matches`` (best first) with the first ``depth`` put in the model's order. The new first
        takes the best score as its own: the retrieval says how well the FAQ answers the text (and
        every threshold reads that), the model says which entry does."""
        head = list(matches[:self.depth])
        if len(head) < 2:
            return list(matches)
        values = [self.value(index, a, m, rank) for rank, m in enumerate(head)]
        best = head[0].score
        head = [m for _value, m in sorted(zip(values, head, strict=True), key=lambda pair: pair[0], reverse=True)]
        head[0] = replace(head[0], score=best)
        return head + list(matches[self.depth:])

    def to_json(self) -> dict:
        return {"depth": self.depth, "weights": dict(zip(FEATURES, self.weights, strict=True))}

    @classmethod
    def from_json(cls, data: dict) -> Ranker:
        return cls(tuple(float(data["weights"][name]) for name in FEATURES), int(data["depth"]))


@functools.cache
def shipped_ranker(path: Path = RANKER_FILE) -> Ranker | None:
    """The fitted weights (``data/ranker.json``); None when the file is missing or unreadable: the
    entries then keep the retrieval's order, and free text is still read."""
    try:
        return Ranker.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        log.warning("the re-ranker's weights are unreadable (%s): FAQ entries keep the retrieval's order", path.name)
        return None
