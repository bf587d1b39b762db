"""The Japanese analyser: SudachiPy with its core dictionary, loaded once per process.

Why SudachiPy (README "Reading free text"): its *normalised form* folds the spelling
variants customers type into one word (引越し / 引っ越し, 繋がる / つながる, 引落し /
引き落とし, Wifi / ワイファイ → Wi-Fi), which is most of what a synonym list would otherwise
have to spell out; mode C keeps compounds (請求額, 口座振替) whole; the dictionary is
memory-mapped, so loading it costs tens of milliseconds, and a message takes microseconds.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

# Parts of speech whose words carry meaning for retrieval (the rest are particles, auxiliaries,
# symbols). 代名詞 keeps いつ / どこ; 副詞 keeps まだ / もう.
CONTENT_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞", "代名詞", "副詞", "接頭辞", "連体詞", "感動詞"})
# Words too common to tell one question from another.
STOP_WORDS = frozenset({
    "為る", "する", "有る", "ある", "居る", "いる", "成る", "なる", "事", "こと", "物", "もの", "の", "ん",
    "御", "お", "ご", "此の", "其の", "彼の", "よう", "様", "方", "感じ", "出来る", "できる", "思う", "ちょっと",
    "今", "ここ", "そこ", "これ", "それ", "何か", "一寸", "又", "まだ", "もう", "良い", "いい", "はい", "ええ",
    "無い", "ない", "どう", "いつ", "何時", "何", "どこ", "如何", "何故", "誰", "どれ", "どの", "どんな", "何処",
    "貰う", "くれる", "下さる", "頂く", "致す", "申す", "参る", "伺う", "行く", "来る", "見る", "言う",
    "教える",  # 「〜を教えて」 asks; what is asked about is the rest (「宿題の答え教えて」 is not the desk's number)
})


@dataclass(frozen=True)
class Token:
    """One word: as written, its normalised form, its dictionary form, reading, and part of speech."""

    surface: str
    normalized: str
    dictionary: str
    reading: str
    pos: str
    parts: tuple[str, ...] = ()  # a compound's shorter words (日割り計算 -> 日割り, 計算)


class Analyzer:
    """Tokenises with SudachiPy (mode C). Thread-safe: each thread gets its own tokenizer."""

    def __init__(self) -> None:
        from sudachipy import Dictionary, SplitMode

        self._dictionary = Dictionary(dict="core")
        self._mode = SplitMode.C
        self._short = SplitMode.A
        self._local = threading.local()

    def _tokenizer(self, short: bool = False):
        name = "short" if short else "tokenizer"
        tokenizer = getattr(self._local, name, None)
        if tokenizer is None:
            tokenizer = self._dictionary.tokenizer(mode=self._short if short else self._mode)
            setattr(self._local, name, tokenizer)
        return tokenizer

    def tokens(self, text: str, short: bool = False) -> tuple[Token, ...]:
        """Every word of ``text`` (already cleaned), in order (``short``: compounds cut into their
        shortest words, 口座振替 as 口座 and 振替, without ``parts``)."""
        if not text:
            return ()
        return tuple(Token(m.surface(), m.normalized_form(), m.dictionary_form(), m.reading_form(),
                           m.part_of_speech()[0], () if short else self._parts(m))
                     for m in self._tokenizer(short).tokenize(text[:1000]))

    def _parts(self, morpheme) -> tuple[str, ...]:
        if len(morpheme.surface()) < 3 or morpheme.part_of_speech()[0] != "名詞":  # only nouns compound
            return ()
        parts = morpheme.split(self._short)
        if len(parts) < 2:
            return ()
        return tuple(p.normalized_form() for p in parts)


@functools.cache
def shared_analyzer() -> Analyzer:
    """The process's analyser (the dictionary is loaded once, on first use)."""
    return Analyzer()


# A verb's 連用形 is also its noun (引き落とす -> 引き落とし, 引っ越す -> 引っ越し, 支払う -> 支払い):
# customers write the verb (「いつ引き落とされる？」) where the FAQ writes the noun (「引き落とし日」).
_NOMINAL = str.maketrans({"う": "い", "く": "き", "ぐ": "ぎ", "す": "し", "つ": "ち", "ぬ": "に", "ぶ": "び",
                          "む": "み", "る": "り"})


def nominal(verb: str) -> str:
    """The noun a verb's 連用形 makes: ``引き落とす`` -> ``引き落とし`` (good for godan verbs, harmless else)."""
    return verb[:-1] + verb[-1].translate(_NOMINAL) if verb else verb


def content_terms(tokens: tuple[Token, ...]) -> list[str]:
    """The normalised forms of the meaningful words, in order (for retrieval), with a verb's noun
    and a compound noun's shorter words."""
    terms = []
    for token in tokens:
        if token.pos not in CONTENT_POS:
            continue
        term = token.normalized.lower()
        if term in STOP_WORDS or not term.strip() or term.isdigit():
            continue
        terms.append(term)
        if token.pos == "動詞":
            terms.append(nominal(term))
        else:
            terms.extend(part.lower() for part in token.parts if part.lower() not in STOP_WORDS and len(part) > 1)
    return terms
