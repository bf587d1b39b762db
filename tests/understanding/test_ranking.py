"""The learned re-ranking of the nearest FAQ entries: fitting, ordering, and the shipped weights."""

from __future__ import annotations

import json

from bench import ranking
from bench.understanding import SETS, load_faq
from bot.understanding.analysis import analyse
from bot.understanding.faq import FaqIndex
from bot.understanding.phrasings import fit
from bot.understanding.ranking import FEATURES, RANKER_FILE, Ranker, shipped_ranker

# Operator M: the neighbours' internet is down too, so the customer asks about an outage in the area.
NEIGHBOURS_DOWN_TOO = ("越谷市に住んでいます。近所でもネットがつながらないと言っているのですが、"
                       "地域で通信障害が発生していますか。")
# Operator M: what its member site (「TNマイアカウント」) lets a customer do, which the scores alone put
# after the entry on moving (住所変更 is a move's word too).
WHAT_THE_SITE_DOES = ("会員サイトに登録しましたが、そこでどんな手続きができるのか知りたいです。"
                      "住所変更や明細の確認もできますか。")


def _case(right: int, count: int = 4) -> ranking.Case:
    """Candidates whose ``answer_words`` tells the right one, while ``score`` favours the first."""
    feature = FEATURES.index("answer_words")
    candidates = []
    for n in range(count):
        x = [0.0] * len(FEATURES)
        x[FEATURES.index("score")] = 0.6 - 0.05 * n
        x[feature] = 1.0 if n == right else 0.1 * n
        candidates.append(tuple(x))
    return candidates, right


def test_fitting_learns_which_property_tells_the_right_candidate():
    data = [_case(n % 4) for n in range(40)]
    ranker = ranking.train(data)
    assert ranker.weights[FEATURES.index("answer_words")] > 0
    assert ranking.train(data).weights == ranker.weights  # deterministic: no random start
    for candidates, right in data:
        values = [sum(w * x for w, x in zip(ranker.weights, c, strict=True)) for c in candidates]
        assert values.index(max(values)) == right


def test_a_reranking_changes_the_order_not_the_confidence():
    faq = load_faq(SETS["operator M"][1])
    index = FaqIndex(faq, analyse)
    a = analyse(NEIGHBOURS_DOWN_TOO)
    matches = index.search(a, limit=len(faq))
    # Weights that put the entry with the most topics named first, whatever its score.
    weights = tuple(1000.0 if name == "question_named" else 0.0 for name in FEATURES)
    ranked = Ranker(weights, depth=3).rerank(index, a, matches)
    assert ranked[0].score == matches[0].score  # the first carries the best score: the thresholds read it
    assert {m.entry.id for m in ranked[:3]} == {m.entry.id for m in matches[:3]}
    assert ranked[3:] == matches[3:]  # beyond the depth, the retrieval's order


def test_the_shipped_ranker_puts_the_member_site_before_the_move():
    faq = load_faq(SETS["operator M"][1])
    a = analyse(WHAT_THE_SITE_DOES)
    assert fit(faq, analyse, ranker=None).search(a, limit=1)[0].entry.id == "m_01"
    assert fit(faq, analyse).search(a, limit=1)[0].entry.id == "m_17"


def test_the_shipped_weights_name_every_feature():
    stored = json.loads(RANKER_FILE.read_text(encoding="utf-8"))
    assert set(stored["weights"]) == set(FEATURES)
    assert shipped_ranker() == Ranker.from_json(stored)
    assert Ranker.from_json(shipped_ranker().to_json()) == shipped_ranker()


def test_missing_or_broken_weights_leave_the_retrieval_order(tmp_path, caplog):
    assert shipped_ranker(tmp_path / "none.json") is None
    broken = tmp_path / "broken.json"
    broken.write_text('{"depth": 6, "weights": {"score": 1}}', encoding="utf-8")
    assert shipped_ranker(broken) is None
    assert "unreadable" in caplog.text
    faq = load_faq(SETS["operator M"][1])
    a = analyse(WHAT_THE_SITE_DOES)
    assert fit(faq, analyse, ranker=shipped_ranker(broken)).search(a, limit=1)[0].entry.id == "m_01"
