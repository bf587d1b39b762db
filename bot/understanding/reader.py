"""Deciding what a message means: an intent, an FAQ entry, or an honest "not understood".

Like Rasa's FallbackClassifier, the decision rests on a few named numbers, kept here in
``Thresholds`` and chosen on the labelled set (``python -m bench understanding`` prints the
sweep they were chosen from):

1. An action intent (a bill, registration, a person, notices …) read with at least
   ``intent_sure`` is answered, whatever the FAQ says: 「今月いくら？」 is a bill. When the
   operator's FAQ has its own entry for it (``OWN_WORDS``: 「パスワードを忘れたときは？」), that
   entry's answer comes with the intent's action.
2. Else the best FAQ entry, if it scores at least ``faq_answer``. When an intent was also read
   (not sure, such as 「料金」 with no month, or small talk), the entry must also score
   ``faq_over_intent`` and the text must name a topic the FAQ is about (``intents.TOPICAL``).
3. Else an intent read with at least ``intent_min``; else the intent of the nearest labelled
   customer phrasing (``data/intent_examples.csv``), when it is at least ``example_min`` near.
4. Else not understood; FAQ entries scoring at least ``faq_suggest`` are offered as "did you
   mean" (that is "asked back" in the metrics), with a person and the menu always offered.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.understanding import intents as intent_names
from bot.understanding import stored
from bot.understanding.analysis import Analysis, analyse
from bot.understanding.faq import MEMBER_PAGE, FaqEntry, FaqIndex, FaqMatch
from bot.understanding.intents import IntentScore, score_intents
from bot.understanding.lexicon import NAMED_ELSEWHERE, PRODUCTS
from bot.understanding.months import MonthSlot
from bot.understanding.spelling import kana_only
from bot.understanding.text import kana_key
from storage.faq import FaqRow

ANSWERED = "answered"
ASKED_BACK = "asked_back"
NOT_UNDERSTOOD = "not_understood"


@dataclass(frozen=True)
class Thresholds:
    """The decision's numbers, in one place (see the module docstring)."""

    intent_sure: float = 0.85
    intent_min: float = 0.6
    faq_answer: float = 0.35
    faq_suggest: float = 0.15
    faq_confident: float = 0.45  # an FAQ answer below this is given, and noted for ``faq misses``
    faq_over_intent: float = 0.45  # what an FAQ entry on a named topic needs to beat a likely intent
    elsewhere_factor: float = 0.3  # another company's service (銀行, Netflix …): FAQ scores count 30%
    example_min: float = 0.6  # how near a labelled phrasing must be to lend its intent
    example_score: float = 0.7  # the score a lent intent is reported with (``faq ask``)
    alternatives: int = 3  # nearest other entries offered under an answer, or in the fallback
    # A long message scores low against every entry (its extra words dilute the match); the best
    # one is still the answer when it names the customer's topic and clearly leads the next.
    faq_clear: float = 0.25
    faq_lead: float = 1.2


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Reading:
    """What the bot understood, and why."""

    outcome: str  # ANSWERED, ASKED_BACK or NOT_UNDERSTOOD
    intent: str | None = None
    month: MonthSlot | None = None
    ambiguous: bool = False
    faq: FaqMatch | None = None
    alternatives: tuple[str, ...] = ()  # other intents worth offering (ambiguity)
    suggestions: tuple[FaqMatch, ...] = ()  # other FAQ entries worth offering
    intents: tuple[IntentScore, ...] = ()
    matches: tuple[FaqMatch, ...] = field(default=(), repr=False)
    analysis: Analysis | None = field(default=None, repr=False)

    @property
    def score(self) -> float:
        """How sure the chosen reading is (the FAQ entry's or the intent's score; 0 when none)."""
        if self.faq is not None:
            return self.faq.score
        if self.intent is not None and self.intents:
            return self.intents[0].score
        return self.matches[0].score if self.matches else 0.0

    def label(self) -> str:
        """A short name for what was understood: ``bill.this_month``, ``faq:moving``, ``none``, or an
        entry with the intent acted on beside it: ``faq:mypage_howto + register``."""
        if self.faq is not None:
            return f"faq:{self.faq.entry.id}" + (f" + {self.intent}" if self.intent else "")
        return self.intent or "none"


