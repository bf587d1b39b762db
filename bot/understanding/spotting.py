"""Spotting the lexicon's concepts in a text: every phrase indexed once by its first two
characters, so a text is read once, position by position, against the phrases that start there;
whole words looked up among the analyser's tokens; then the context rules (another company's
matter, a story's everyday things) applied to what was found.

The index replaced one regular expression per concept (an alternation of its phrases): the same
concepts for every text, no patterns to compile when a process starts (a fifth of the
understanding's load), and a little less CPU a message."""

from __future__ import annotations

import re
from collections import defaultdict

import jaconv

from bot.understanding.analyzer import Token
from bot.understanding.lexicon import CONCEPTS, CONTEXT, HIDING, NAMED_ELSEWHERE, STORY, STORY_SERVICES, STORY_TOPICS

_KANA_END = re.compile(r"[\u3041-\u3096\u30a1-\u30fa]$")
_SMALL_KANA = frozenset("ゃゅょャュョ")  # after a phrase's last kana: a syllable goes on (ツウチ in ツウチョウ)
_LATIN = frozenset("abcdefghijklmnopqrstuvwxyz")  # a Latin phrase is a whole word: ch is not in echigo or watch


def _phrases(phrases: tuple[str, ...]) -> set[str]:
    """A concept's plain phrases, lower case; a hiragana phrase of three or more characters also in
    katakana (ﾛｸﾞｲﾝ ﾃﾞｷﾅｲ): the haystack carries the text in katakana too."""
    plain = {p.lower() for p in phrases if not p.startswith("=")}
    return plain | {jaconv.hira2kata(p) for p in plain if len(p) >= 3}


_Phrase = tuple[str, str, bool, bool, bool]


def _index() -> tuple[dict[str, list[_Phrase]], dict[str, list[_Phrase]]]:
    """Phrases by their first two characters, and one-character phrases by that character: (concept,
    phrase, whether it ends in kana, whether it starts and whether it ends with a Latin letter)."""
    pairs: dict[str, list[_Phrase]] = defaultdict(list)
    singles: dict[str, list[_Phrase]] = defaultdict(list)
    for name, phrases in CONCEPTS.items():
        for phrase in sorted(_phrases(phrases)):
            (pairs[phrase[:2]] if len(phrase) >= 2 else singles[phrase]).append(
                (name, phrase, bool(_KANA_END.search(phrase)), phrase[0] in _LATIN, phrase[-1] in _LATIN))
    return dict(pairs), dict(singles)


_BY_PAIR, _BY_CHAR = _index()
_HIDING = {**HIDING, **{jaconv.hira2kata(word): jaconv.hira2kata(read_as) for word, read_as in HIDING.items()}}
_WORDS = tuple((name, frozenset(p[1:].lower() for p in phrases if p.startswith("=")))
               for name, phrases in CONCEPTS.items())


def _phrased(haystack: str) -> set[str]:
    """The concepts one of whose phrases appears in ``haystack``; a phrase ending in kana does not
    end inside a syllable (ツウチ, 通知, is not the start of ツウチョウ, 通帳), while a small vowel
    (できねぇ) only draws the sound out; a phrase that starts or ends with a Latin letter has none
    beside it there (bs is not in jobs)."""
    found: set[str] = set()
    size = len(haystack)
    for i in range(size):
        for candidates in (_BY_PAIR.get(haystack[i:i + 2], ()), _BY_CHAR.get(haystack[i], ())):
            for name, phrase, kana_end, latin_start, latin_end in candidates:
                if name in found or not haystack.startswith(phrase, i):
                    continue
                after = i + len(phrase)
                follows = haystack[after] if after < size else ""
                if kana_end and follows in _SMALL_KANA or latin_end and follows in _LATIN \
                        or latin_start and i and haystack[i - 1] in _LATIN:
                    continue
                found.add(name)
    return found


def spot(haystack: str, tokens: tuple[Token, ...], core: str = "") -> frozenset[str]:
    """Every concept whose phrase appears in ``haystack`` (text, normalised forms and readings, joined
    by newlines) or whose whole word is one of ``tokens`` or the whole ``core`` (「りょ」 alone)."""
    words = {t.normalized.lower() for t in tokens} | {t.surface.lower() for t in tokens} \
        | {t.dictionary.lower() for t in tokens} | {core}
    for word, read_as in _HIDING.items():
        if word in haystack:
            haystack = haystack.replace(word, read_as + " ")
    found = _phrased(haystack)
    found.update(name for name, whole in _WORDS if not whole.isdisjoint(words))
    story = len(core) >= STORY and bool(found & STORY_TOPICS)
    if "everyday" in found and not story:
        found.add("elsewhere")  # 「エアコン壊れた」; in a story about a matter of ours, only context
    if "elsewhere" in found:  # a word of the list itself (ドコモ, 銀行アプリ): never this operator's
        found.add(NAMED_ELSEWHERE)
    for context, topics in CONTEXT.items():
        if context in found and not found & topics and not (story and found & STORY_SERVICES):
            found.add("elsewhere")
    if "ours" in found:
        found.discard("elsewhere")
    return frozenset(found)
