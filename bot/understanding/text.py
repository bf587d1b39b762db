"""Cleaning what people type before it is analysed: width, kana, long vowels, punctuation, emoji.

Pure functions. ``clean`` keeps the words and drops the noise that carries no meaning for
the bot (emoji, 「笑」, repeated marks, polite sentence endings); ``kana_key`` is the text
as katakana, so a customer who writes りょうきん and one who writes 料金 meet on the reading.
"""

from __future__ import annotations

import re
import unicodedata

import jaconv

# Emoji and pictographs, dingbats, variation selectors, zero-width joiners, kaomoji marks.
_EMOJI = re.compile(
    "[\U0001F000-\U0001FAFF\U00002600-\U000027BF\U0000FE00-\U0000FE0F\U0000200D\U00002B00-\U00002BFF"
    "\U0001F900-\U0001F9FF\u3030\u303D\u3297\u3299]+"
)
# Laughter and trailing noise people add: 笑, (笑), www, 草.
_LAUGH = re.compile(r"[(（]?笑[)）]?$|w{2,}$|ｗ{2,}$")
# Long-vowel look-alikes between kana (りょ〜きん, ネットｰ): the katakana long vowel mark.
_LONG_VOWEL = re.compile(r"(?<=[\u3041-\u30ff])[~〜～\-−‐ｰ]+")
_REPEATED_MARKS = re.compile(r"([!?！？。、…・.,])\1+")
_SPACES = re.compile(r"\s+")
# 「ご請求額をお知らせいただけますか」 asks to be told, as 教えていただけますか does: not the notices.
_TELL_ME = re.compile(r"お知らせ(?=いただ|頂|くださ|下さ|願)")
# Polite or softening sentence endings that add no meaning (longest first).
_POLITE_ENDINGS = re.compile(
    r"(?:して)?(?:いただけ|頂け|もらえ|くれ)(?:ます|ません)?(?:か|でしょうか)?$"
    r"|(?:を)?(?:お願い|おねがい)(?:いた|致)?(?:します|したいです|したい|できますか|します。)?$"
    r"|(?:ください|下さい|くださいませ)$"
    r"|(?:なんですけど|なんですが|のですが|んですけど|んですが|んだけど|のですけど|ですけど|ですが)$"
    r"|(?:でしょうか|ですか|ますか|ますでしょうか)$"
    r"|(?:です|ます|ね|よね|かな|かね)$"
)


# East Japan's 〜てぇ for 〜たい after a verb (作りてぇんだども, 変えてぇ): the analyser knows たい. Not
# before な, where Kansai's 〜てぇな asks a favour.
_WANT_EAST = re.compile(r"(?<=[いきしちにひみりぎじびぴえけせてねへめれげぜべぺ])"
                        r"て[ぇえ](?=[んだどよけ、。!?！？\s]|$)")

# Tohoku's 〜ねぐ for 〜なく (来ねぐして, わがんねぐなった): not ねぐら.
_NOT_NORTH = re.compile(r"ねぐ(?=[しなてっ])")


def clean(text: str) -> str:
    """NFKC (full-width letters and digits to ASCII, half-width kana to full), lower case, no emoji,
    no laughter marks, one space, long vowels unified, repeated punctuation folded once, and a
    polite 「お知らせください」 read as the 「教えてください」 it means."""
    value = unicodedata.normalize("NFKC", text)
    value = _EMOJI.sub(" ", value)
    value = _SPACES.sub(" ", value).strip().lower()
    value = _LAUGH.sub("", value).strip()
    value = _LONG_VOWEL.sub("ー", value)
    value = _REPEATED_MARKS.sub(r"\1", value)
    return _NOT_NORTH.sub("なく", _WANT_EAST.sub("たい", _TELL_ME.sub("教えて", value)))


def strip_polite(text: str) -> str:
    """Drop trailing punctuation and polite endings (「〜を教えてください」 -> 「〜を教えて」), repeatedly."""
    value = text
    for _ in range(4):
        before = value
        value = value.rstrip(" 。、.,!?！？…・「」『』")
        value = _POLITE_ENDINGS.sub("", value)
        if value == before:
            break
    return value or text


def kana_key(text: str) -> str:
    """Hiragana to katakana (the analyser's readings are katakana)."""
    return jaconv.hira2kata(text)