def read(text: str, index: FaqIndex | None, thresholds: Thresholds = DEFAULT_THRESHOLDS,
         analysis: Analysis | None = None, examples: FaqIndex | None | bool = True) -> Reading:
    """Read one message (pure: the indexes are already fitted). ``examples`` ranks labelled customer
    phrasings of the intents (``data/intent_examples.csv``): the nearest one's intent is a
    reading when nothing else answered (``True``: the shipped examples; ``None``: rules alone)."""
    a = analysis or analyse(text)
    if index is not None:
        a = _spelled_in_kanji(_names_the_page(a, index), index)
    another_place = index is not None and _another_places_hours(a, index)
    if another_place:
        a = replace(a, concepts=a.concepts | {"elsewhere"})
    if examples is True:
        examples = intent_examples()
    scored = tuple(score_intents(a))
    matches: list[FaqMatch] = index.search(a, limit=thresholds.alternatives + 1) if index is not None else []
    if "elsewhere" in a.concepts and index is not None:
        matches = _elsewhere(a, index, matches, thresholds, another_place)
    best_intent = scored[0] if scored else None
    # 「今何時？」 names nothing but a question: no entry answers it, however its question words match.
    asks_about_nothing = not a.terms and not a.concepts - _ONLY_ASKING
    best_faq = matches[0] if matches and not asks_about_nothing else None
    common = {"intents": scored, "matches": tuple(matches), "analysis": a}

    def answer_intent(choice: IntentScore) -> Reading:
        others = tuple(s.intent for s in scored[1:] if s.score >= thresholds.intent_min and s.intent != choice.intent)
        own = _operators_own(a, choice, matches, index, thresholds)
        nearby = [m for m in matches if m is not own][:thresholds.alternatives]
        return Reading(ANSWERED, intent=choice.intent, month=choice.month, ambiguous=choice.ambiguous, faq=own,
                       alternatives=others, suggestions=_nearby(nearby, thresholds), **common)

    if best_intent and best_intent.intent in intent_names.ACTIONS and best_intent.score >= thresholds.intent_sure:
        return answer_intent(best_intent)
    if (page := _the_page_itself(a, matches, index, thresholds)) is not None:  # 「マイページって何？」
        return Reading(ANSWERED, faq=page, suggestions=_nearby([m for m in matches if m is not page], thresholds),
                       **common)
    # An intent that is not sure (「料金」 with no month), or small talk, still goes first unless the
    # text names a topic the FAQ is about and an entry explains it well (「NHKの受信料は料金に入ってる？」).
    held = best_intent is not None and best_intent.score >= thresholds.intent_min
    topical = bool(a.concepts & intent_names.TOPICAL)
    faq_bar = thresholds.faq_answer
    if held:
        faq_bar = max(faq_bar, thresholds.faq_over_intent) if topical else float("inf")
    if best_faq and (best_faq.score >= faq_bar or (not held and _clear_lead(a, matches, index, thresholds))):
        others = _nearby(matches[1:thresholds.alternatives + 1], thresholds, floor=0.05)
        return Reading(ANSWERED, faq=best_faq, suggestions=others, **common)
    if best_intent and best_intent.score >= thresholds.intent_min:
        return answer_intent(best_intent)
    # Last, before admitting defeat: the intent of the nearest labelled customer phrasing.
    nearest = _nearest_example(a, examples, thresholds) if isinstance(examples, FaqIndex) else []
    if nearest:
        scored = (*nearest, *scored)
        common["intents"] = scored
        return answer_intent(nearest[0])
    suggestions = _nearby(matches[:thresholds.alternatives], thresholds)
    if len(suggestions) == 1 and _the_only_one(a, suggestions[0], index):
        return Reading(ANSWERED, faq=suggestions[0], **common)
    return Reading(ASKED_BACK if suggestions else NOT_UNDERSTOOD, suggestions=suggestions, **common)


