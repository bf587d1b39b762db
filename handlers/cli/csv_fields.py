"""Field checks for the CSV imports: each takes the raw text of one field and returns its canonical value, or
raises ``ValueError`` with a message that names the field and never shows a phone number, a name or an address
(the forms accepted are told in ``handlers.cli.imports``)."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from bot import normalize
from storage import faq

MAX_CUSTOMER_NUMBER = 20
MAX_NAME = 100
MAX_EMAIL = 254
MAX_ITEM = 100
MAX_PAYMENT_METHOD = 50
MAX_AMOUNT_DIGITS = 12  # up to 999,999,999,999 yen: anything longer is a broken export
MIN_YEAR, MAX_YEAR = 2000, 2099
MAX_FAQ_ID = faq.MAX_ENTRY_ID
MAX_FAQ_QUESTION = 40
MAX_FAQ_ANSWER = 1000
MAX_FAQ_EXAMPLE = 200
MAX_FAQ_LINK = 500

_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_AMOUNT_RE = re.compile(r"-?(?:\d+|\d{1,3}(?:,\d{3})+)")
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\uff0d": "-"})
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR are left alone
_FAQ_ID_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_EXAMPLE_SEPARATOR_RE = re.compile(r"[|\uff5c]")


# -- customers and statements -----------------------------------------------------------------------------
def check_customer_number(raw: str) -> str:
    """Digits without leading zeros."""
    if not raw.strip():
        raise ValueError("customer_number is empty")
    value = normalize.customer_number(raw)
    if not value.isascii() or not value.isdigit():
        raise ValueError("customer_number must be digits")
    if value == "0":
        raise ValueError("customer_number must not be zero")
    if len(value) > MAX_CUSTOMER_NUMBER:
        raise ValueError(f"customer_number is longer than {MAX_CUSTOMER_NUMBER} digits")
    return value


def check_phone(raw: str) -> str:
    """Digits only, 10 or 11 of them, starting with 0."""
    if not raw.strip():
        raise ValueError("phone is empty")
    value = normalize.phone(raw)
    if not (value.isascii() and value.isdigit() and len(value) in (10, 11) and value.startswith("0")):
        raise ValueError("phone must be 10 or 11 digits starting with 0")
    return value


def check_name_kana(raw: str) -> str:
    """Full-width katakana words separated by one full-width space."""
    value = normalize.kana_name(raw)
    if not value:
        raise ValueError("name_kana is empty")
    if not normalize.is_katakana_name(value):
        raise ValueError("name_kana must be written in kana only")
    if len(value) > MAX_NAME:
        raise ValueError(f"name_kana is longer than {MAX_NAME} characters")
    return value


def check_text(raw: str, column: str, limit: int, required: bool = False, compat: bool = True) -> str | None:
    """Free text, stripped; empty is None.

    With ``compat`` it is NFKC-normalised too (half-width kana and full-width ASCII from
    legacy exports made ordinary). Personal names are only stripped: NFKC would replace
    compatibility ideographs, and a name must keep the exact characters its holder uses.
    """
    value = normalize.nfkc(raw) if compat else raw.strip()
    if not value:
        if required:
            raise ValueError(f"{column} is empty")
        return None
    if _CONTROL_RE.search(value):
        raise ValueError(f"{column} contains a control character")
    if len(value) > limit:
        raise ValueError(f"{column} is longer than {limit} characters")
    return value


def check_email(raw: str) -> str | None:
    """A syntactically valid address (no DNS lookup), in its normalised form; empty is None."""
    value = normalize.nfkc(raw)
    if not value:
        return None
    if _CONTROL_RE.search(value):
        raise ValueError("email contains a control character")
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError("email is not a valid address") from exc  # the reason may quote the address
    if len(checked.normalized) > MAX_EMAIL:
        raise ValueError(f"email is longer than {MAX_EMAIL} characters")
    return checked.normalized


def check_billing_month(raw: str) -> date:
    """``YYYY-MM`` -> the 1st of that month."""
    value = normalize.nfkc(raw)
    if not value:
        raise ValueError("billing_month is empty")
    match = _MONTH_RE.fullmatch(value)
    if not match or not 1 <= int(match[2]) <= 12 or not MIN_YEAR <= int(match[1]) <= MAX_YEAR:
        raise ValueError(f'billing_month "{value}" is not a month written YYYY-MM')
    return date(int(match[1]), int(match[2]), 1)


def check_due_date(raw: str) -> date | None:
    """``YYYY-MM-DD`` -> a date; empty is None."""
    value = normalize.nfkc(raw)
    if not value:
        return None
    try:
        if not _DATE_RE.fullmatch(value):
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f'due_date "{value}" is not a date written YYYY-MM-DD') from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f'due_date "{value}" is out of range')
    return day


def check_amount(raw: str) -> int:
    """Whole yen, possibly negative, optionally with thousands separators."""
    value = normalize.nfkc(raw).translate(_MINUS_SIGNS)
    if not value:
        raise ValueError("amount is empty")
    if not _AMOUNT_RE.fullmatch(value):
        raise ValueError(f'amount "{value}" is not a whole number of yen')
    digits = value.lstrip("-").replace(",", "")
    if len(digits.lstrip("0")) > MAX_AMOUNT_DIGITS:
        raise ValueError(f'amount "{value}" is too large')
    return int(value.replace(",", ""))


# -- the FAQ -----------------------------------------------------------------------------------------------
def check_faq_id(raw: str) -> str:
    """Letters, digits, ``_``, ``-`` and ``.``, at most 64 (full-width forms made ASCII)."""
    value = normalize.nfkc(raw)
    if not value:
        raise ValueError("id is empty")
    if len(value) > MAX_FAQ_ID:
        raise ValueError(f"id is longer than {MAX_FAQ_ID} characters")
    if not _FAQ_ID_RE.fullmatch(value):
        raise ValueError(f'id "{value}" may hold only letters, digits, "_", "-" and "."')
    return value


def _one_line(value: str | None, column: str) -> str | None:
    if value is not None and ("\n" in value or "\r" in value):
        raise ValueError(f"{column} must be one line")
    return value


def check_faq_question(raw: str) -> str:
    """One line, at most 40 characters, as written."""
    return _one_line(check_text(raw, "question", MAX_FAQ_QUESTION, required=True, compat=False), "question")


def check_faq_answer(raw: str) -> str:
    """At most 1,000 characters, as written; line breaks kept (CRLF and CR become LF)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    return check_text(text, "answer", MAX_FAQ_ANSWER, required=True, compat=False)


