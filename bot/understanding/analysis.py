"""One message analysed once: cleaned text, words, concepts and the month it names.

Every later step (intent rules, FAQ retrieval, ``faq ask``'s explanation) reads this one
frozen value, so the analyser runs once per message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.understanding.analyzer import Analyzer, Token, content_terms, shared_analyzer
from bot.understanding.months import MonthSlot, find_month
from bot.understanding.spotting import spot
from bot.understanding.text import clean, kana_key, strip_polite

# Concepts that also serve as retrieval terms (the FAQ's world and the words around it); the
# purely grammatical ones (question, when, settings …) would only add noise to ranking.
RETRIEVAL_CONCEPTS = frozenset({
    "bill", "plan", "method", "invoice", "debit", "late", "move", "cancel", "internet", "wifi", "tv", "trouble",
    "slow", "channel", "outage", "equipment", "contact", "cost", "needed", "customer_number", "mail", "not_arrive",
    "name", "phone", "register", "mypage", "already", "change", "forget", "credential", "cant_login", "link",
    "notice", "when", "person", "inquiry", "absence", "home_phone", "security", "parental", "construction",
    "recording", "high_quality", "nhk", "paperless", "prorate", "visit", "cas_card", "discount", "lightning", "remote",
    "lamp", "ipv6", "fixed_ip", "port", "apartment", "contract_term", "campaign", "second_tv", "mobile",
    "data_volume", "electricity", "lost", "power_cut", "call_rate", "international", "period", "unstable",
    "send_fail", "pdf", "price_change", "help", "storm", "reschedule", "area", "points", "instalment", "join",
    "isp_mail", "refund", "marriage", "bereavement", "app",
})


_LONG_VOWEL = re.compile(r"([オコソトノホモヨロゴゾドボポョォウクスツヌフムユルグズヅブプュゥ])ー")


@dataclass(frozen=True)
class Analysis:
    """What the bot read in one message."""

    text: str  # cleaned (NFKC, lower case, no emoji)
    core: str  # without polite endings, punctuation or spaces: what the customer actually asked
    tokens: tuple[Token, ...]
    terms: tuple[str, ...]  # normalised forms of the content words
    concepts: frozenset[str]
    month: MonthSlot | None
    reading: str = ""  # the core as katakana (the analyser's readings): りょうきん and 料金 alike

    def retrieval_terms(self) -> list[str]:
        """The words and concepts the FAQ index ranks by."""
        return list(self.terms) + ["@" + c for c in sorted(self.concepts & RETRIEVAL_CONCEPTS)]


def _reading_of(tokens: tuple[Token, ...], length: int) -> str:
    """The reading of the words that make up the first ``length`` characters (the core: the text
    without its polite ending), without tokenising again."""
    out, seen = [], 0
    for token in tokens:
        if token.surface.isspace():
            continue
        if seen >= length:
            break
        out.append(token.reading)
        seen += len(token.surface.replace(" ", ""))
    return "".join(out)


def analyse(text: str, analyzer: Analyzer | None = None) -> Analysis:
    """Clean, tokenise, find concepts and the month."""
    analyzer = analyzer or shared_analyzer()
    cleaned = clean(text)
    tokens = analyzer.tokens(cleaned)
    core = strip_polite(cleaned).replace(" ", "")
    normalized = "".join(t.normalized for t in tokens).lower()
    # Readings joined at word boundaries, so a katakana phrase cannot straddle two words (設定した is
    # セッテイ|シ|タ, not テイシ); the whole text as katakana, with ー read as ウ (つーち, とーろく),
    # catches hiragana the analyser splits oddly.
    reading = "|".join(t.reading for t in tokens)
    kana = kana_key(cleaned).replace(" ", "")  # 「いえ の でんわ」 as one word run: イエノデンワ
    haystack = "\n".join((cleaned, core, normalized, reading, kana, _LONG_VOWEL.sub(r"\1ウ", kana)))
    core_reading = _reading_of(tokens, len(core)) if core != cleaned else reading.replace("|", "")
    return Analysis(cleaned, core, tokens, tuple(content_terms(tokens)), spot(haystack, tokens, core),
                    find_month(cleaned), kana_key(core_reading))