def _names_the_page(a: Analysis, index: FaqIndex) -> Analysis:
    """A message that names the member page by the operator's own name (「マイいよなだのパスワード」)
    is about the member page (``faq.page_names``)."""
    if index.page_names and any(name in kana_key(a.text) for name in map(kana_key, index.page_names)):
        return replace(a, concepts=a.concepts | {MEMBER_PAGE})
    return a


def _spelled_in_kanji(a: Analysis, index: FaqIndex) -> Analysis:
    """A kana-only message read again as spelled in the FAQ's kanji (``spelling``): its words and
    concepts from the spelled text, its reading (and so its bigrams' reading view) as written."""
    if not kana_only(a.text):
        return a
    spelled = index.speller.respell(a.text)
    if spelled == a.text:
        return a
    b = analyse(spelled)
    # Another company's matter only as spelled: 「ゆうちょの こうざ」 is context once こうざ reads 口座.
    concepts = (a.concepts | b.concepts) - ({"elsewhere"} - b.concepts)
    return replace(a, core=b.core, terms=b.terms, concepts=concepts, month=a.month or b.month)


# Registering, and the login ID or password, name what an entry is about as a topic does, for a clear
# lead (「会員サイトに登録したい」, 「会員のページに入るIDが見つからない」).
_ALSO_A_TOPIC = frozenset({"register", "credential", "cant_login"})
_ONLY_ASKING = frozenset({"question", "when"})  # concepts that only say a question is asked
EXAMPLES_FILE = Path(__file__).with_name("data") / "intent_examples.csv"


@functools.cache
def intent_examples() -> FaqIndex:
    """The labelled customer phrasings of every intent (and of ``none``), fitted once per process.

    Each intent is one "entry" whose examples are its phrasings, so the FAQ's ranking (BM25 and
    bigrams, best example) finds the nearest; the file holds the intent and out-of-scope rows of
    ``tests/data/understanding*.csv`` except the last hold-out set, kept unseen for measuring.
    """
    by_intent: dict[str, list[str]] = {}
    with EXAMPLES_FILE.open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            by_intent.setdefault(row["intent"], []).append(row["text"])
    return FaqIndex([FaqRow(intent, texts[0][:40], "", tuple(texts[1:])) for intent, texts in by_intent.items()],
                    stored.analysed)


def _nearest_example(a: Analysis, examples: FaqIndex, thresholds: Thresholds) -> list[IntentScore]:
    """The intent of the labelled phrasing nearest to the text, if near enough (``none`` is a class too)."""
    if "elsewhere" in a.concepts:  # another company's service: no phrasing of ours is near it
        return []
    found = examples.search(a, limit=1)
    if not found or found[0].score < thresholds.example_min or found[0].entry.id == "none":
        return []
    intent = found[0].entry.id
    if intent == intent_names.BILL_MONTH and a.month is None:
        return []
    if intent.startswith("notices.") and a.concepts & intent_names.PROBLEMS:
        return []  # 「料金未納のお知らせが届きました」: a letter about a matter of the FAQ's, not our notices
    return [IntentScore(intent, thresholds.example_score, a.month if intent.startswith("bill.") else None,
                        why=f"nearest labelled phrasing ({found[0].score:.2f})")]


def _names_its_topic(a: Analysis, index: FaqIndex, entry: FaqEntry) -> bool:
    """The text names a topic of the entry's (or the registering it is about)."""
    return bool(a.concepts & (index.topics(entry) | (index.concepts(entry) & _ALSO_A_TOPIC)))


def _the_only_one(a: Analysis, only: FaqMatch, index: FaqIndex | None) -> bool:
    """The one entry near enough to suggest names a topic the text names."""
    return index is not None and "elsewhere" not in a.concepts and _names_its_topic(a, index, only.entry)


