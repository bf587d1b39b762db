"""Spotting the lexicon's concepts in a text: each concept's phrases compiled once into one
pattern, whole words looked up among the analyser's tokens, then the context rules (another
company's matter, a story's everyday things) applied to what was found."""

from __future__ import annotations

import re
from dataclasses import dataclass

import jaconv

from bot.understanding.analyzer import Token
from bot.understanding.lexicon import CONCEPTS, CONTEXT, NAMED_ELSEWHERE, STORY, STORY_TOPICS


@dataclass(frozen=True)
class _Compiled:
    name: str
    pattern: re.Pattern[str] | None
    words: frozenset[str]
    # The first two characters of every phrase (or the phrase, of one character): a text that holds
    # none of them holds no phrase, and the pattern is not run (most concepts, for most texts).
    heads: frozenset[str] = frozenset()


_KANA_END = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]$")
_NO_SMALL_KANA = "(?![ゃゅょャュョ])"  # a small vowel (できねぇ, いがったぁ) only draws the sound out


def _compile(name: str, phrases: tuple[str, ...]) -> _Compiled:
    words = frozenset(p[1:].lower() for p in phrases if p.startswith("="))
    plain = {p.lower() for p in phrases if not p.startswith("=")}
    # A hiragana phrase of three or more characters also matches the same words in katakana
    # (ﾛｸﾞｲﾝ ﾃﾞｷﾅｲ): the haystack carries the text in katakana too.
    plain |= {jaconv.hira2kata(p) for p in plain if len(p) >= 3}
    plain = sorted(plain, key=len, reverse=True)
    # A phrase ending in kana does not end inside a syllable: ツウチ (通知) is not the start of
    # ツウチョウ (通帳).
    pattern = re.compile("|".join(re.escape(p) + (_NO_SMALL_KANA if _KANA_END.search(p) else "")
                                  for p in plain)) if plain else None
    return _Compiled(name, pattern, words, frozenset(p[:2] for p in plain))


_COMPILED = tuple(_compile(name, phrases) for name, phrases in CONCEPTS.items())


def spot(haystack: str, tokens: tuple[Token, ...], core: str = "") -> frozenset[str]:
    """Every concept whose phrase appears in ``haystack`` (text, normalised forms and readings, joined
    by newlines) or whose whole word is one of ``tokens`` or the whole ``core`` (「りょ」 alone)."""
    words = {t.normalized.lower() for t in tokens} | {t.surface.lower() for t in tokens} \
        | {t.dictionary.lower() for t in tokens} | {core}
    heads = {haystack[i:i + 2] for i in range(len(haystack) - 1)} | set(haystack)
    found = set()
    for concept in _COMPILED:
        if (concept.pattern is not None and not concept.heads.isdisjoint(heads) and concept.pattern.search(haystack)) \
                or not concept.words.isdisjoint(words):
            found.add(concept.name)
    if "everyday" in found and not (len(core) >= STORY and found & STORY_TOPICS):
        found.add("elsewhere")  # 「エアコン壊れた」; in a story about a matter of ours, only context
    if "elsewhere" in found:  # a word of the list itself (ドコモ, 銀行アプリ): never this operator's
        found.add(NAMED_ELSEWHERE)
    for context, topics in CONTEXT.items():
        if context in found and not found & topics:
            found.add("elsewhere")
    if "ours" in found:
        found.discard("elsewhere")
    return frozenset(found)
