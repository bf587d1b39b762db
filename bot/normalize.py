"""Normalisers: turn what people type (full-width, half-width kana, hyphens) into canonical values.

Pure functions, no I/O. Used by the chat flows and by the CSV importers alike, so a
customer record and a customer's answer are always compared in the same form.
"""

from __future__ import annotations

import re
import unicodedata

import jaconv

# Every dash, hyphen and minus a phone number or a kana name may arrive with, including the
# katakana long vowel mark an IME produces for "-" in kana mode (0748ー62ー1234).
_DASHES = "-‐‑‒–—―−－ｰー﹣⁃─━"
_DASH_RE = re.compile(f"[{re.escape(_DASHES)}]")
# Long-vowel look-alikes that people type inside katakana names.
_LONG_VOWEL_LOOKALIKES = re.compile(r"[-‐‑‒–—―−－ｰ~〜～]")
_SPACES = re.compile(r"[\s\u3000]+")
# The spacing voiced/semi-voiced marks (゛゜, as in "う゛") become their combining forms so that
# NFKC composes them with the kana before them instead of turning them into " ゙".
_SPACING_VOICE_MARKS = str.maketrans({"\u309b": "\u3099", "\u309c": "\u309a"})
# A canonical kana name: katakana words (with ー, ・ and the iteration marks) separated by one
# full-width space.
_KATAKANA_WORD = r"[\u30a1-\u30fa\u30fc\u30fb\u30fd\u30fe]+"
_KATAKANA_NAME_RE = re.compile(f"{_KATAKANA_WORD}(?:\u3000{_KATAKANA_WORD})*")


def nfkc(text: str) -> str:
    """NFKC-normalise and strip surrounding whitespace (full-width digits become ASCII)."""
    return unicodedata.normalize("NFKC", text).strip()


def digits_only(text: str) -> str:
    """Full-width digits to ASCII, then drop hyphens, spaces and brackets; other characters stay."""
    value = nfkc(text)
    value = _DASH_RE.sub("", value)
    value = re.sub(r"[\s()（）]", "", value)
    # Dropping a separator can bring a combining mark next to its letter ("う゛" -> "う ゙" ->
    # "ゔ"): compose again so that normalising twice changes nothing more.
    return unicodedata.normalize("NFKC", value)


def customer_number(text: str) -> str:
    """Canonical customer number: ASCII digits without leading zeros (``"0012345"`` -> ``"12345"``).

    Returns the cleaned string even when it is not all digits; validators decide.
    """
    value = digits_only(text)
    if value.isdigit():
        stripped = value.lstrip("0")
        return stripped or "0"
    return value


def phone(text: str) -> str:
    """Canonical phone number: digits only, ``+81``/``81`` country prefix turned into a leading 0.

    Dots (``090.1234.5678``) are separators too. Returns the cleaned string even when it is
    not a valid number; validators decide.
    """
    value = digits_only(digits_only(text).replace(".", ""))  # again: a removed dot may join カ and ゙
    if value.startswith("+81"):
        value = "0" + value[3:].lstrip("0")
    elif value.startswith("81") and len(value) in (11, 12):
        value = "0" + value[2:]
    return value


def kana_name(text: str) -> str:
    """Canonical contract-holder name: full-width katakana, one full-width space between words.

    Accepts hiragana, half-width kana, any run of spaces, and the dash/tilde look-alikes
    people type for the long vowel mark. ``jaconv.normalize`` is deliberately not used on
    the whole string: it would also rewrite hyphens in non-kana text.
    """
    value = text.translate(_SPACING_VOICE_MARKS)
    value = unicodedata.normalize("NFKC", value)  # half-width kana -> full-width, combines voicing marks
    value = jaconv.hira2kata(value)
    value = _LONG_VOWEL_LOOKALIKES.sub("ー", value)
    words = [w for w in _SPACES.split(value.strip()) if w]
    return "\u3000".join(words)


def is_katakana_name(value: str) -> bool:
    """True when ``value`` is already a canonical kana name (see ``kana_name``) and not empty."""
    return bool(_KATAKANA_NAME_RE.fullmatch(value))


def command_text(text: str) -> str:
    """Key for matching typed commands: NFKC, no spaces, no trailing punctuation marks."""
    value = nfkc(text)
    value = _SPACES.sub("", value)
    return unicodedata.normalize("NFKC", value).strip("。、.,!?！？・「」『』")


def mask_customer_number(value: str) -> str:
    """``12345678`` -> ``****5678`` for logs and pages."""
    return ("*" * max(len(value) - 4, 0)) + value[-4:] if len(value) > 4 else "*" * len(value)


def mask_phone(value: str) -> str:
    """``0748621234`` -> ``******1234``."""
    return mask_customer_number(value)


def mask_email(value: str) -> str:
    """``taro@example.jp`` -> ``t***@example.jp``."""
    local, _, domain = value.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"