def _clear_lead(a: Analysis, matches: list[FaqMatch], index: FaqIndex | None, thresholds: Thresholds) -> bool:
    """The best entry names a topic the text names, and leads the next by ``faq_lead`` times."""
    best = matches[0]
    if index is None or best.score < thresholds.faq_clear \
            or ("elsewhere" in a.concepts and not _sells_it(a, index, best.entry)) \
            or not _names_its_topic(a, index, best.entry):
        return False
    return len(matches) < 2 or best.score >= thresholds.faq_lead * matches[1].score


# 「美術館って何時まで開いてる？」, 「眼科って土曜もやってる？」 ask another place's hours, not the support
# desk's: no word before the hours is one the operator's FAQ uses (its own name, its shops and its
# desk are in it) or one of the desk's usual names (「サポートセンターは土曜も？」 is ours).
_ASKS_HOURS = re.compile(r"^(.+?)(?:(?:って|は|の|も)(?:今日|きょう|明日|あした)?(?:何時|なんじ|営業時間|受付時間|"
                         r"開いて|あいて|やって|休み|月曜|火曜|水曜|木曜|金曜|土曜|日曜|土日|祝日|平日|定休)|"
                         r"何時まで|なんじまで)")
_DESK_CONCEPTS = frozenset({"contact", "inquiry", "person", "ours"})
_OTHER_DESKS = frozenset({"銀行", "信金", "信用金庫", "郵便局", "病院", "役所", "市役所", "区役所", "役場"})
_OUR_DESK = frozenset({"窓口", "サポート", "問い合わせ", "問合せ", "電話", "センター", "受付", "そちら", "そっち",
                       "御宅", "御社", "貴社", "会社", "カスタマー", "コール", "オペレーター", "担当", "相談"})


def _another_places_hours(a: Analysis, index: FaqIndex) -> bool:
    found = _ASKS_HOURS.search(a.core)
    if found is None or "ours" in a.concepts:
        return False
    subject = analyse(found.group(1))
    if not _OTHER_DESKS.isdisjoint(subject.terms):  # 「肥後銀行の窓口は何時まで？」: a bank's desk
        return True
    if subject.concepts & _DESK_CONCEPTS:  # 「サポセンって夜でもやってます？」
        return False
    return bool(subject.terms) and not any(index.knows(term) or term in _OUR_DESK for term in subject.terms)


def _elsewhere(a: Analysis, index: FaqIndex, matches: list[FaqMatch], thresholds: Thresholds,
               another_place: bool) -> list[FaqMatch]:
    """Another company's service counts 30%, unless the operator's own entry is about it (an operator
    that sells electricity or a mobile SIM says so in its FAQ: 「電気料金プランの変更」); another place's
    hours count 30% whatever the entry (the operator's own shop entry is not that shop's)."""
    cut = [m if not another_place and _sells_it(a, index, m.entry) else
           FaqMatch(m.entry, m.score * thresholds.elsewhere_factor, m.bm25, m.bigrams) for m in matches]
    return sorted(cut, key=lambda m: m.score, reverse=True)


def _sells_it(a: Analysis, index: FaqIndex, entry) -> bool:
    """The entry is about the other service the text names: the operator sells it (「しおかぜでんき」). Its
    question must say so: an example that names a printer (「プリンターを無線でつなげたい」) does not make
    an entry on Wi-Fi the answer to 「ドコモのdアカウントのパスワードを忘れました」."""
    own = index.concepts(entry)
    return "elsewhere" in index.question_concepts.get(entry.id, ()) \
        or (NAMED_ELSEWHERE not in a.concepts and bool(own & a.concepts & PRODUCTS))