def check_faq_examples(raw: str) -> tuple[str, ...]:
    """Split on ``|`` (or ``｜``), each trimmed, empty ones dropped; each one line of at most 200 characters."""
    examples = []
    for part in _EXAMPLE_SEPARATOR_RE.split(raw):
        value = part.strip()
        if not value:
            continue
        if _CONTROL_RE.search(value):
            raise ValueError("an example contains a control character")
        if "\n" in value or "\r" in value:
            raise ValueError("an example must be one line (separate examples with |)")
        if len(value) > MAX_FAQ_EXAMPLE:
            raise ValueError(f"an example is longer than {MAX_FAQ_EXAMPLE} characters")
        examples.append(value)
    return tuple(examples)


def check_faq_link(raw: str) -> str | None:
    """Empty (None), an absolute http(s) URL, or a path starting with ``/`` (shown after PUBLIC_BASE_URL)."""
    value = raw.strip()
    if not value:
        return None
    if any(character.isspace() for character in value) or _CONTROL_RE.search(value):
        raise ValueError("link must not contain spaces or line breaks")
    if len(value) > MAX_FAQ_LINK:
        raise ValueError(f"link is longer than {MAX_FAQ_LINK} characters")
    if value.startswith("/") and not value.startswith("//"):
        return value
    try:
        parts = urlsplit(value)
        absolute = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a malformed host ("http://[::1")
        absolute = False
    if not absolute:
        raise ValueError("link must be an http:// or https:// URL, or a path starting with /")
    return value
