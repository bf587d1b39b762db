"""The labelled sets and the FAQ files they are labelled against: every figure of ``python -m bench
understanding`` and the re-ranker's training cases come from here.

Data (all our own, in the repository):

- ``tests/data/understanding.csv``: customer utterances labelled with the intent (``bill.month:YYYY-MM``
  with today = 2026-12-04), the FAQ entry of ``data/faq.csv`` (``faq:<id>``), or ``none``;
- ``tests/data/understanding-holdout.csv``: written last, by someone who saw neither the code nor its
  failures, for ``data/faq.csv`` (the lexicon was then widened on its failures);
- ``tests/data/understanding-holdout2.csv``: written after that, by another such person (measured once
  untouched, then the lexicon was widened on its failures too);
- ``tests/data/understanding-holdout3.csv``: written by a third such person, measured untouched once
  the labelled phrasings were in, then tuned on like the others;
- ``tests/data/understanding-holdout4.csv``: by a fourth, measured untouched, then tuned on;
- ``tests/data/understanding-holdout5.csv`` … ``-holdout9.csv``: by a fifth to a ninth, each
  measured untouched, then tuned on;
- ``tests/data/understanding-holdout10.csv``, ``-holdout11.csv``: by a tenth and an eleventh, each
  measured untouched, then tuned on; neither is among the labelled phrasings the reader uses;
- ``tests/data/understanding-holdout12.csv``: by a twelfth (2026-12-05), measured untouched (intents
  94.4%, FAQ 86.7%, out of scope 95.2%), then tuned on (lexicon fixes from its intent misses); its FAQ
  phrasings are in the bank, its intent phrasings not among the examples;
- ``tests/data/understanding-holdout13.csv``: by a thirteenth (2026-12-05), measured untouched (intents
  96.5%, FAQ 95.0%, out of scope 88.1%), then tuned on like the twelfth;
- ``tests/data/understanding-holdout14.csv``: by a fourteenth (2026-12-05, after the changes drawn from the
  thirteenth and from R, S and T), measured untouched with the shipped bank (intents 97.9%, FAQ 96.7%, out of
  scope 88.1%), then tuned on;
- ``tests/data/understanding-other-operator.csv`` with ``bench/data/faq-other-operator.csv``, and
  ``understanding-operator-b.csv`` / ``-operator-c.csv`` with ``bench/data/faq-operator-b.csv`` /
  ``faq-operator-c.csv``: other operators' FAQs, each written by one helper and its paraphrases by
  another who saw only the topics in English; measured untouched, then tuned on;
- ``tests/data/understanding-operator-d.csv`` with ``bench/data/faq-operator-d.csv``: the same, measured
  untouched (64.0% of FAQ phrasings), then tuned on;
- ``tests/data/understanding-operator-e.csv`` with ``bench/data/faq-operator-e.csv``: the same, written
  last and measured untouched once (79.2% FAQ, 87.5% out-of-scope; one row relabelled: 「こんにちは」 is
  a greeting, which the issue makes an intent), then lightly tuned on: the "(unseen)" label marks the
  newest, the nearest to a fair estimate of what an ``import-faq`` file nobody tuned on gets;
- ``-operator-f.csv`` … ``-operator-j.csv`` with ``bench/data/faq-operator-f.csv`` … ``-j.csv``: the same,
  each measured untouched when it arrived (F 80.9%, G 65.0%, H 74.2%, I 80.0%, J 79.1%, K 80.0% of
  FAQ phrasings), then tuned on; I, J and K cover the issue's own list of topics, F–H operators' own.
- ``-operator-l.csv`` … ``-operator-o.csv``: the same; ``-operator-p.csv`` and ``-operator-q.csv``, the
  newest, are the unseen sets (``UNSEEN``): measured as they came, kept out of the shipped bank, out of the
  bank the others are read with, and out of the re-ranker's training; Q was written after every change
  drawn from the others (2026-12-05), and nothing was drawn from its misses;
- ``-operator-r.csv`` and ``-operator-s.csv`` (a Kumamoto and an Iwate operator, written 2026-12-05 after
  Q): measured untouched (R 84.7% of FAQ phrasings and 81.2% out of scope, S 84.1% and 87.5%), then
  tuned on: P and Q stay the unseen ones;
- ``-operator-t.csv`` (an Ehime operator with its own name for the member page, written after the changes
  drawn from R and S): measured untouched (89.3% of FAQ phrasings, 80.0% out of scope; two rows relabelled
  from ``none``: 「ありがとう」 is thanks and 「こんにちは！今日も暑いねー」 a greeting, which the issue makes
  intents), then tuned on;
- ``-operator-u.csv`` (a Shizuoka operator that also sells a SIM, electricity and points; written last):
  measured untouched (87.1% of FAQ phrasings, 83.3% out of scope; two rows relabelled from ``none`` as
  greeting and thanks), then tuned on (a points concept);
- ``-operator-v.csv`` (an Ishikawa operator whose FAQ covers the issue's own list, 21 entries; written at the
  end of 2026-12-05, after every change of that day): measured once with the code as it was left, 91.3% of
  FAQ phrasings and 100% of out-of-scope text, and kept unseen beside P and Q.
- ``-operator-ag.csv`` (a Tottori operator with a fixed-line phone) and ``-operator-ah.csv`` (a Saitama
  operator of apartment buildings), with ``tests/data/understanding-holdout16.csv`` (intents and our FAQ),
  written 2026-12-05 (fourth session) and measured untouched with the shipped bank and re-ranker: AG 91.7%
  of FAQ phrasings and 87.5% out of scope, AH 88.3% and 100%, hold-out 16 intents 97.9%, FAQ 99.2%, out of
  scope 100%; then tuned on.
- ``-operator-ai.csv`` (Okinawa; typhoons, the NHK fee on the bill) and ``-operator-aj.csv`` (Hokkaido;
  snow, a landline, points), written after every change drawn from AG, AH and hold-out 16 and measured
  untouched with the shipped bank and re-ranker: AI 95.8% of FAQ phrasings and 100% out of scope (then
  tuned on), AJ 91.7% and 87.5%, kept unseen beside P, Q, V and X: nothing was drawn from its misses.
- ``-operator-ak.csv`` (Fukuoka; a 10-gigabit plan, a smart-home camera, 「ベイナビ」), ``-operator-al.csv``
  (rural Tokushima; a community channel, a senior discount) and ``understanding-holdout17.csv``, written
  last in that session and measured once with the final code: AK 89.2% of FAQ phrasings and 87.5% out of
  scope, AL 93.3% and 100%, hold-out 17 intents 98.6%, FAQ 97.5%, out of scope 97.6%; all three kept
  unseen, their misses not read.
- ``-operator-am.csv`` (Niigata; the issue's own list of topics, an FAQ with no examples), ``-operator-an.csv``
  (Nagano; snow, a second TV, a recorder, a pause in service; examples on half the entries) and
  ``-operator-ao.csv`` (Osaka; the issue's list, examples on every entry), written 2026-12-05 (fifth session)
  and measured untouched with the shipped bank and re-ranker: AM 92.5% of FAQ phrasings and 100% out of scope,
  AN 90.0% and 93.8% (both then tuned on), AO 98.3% and 93.8%, kept unseen.
- ``-operator-ap.csv`` (Ishikari, Hokkaido; a cable phone, 4K, pay-per-view, a viewing lock, snow on the
  aerial) and ``-operator-aq.csv`` (Kumamoto; terse noun-phrase questions, no examples or links; paid twice,
  a surname changed at marriage, discounts, the member page's app), written 2026-12-05 (sixth session) and
  measured untouched with the shipped bank and re-ranker: AP 93.2% of FAQ phrasings and 81.2% out of scope
  (one of the three 「ありがとう、またね」, answered as thanks), kept unseen; AQ 87.5% and 93.8%, then tuned on.
- ``-operator-ar.csv`` (Kagawa; the issue's own list of topics, formal questions) and ``-operator-as.csv``
  (Gunma; the same list with equipment returns and the NHK fee, examples on every entry), written later that
  session and measured untouched: AR 94.4% of FAQ phrasings and 93.8% out of scope, kept unseen; AS 95.6% and
  93.8%, then tuned on.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from bot.understanding import stored
from bot.understanding.phrasings import Bank, make_bank
from storage.faq import FaqRow

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 12, 4)
_DATA, _OURS_FAQ = ROOT / "tests/data", ROOT / "data/faq.csv"
# Insertion order is the report's order: our set, the hold-outs 1–15, then other operators' FAQs.
UNSEEN = " (unseen)"  # the newest operators' sets: measured as they came, and kept out of the shipped bank
# Sets whose phrasings are kept out of the shipped bank all the same: O's moved the others by −1.8 to
# +0.8 and the unseen P not at all (many label the bot's own registration and bill as the FAQ's).
KEPT_OUT = ("operator O",)
SETS = {
    "ours": (_DATA / "understanding.csv", _OURS_FAQ),
    **{f"hold-out {n}".strip(): (_DATA / f"understanding-holdout{n}.csv", _OURS_FAQ)
       for n in ("", *map(str, range(2, 12)))},
    "hold-out 12": (_DATA / "understanding-holdout12.csv", _OURS_FAQ),
    "hold-out 13": (_DATA / "understanding-holdout13.csv", _OURS_FAQ),
    "hold-out 14": (_DATA / "understanding-holdout14.csv", _OURS_FAQ),
    "hold-out 15": (_DATA / "understanding-holdout15.csv", _OURS_FAQ),
    "hold-out 16": (_DATA / "understanding-holdout16.csv", _OURS_FAQ),
    "hold-out 17" + UNSEEN: (_DATA / "understanding-holdout17.csv", _OURS_FAQ),
    "other operator": (_DATA / "understanding-other-operator.csv", ROOT / "bench/data/faq-other-operator.csv"),
    **{f"operator {x.upper()}{suffix}": (_DATA / f"understanding-operator-{x}.csv",
                                         ROOT / f"bench/data/faq-operator-{x}.csv")
       for x, suffix in (*((x, "") for x in (*"bcdefghijklmnorstuwyz", "aa", "ab", "ac", "ad", "ae", "af", "ag", "ah",
                                              "ai", "am", "an", "aq", "as")),
                         *((x, UNSEEN) for x in ("p", "q", "v", "x", "aj", "ak", "al", "ao", "ap", "ar")))},
}


def load_faq(path: Path) -> list[FaqRow]:
    """An FAQ CSV as rows (the file is trusted here; ``import-faq`` checks real ones)."""
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return [FaqRow(r["id"], r["question"], r["answer"],
                       tuple(x.strip() for x in (r.get("examples") or "").split("|") if x.strip()),
                       r.get("link") or None) for r in csv.DictReader(stream)]


def load_labelled(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as stream:
        return [(r["text"], r["expected"]) for r in csv.DictReader(stream)]


def category(label: str) -> str:
    """``bill.month:2026-08`` -> ``bill.month``; ``faq:moving`` -> ``faq``."""
    if label.startswith("faq:"):
        return "faq"
    return label.split(":")[0]


def phrasing_pairs(skip_faq: Path | None = None, skip_unseen: bool = False) -> list[tuple[str, str]]:
    """(FAQ question, customer's text) of every FAQ phrasing in the labelled sets, except those of
    the sets on ``skip_faq`` (the FAQ file being measured: its own phrasings are never borrowed)
    and, with ``skip_unseen``, the unseen set's (so that it stays unseen in the shipped bank) and
    ``KEPT_OUT``'s."""
    pairs = []
    for name, (labelled, faq_file) in SETS.items():
        if faq_file == skip_faq or (skip_unseen and (name.endswith(UNSEEN) or name in KEPT_OUT)):
            continue
        questions = {row.id: row.question for row in load_faq(faq_file)}
        pairs += [(questions[e[4:]], t) for t, e in load_labelled(labelled)
                  if e.startswith("faq:") and e[4:] in questions]
    return pairs


_BANKS: dict[Path, Bank] = {}


def bank_without(faq_file: Path) -> Bank:
    """The phrasings bank as the bot ships it (the unseen set's kept out) had this FAQ file never been
    labelled (its phrasings analysed as the shipped bank's are: from the store, which a test keeps fresh)."""
    if faq_file not in _BANKS:
        _BANKS[faq_file] = make_bank(phrasing_pairs(skip_faq=faq_file, skip_unseen=True), stored.analysed)
    return _BANKS[faq_file]