# Intents an operator's FAQ may answer in its own words, and the concepts its entry must name: the
# entry's answer is given, and the intent's action beside it (the reminder page's link, the
# registration's first question, the bill card, the bill list).
_BILL_ON_THE_WEB = frozenset({"bill", "mypage"})
_BILL_HIGHER = frozenset({"bill", "higher"})
_THE_PAGE = frozenset({MEMBER_PAGE})
_ASKING = frozenset({"ours", "question", "what_is", "help"})  # how a question asks, not what about
OWN_WORDS = {intent_names.FORGOT: frozenset({"credential", "forget"}),
             intent_names.REGISTER: frozenset({"mypage"}),  # and registering or a first login: see below
             intent_names.BILL_THIS_MONTH: _BILL_ON_THE_WEB,  # and a text that asks where: see below
             intent_names.BILL_LAST_MONTH: _BILL_ON_THE_WEB,
             intent_names.BILL_MONTH: _BILL_ON_THE_WEB,
             intent_names.BILL_LIST: frozenset({"period"}),
             intent_names.HELP: frozenset({"mypage", "help"}),
             intent_names.LINK: frozenset({"line"})}  # 「マイページをLINEと連携したい」
OWN_DEPTH = 4  # how far down the nearest entries the operator's own entry may stand
# 「マイページの登録方法は？」 asks how registering works, 「登録に契約書いる？」 what it needs: the operator's
# entry explains it, and the registration starts beside it; an entry on what it costs is not that.
_WHAT_REGISTERING_NEEDS = frozenset({"needed", "customer_number"})
_ASKS_HOW = re.compile(r"方法|やり方|やりかた|どうやって|どうやったら|どうやる|どうやん|どうすれば|どうしたら|"
                       r"どうすん|手順|しかた|仕方|どこから|どっから|どこで|流れ|どがんす|どないし")
# 「会員ページで明細って見れますか？」, 「今月の請求額ネットで見れる？」: where the bill is shown, not only what it is.
_ASKS_WHERE = re.compile(r"どこ|どっから|ばしょ|場所|"
                         r"(?:ネット|ねっと|ウェブ|web|オンライン|おんらいん|パソコン|ぱそこん|スマホ|すまほ)で")


def _operators_own(a: Analysis, intent: IntentScore, matches: list[FaqMatch], index: FaqIndex | None,
                   thresholds: Thresholds) -> FaqMatch | None:
    """The operator's FAQ entry for what the intent does (「パスワードを忘れたときは？」), if one is near."""
    needed = OWN_WORDS.get(intent.intent)
    if not needed or index is None:
        return None
    if needed is _BILL_ON_THE_WEB:
        return _bill_entry(a, intent, matches, index, thresholds)
    found = _own_entry(a, intent, matches, index, thresholds, needed)
    if found is None and intent.intent == intent_names.BILL_LIST:  # else past bills on the web
        found = _bill_entry(a, intent, matches, index, thresholds)
    if found is None and intent.intent == intent_names.HELP and MEMBER_PAGE in a.concepts:
        # 「マイページって何ができるの？」: the entry on the member page as such (「マイページとは」,
        # 「マイえちごとは何ですか？」), not on registering, a password or its cost.
        found = _page_entry(matches, index, thresholds)
    return found


def _bill_entry(a: Analysis, intent: IntentScore, matches: list[FaqMatch], index: FaqIndex,
                thresholds: Thresholds) -> FaqMatch | None:
    """The operator's entry beside a bill: on why a bill rises, for a text that says it is higher; on
    bills on the web, for a text that names the page or asks where (not 「今月いくら？」)."""
    found = None
    if "higher" in a.concepts:  # 「今月の請求高くない？なんで？」
        found = _own_entry(a, intent, matches, index, thresholds, _BILL_HIGHER)
    if found is None and ("mypage" in a.concepts or _ASKS_WHERE.search(a.core)):
        # An entry whose question names the page, else one whose answer does (「今月の請求金額と内訳
        # を確認したい」, answered 「…Webステーションでご確認いただけます」).
        found = _own_entry(a, intent, matches, index, thresholds, _BILL_ON_THE_WEB) \
            or _own_entry(a, intent, matches, index, thresholds, _BILL_ON_THE_WEB, index.answer_concepts)
    return found


