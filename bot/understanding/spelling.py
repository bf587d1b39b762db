"""Kana-only messages spelled again in the FAQ's own kanji: 「ﾊﾞﾝｸﾞﾐﾋｮｳ」 as 「番組表」.

Customers on a feature phone, and many older customers, write in kana alone (「ﾂｳｼﾝｼｮｳｶﾞｲ
ｼﾞｮｳﾎｳ」, 「こていでんわの ばんごう」). The analyser reads katakana as foreign words and cuts
hiragana where no dictionary word is, so such a message names no word of the FAQ and no
concept, and only the character bigrams of its reading still meet the entries. A small
"input method" restores what the customer meant: every kanji word of the FAQ (its questions,
examples and answers) is known with its reading, and the kana of the message is replaced,
longest reading first, by the word that reads so. What is not a known reading stays as it was.

Only the FAQ's own words are used, so a message is spelled in the operator's vocabulary, and
only kana-only messages are spelled again: where a customer wrote one kanji, they wrote the
rest as they meant it.
"""

from __future__ import annotations

import functools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

import jaconv

from bot.understanding.analyzer import Token

SPELLINGS_FILE = Path(__file__).with_name("data") / "spellings.tsv"
MIN_READING = 3  # shorter readings (イエ, セン, ガク) would match inside other words and particles
_KANJI = re.compile(r"[\u3400-\u9fff々〆]")
# Kana, with spaces, digits, marks and Latin letters (「ｻﾎﾟｰﾄ TEL ｼﾞｶﾝ」, 「ID わすれた」)
_KANA_ONLY = re.compile(r"[\u3041-\u30ffー\s\da-zA-Z!?！？。、.,・]+")
_KANA = re.compile(r"[\u3041-\u30ff]")
_SPELLED_POS = frozenset({"名詞", "動詞", "形容詞", "形状詞"})


def kana_only(text: str) -> bool:
    """Whether ``text`` (cleaned: half-width kana already full-width) is kana alone (beside Latin
    letters and digits), with at least one word's worth of it."""
    return bool(_KANA_ONLY.fullmatch(text)) and len(_KANA.findall(text)) >= MIN_READING


def spellings(tokens: Iterable[Token]) -> dict[str, str]:
    """Reading -> the word most often written for it, of the kanji words among ``tokens``."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for token in tokens:
        reading = token.reading
        if token.pos in _SPELLED_POS and _KANJI.search(token.surface) and len(token.surface) >= 2 \
                and len(reading) >= MIN_READING:
            seen[reading][token.surface] += 1
    return {reading: surfaces.most_common(1)[0][0] for reading, surfaces in seen.items()}


@functools.cache
def shipped_spellings(path: Path = SPELLINGS_FILE) -> dict[str, str]:
    """The shipped vocabulary (``data/spellings.tsv``: reading, word): every kanji word of the FAQ
    files we hold, so a kana message meets the usual words even where this operator's FAQ lacks them."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    return dict(line.split("\t", 1) for line in lines if "\t" in line)


class Speller:
    """The readings of a vocabulary's kanji words, and the longest-first spelling of kana with them."""

    def __init__(self, tokens: Iterable[Token], known: Mapping[str, str] | None = None) -> None:
        # A reading with two spellings (コウジ: 工事 and 公示) takes the one the FAQ uses most; the
        # FAQ's own spelling comes before the shipped vocabulary's (``known``).
        self._words = {**(shipped_spellings() if known is None else known), **spellings(tokens)}
        self._longest = max(map(len, self._words), default=0)

    def respell(self, text: str) -> str:
        """``text`` with every known reading replaced by its word, longest first, left to right
        (「ばんぐみひょう みたい」 -> 「番組表 みたい」); the rest is kept as written."""
        if not self._words:
            return text
        kana = jaconv.hira2kata(text)
        out, i = [], 0
        while i < len(text):
            # ナク right after kana is a negative ending (みれなくなった, can no longer see), not 亡く or 無く.
            longest = 0 if kana.startswith("ナク", i) and i and _KANA.match(text[i - 1]) else self._longest
            for length in range(min(longest, len(text) - i), MIN_READING - 1, -1):
                word = self._words.get(kana[i:i + length])
                if word is not None:
                    out.append(word)
                    i += length
                    break
            else:
                out.append(text[i])
                i += 1
        return "".join(out)
