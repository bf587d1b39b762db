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


# -- masking what is personal in free text (the transcript staff see, ``faq misses``) -------------
# Every regex below is linear: no pattern can try a run of characters from many starting points.
# A mail address: the local part starts where a run of address characters starts (the lookbehind),
# so a long run without "@" is read once, not once per character.
_MAIL_LOCAL = r"[A-Za-z0-9._%+\-!#$&'*/=?^`{|}~]"
_MAIL_RE = re.compile(rf"(?<!{_MAIL_LOCAL}){_MAIL_LOCAL}*@[A-Za-z0-9.\-]*")
# A run of digits joined by what people put between the parts of a phone number or a date:
# hyphens (and the dashes an IME makes), one or two spaces, dots, slashes, brackets, commas.
_NUMBER_SEPARATORS = "-‐‑‒–—―−ー ./()（）,"
_NUMBER_RUN_RE = re.compile(rf"\d+(?:[{re.escape(_NUMBER_SEPARATORS)}]{{1,2}}\d+)*")
_GROUP_RE = re.compile(rf"([{re.escape(_NUMBER_SEPARATORS)}]*)(\d+)")
# What may follow a number that is a year, a month, a date, an amount or a count, not an identifier.
# (Right after the digits: 「12345678 人と話したい」 is a customer number, then words.)
_UNIT_RE = re.compile(r"\s?円|年|月|日|万|千|百|億|時|分|秒|件|回|歳|才|台|か月|ヶ月|ケ月|カ月|箇月|%|GB|MB|Mbps|Gbps")
_BRAND_KANA = "アイコムコウカ"  # あいコムこうか: a name part that is also our name is not masked (アイコム タロウ)
PERSONAL_DIGITS = 5  # a run of this many digits or more is a customer number, a phone, a postcode…
_NAME_PART_MIN = 2  # one kana alone is part of too many words to mask


def _is_date(groups: list[tuple[str, str]], start: int) -> int:
    """How many groups from ``start`` form ``2026/8``, ``2026-08-27`` or ``2026.8.27`` (0: none)."""
    year = groups[start][1]
    if len(year) != 4 or not year.startswith(("19", "20")) or start + 1 >= len(groups):
        return 0
    separator, month = groups[start + 1]
    if separator not in ("/", "-", ".") or not (len(month) <= 2 and 1 <= int(month) <= 12):
        return 0
    if start + 2 < len(groups):
        separator2, day = groups[start + 2]
        if separator2 == separator and len(day) <= 2 and 1 <= int(day) <= 31:
            return 3
    return 2


def _is_amount(groups: list[tuple[str, str]], start: int) -> int:
    """How many groups from ``start`` form an amount written with thousands commas (``12,800``)."""
    if len(groups[start][1]) > 3:
        return 0
    count = 1
    while start + count < len(groups) and groups[start + count][0] == "," and len(groups[start + count][1]) == 3:
        count += 1
    return count if count > 1 else 0


def _mask_number_run(match: re.Match[str]) -> str:
    """One run of digits: years, months, dates, amounts and counts stay; long identifiers are masked.

    The run is read group by group (digits and what stands before them): a date or an amount
    written with commas is kept as it is; the other groups are gathered into numbers, and a
    number of ``PERSONAL_DIGITS`` digits or more has its digits replaced by ``*`` (its hyphens
    stay, so staff can tell a phone number from a customer number). A unit after the run
    (``年``, ``円``, ``か月`` …) or a ``¥`` before it keeps the last number: it is a quantity.
    """
    text = match.string
    groups = [(g[1], g[2]) for g in _GROUP_RE.finditer(match.group(0))]
    before = text[match.start() - 1] if match.start() else ""
    quantity_last = before in ("¥", "$") or _UNIT_RE.match(text, match.end()) is not None
    out: list[str] = []
    pending: list[tuple[str, str]] = []

    def flush() -> None:
        if not pending:
            return
        mask = sum(len(number) for _separator, number in pending) >= PERSONAL_DIGITS
        for separator, number in pending:
            out.append(separator)
            out.append("*" * len(number) if mask else number)
        pending.clear()

    index = 0
    while index < len(groups):
        taken = _is_date(groups, index) or _is_amount(groups, index)
        if taken:
            flush()
            out.extend(part for group in groups[index:index + taken] for part in group)
            index += taken
            continue
        if quantity_last and index == len(groups) - 1:
            flush()
            out.extend(groups[index])
        else:
            pending.append(groups[index])
        index += 1
    flush()
    return "".join(out)


def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for the names the bot knows (katakana form; any spaces between their words)."""
    parts: set[str] = set()
    for name in names:
        words = [w for w in _SPACES.split(jaconv.hira2kata(unicodedata.normalize("NFKC", name or "")).strip()) if w]
        if not words:
            continue
        parts.add(r"\s*".join(re.escape(w) for w in words))
        parts.update(re.escape(w) for w in words if len(w) >= _NAME_PART_MIN and w not in _BRAND_KANA)
    if not parts:
        return None
    return re.compile("|".join(sorted(parts, key=len, reverse=True)))


def mask_personal(text: str, names: tuple[str, ...] | list[str] = ()) -> str:
    """Free text with what is personal masked, in linear time: mail addresses (``***@***``), runs of
    five digits or more (customer numbers, phones, postcodes: ``****-**-****``) and the names
    the bot knows for this person (``names``: the contract name in kana and kanji, the nickname;
    hiragana or katakana, with or without the space: ``***``). Years, months, dates, amounts and
    counts stay (``2025年12月``, ``2026/8``, ``8月分``, ``5,280円``, ``12800円``). NFKC first."""
    value = nfkc(text)
    value = _MAIL_RE.sub(lambda m: "***@***" if "@" in m.group(0) and len(m.group(0)) > 1 else m.group(0), value)
    value = _NUMBER_RUN_RE.sub(_mask_number_run, value)
    pattern = _name_pattern(tuple(names))
    if pattern is None:
        return value
    katakana = jaconv.hira2kata(value)
    if len(katakana) != len(value):  # never expected: hira2kata maps one character to one
        return value
    pieces, last = [], 0
    for found in pattern.finditer(katakana):
        pieces.append(value[last:found.start()])
        pieces.append("***")
        last = found.end()
    pieces.append(value[last:])
    return "".join(pieces)
