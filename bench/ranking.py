"""Fitting ``bot.understanding.ranking``'s weights on the labelled sets, and measuring them fairly.

Every FAQ phrasing of a set gives one training case: the features of the first ``DEPTH``
candidates of its FAQ file's index (with the borrowed phrasings as the bench reads that file:
its own sets' phrasings left out) and which of them is right. The model is a softmax over the
candidates (listwise learning to rank), fitted by Newton's method with a small L2 penalty;
eleven features, a few thousand cases: a second of pure Python, no numpy.

For the bench's figures each FAQ file is read with weights fitted on the *other* files' cases
only (``leave_one_out``), as the borrowed phrasings are; the shipped weights are fitted on all of
them but the unseen set's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path

from bench.labelled import SETS, UNSEEN, bank_without, load_faq, load_labelled
from bot.understanding.analysis import analyse
from bot.understanding.phrasings import Bank, fit
from bot.understanding.ranking import DEPTH, FEATURES, RANKER_FILE, Ranker, features
from storage.faq import FaqRow

Case = tuple[list[tuple[float, ...]], int]  # the candidates' features, and which one is right
L2 = 0.01
ROUNDS = 12  # Newton steps at most; it settles in eight from zero, in three from nearby weights
SETTLED = 1e-4


def cases(faq: list[FaqRow], bank: Bank, labelled: Iterable[tuple[str, str]]) -> list[Case]:
    """Training cases of one set: its FAQ phrasings whose right entry is among the first ``DEPTH``."""
    index = fit(faq, analyse, bank, ranker=None)
    found = []
    for text, expected in labelled:
        if not expected.startswith("faq:"):
            continue
        a = analyse(text)
        head = index.matches(a)[:DEPTH]
        right = [n for n, m in enumerate(head) if m.entry.id == expected[4:]]
        if right:
            found.append(([features(index, a, m, n) for n, m in enumerate(head)], right[0]))
    return found


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """``matrix`` x = ``vector`` by Gaussian elimination with partial pivoting (a small, positive
    definite system)."""
    n = len(vector)
    rows = [row[:] + [value] for row, value in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, n):
            factor = rows[r][col] / rows[col][col]
            for c in range(col, n + 1):
                rows[r][c] -= factor * rows[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (rows[r][n] - sum(rows[r][c] * x[c] for c in range(r + 1, n))) / rows[r][r]
    return x


def _scales(data: list[Case]) -> list[float]:
    n = len(FEATURES)
    rows = [x for candidates, _ in data for x in candidates]
    means = [sum(x[f] for x in rows) / len(rows) for f in range(n)]
    return [math.sqrt(sum((x[f] - means[f]) ** 2 for x in rows) / len(rows)) or 1.0 for f in range(n)]


def train(data: list[Case], start: Ranker | None = None, l2: float = L2, rounds: int = ROUNDS) -> Ranker:
    """Weights that maximise the right candidates' softmax likelihood (features scaled to unit
    spread while fitting, so the penalty treats them alike), from ``start``'s if given."""
    n = len(FEATURES)
    scale = _scales(data)
    scaled = [([[v / s for v, s in zip(x, scale, strict=True)] for x in cands], right) for cands, right in data]
    w = [wi * s for wi, s in zip(start.weights, scale, strict=True)] if start else [0.0] * n
    for _ in range(rounds):
        grad = [l2 * wi for wi in w]
        hess = [[l2 * (i == j) for j in range(n)] for i in range(n)]
        for cands, right in scaled:
            values = [sum(wi * xi for wi, xi in zip(w, x, strict=True)) for x in cands]
            top = max(values)
            p = [math.exp(v - top) for v in values]
            total = sum(p)
            p = [q / total for q in p]
            mean = [sum(q * x[f] for q, x in zip(p, cands, strict=True)) for f in range(n)]
            count = len(data)
            for f in range(n):
                grad[f] += (mean[f] - cands[right][f]) / count
            for q, x in zip(p, cands, strict=True):
                d = [x[f] - mean[f] for f in range(n)]
                for i in range(n):
                    if d[i]:
                        row, di = hess[i], q * d[i] / count
                        for j in range(n):
                            row[j] += di * d[j]
        step = _solve(hess, grad)
        w = [wi - si for wi, si in zip(w, step, strict=True)]
        if max(abs(si) for si in step) < SETTLED:
            break
    return Ranker(tuple(round(wi / s, 4) for wi, s in zip(w, scale, strict=True)))


def leave_one_out(by_file: dict[Path, list[Case]]) -> Callable[[Path], Ranker]:
    """The weights to read each FAQ file with: fitted on every other file's cases (started from
    the weights fitted on all of them, which they differ from only a little)."""
    fitted: dict[Path, Ranker] = {}
    everything = train([c for data in by_file.values() for c in data])

    def ranker(faq_file: Path) -> Ranker:
        if faq_file not in fitted:
            others = [c for f, data in by_file.items() if f != faq_file for c in data]
            fitted[faq_file] = train(others, start=everything)
        return fitted[faq_file]
    return ranker


def labelled_cases(skip_unseen: bool = True) -> dict[Path, list[Case]]:
    """The training cases of every labelled set, by FAQ file (each read with ``bank_without`` its
    file, as the bench reads it), the unseen set's left out."""
    by_file: dict[Path, list[Case]] = {}
    for name, (labelled, faq_file) in SETS.items():
        if not (skip_unseen and name.endswith(UNSEEN)):
            found = cases(load_faq(faq_file), bank_without(faq_file), load_labelled(labelled))
            by_file.setdefault(faq_file, []).extend(found)
    return by_file


def write(path: Path = RANKER_FILE) -> Ranker:
    """Fit the re-ranker on every set but the unseen one and write its weights (``--write-ranker``)."""
    ranker = train([case for found in labelled_cases().values() for case in found])
    path.write_text(json.dumps(ranker.to_json(), indent=2) + "\n", encoding="utf-8")
    return ranker