def _own_entry(a: Analysis, intent: IntentScore, matches: list[FaqMatch], index: FaqIndex, thresholds: Thresholds,
               needed: frozenset[str], answered: dict[str, frozenset[str]] | None = None) -> FaqMatch | None:
    """Of the nearest entries that name ``needed`` (in the question or examples, or with ``answered``
    in the answer as well), the first whose topics the text names all of (「今月の請求いくらかネットで
    見れる？」: the entry on bills on the web, not the one on stopping paper bills), else the first."""
    # The intent already says what the text is about: named by the entry, the intent's matter is
    # enough, however far a long story dilutes the entry's score.
    named = [(match, index.concepts(match.entry) | (answered or {}).get(match.entry.id, frozenset()))
             for match in _near_enough(matches, thresholds)]
    named = [(match, concepts) for match, concepts in named if needed <= concepts]
    if intent.intent == intent_names.REGISTER:
        # The entry on how to register or log in the first time (「マイページ初めてなんだけどどうやって
        # 入るの」) or on what it needs, not on what it costs.
        return next((match for match, concepts in named if concepts & {"register", "start"}
                     and (index.topics(match.entry) - a.concepts <= _WHAT_REGISTERING_NEEDS
                          or _ASKS_HOW.search(match.entry.question))), None)
    return next((match for match, _c in named if index.topics(match.entry) <= a.concepts),
                named[0][0] if named else None)


def _page_entry(matches: list[FaqMatch], index: FaqIndex, thresholds: Thresholds) -> FaqMatch | None:
    """The nearest entry on the member page as such, and on nothing else (「マイページとは」)."""
    return next((m for m in _near_enough(matches, thresholds) if index.concepts(m.entry) - _ASKING == _THE_PAGE),
                None)


def _near_enough(matches: list[FaqMatch], thresholds: Thresholds) -> list[FaqMatch]:
    """The nearest entries that may stand for what an intent or the text names: among the first
    ``OWN_DEPTH``, at half the suggestion bar (a long story dilutes every score)."""
    return [m for m in matches[:OWN_DEPTH] if m.score >= thresholds.faq_suggest / 2]


def _the_page_itself(a: Analysis, matches: list[FaqMatch], index: FaqIndex | None,
                     thresholds: Thresholds) -> FaqMatch | None:
    """For a text that asks what the member page is, and nothing else (「マイページって何？」), the
    nearest entry on the page as such (「みやこ会員ポータルとはどのようなサービスですか？」)."""
    if index is None or a.concepts - _ASKING != _THE_PAGE or not a.concepts & {"what_is", "help"}:
        return None
    return _page_entry(matches, index, thresholds)


def _nearby(matches: list[FaqMatch], thresholds: Thresholds, floor: float | None = None) -> tuple[FaqMatch, ...]:
    limit = thresholds.faq_suggest if floor is None else floor
    return tuple(m for m in matches if m.score >= limit)[:thresholds.alternatives]


def explain(reading: Reading) -> list[str]:
    """``faq ask``'s lines: the decision, its score, the intents read and the nearest FAQ entries."""
    lines = [f"outcome: {reading.outcome}", f"chosen: {reading.label()} (score {reading.score:.2f})"]
    if reading.month is not None:
        lines.append(f"month: {reading.month}")
    if reading.ambiguous or reading.alternatives:
        lines.append("also offered: " + ", ".join(reading.alternatives or ("(other months)",)))
    a = reading.analysis
    if a is not None:
        lines.append(f"words: {' '.join(a.terms) or '-'}")
        lines.append(f"concepts: {' '.join(sorted(a.concepts)) or '-'}")
    lines.append("intents:" + ("" if reading.intents else " -"))
    lines.extend(f"  {s.intent:<18} {s.score:.2f}  {s.why}" for s in reading.intents)
    lines.append("nearest FAQ entries:" + ("" if reading.matches else " -"))
    lines.extend(f"  {m.entry.id:<22} {m.score:.2f}  (bm25 {m.bm25:.2f}, bigrams {m.bigrams:.2f})  {m.entry.question}"
                 for m in reading.matches)
    return lines
