"""Validators: what a person typed -> a typed, canonical value, or ``InvalidInput(messages.X)``.

Pure functions, no I/O, in the manner of click's parameter types: each converts or fails
with a message meant for the customer that names the item and says how to fix it. The
chat flows and the 本登録 page use the same functions.
"""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from bot import messages, normalize
from bot.errors import InvalidInput

CUSTOMER_NUMBER_RE = re.compile(r"[0-9]{1,20}")
# Japanese numbers: a leading 0, then 9 (landline) or 10 (mobile, IP, 0120) digits.
PHONE_RE = re.compile(r"0[0-9]{9,10}")
# A name needs at least one katakana letter (incl. small kana, ヴ, ヵ, ヶ), not only marks.
KANA_LETTER_RE = re.compile(r"[\u30a1-\u30fa]")
PRINTABLE_ASCII_RE = re.compile(r"[!-~]+")  # half-width printable, no space
ACCOUNT_ID_MIN, ACCOUNT_ID_MAX = 5, 30
NICKNAME_MIN, NICKNAME_MAX = 1, 20
PASSWORD_MIN, PASSWORD_MAX = 8, 16
KANA_NAME_MAX = 100
# Categories a nickname may not contain: controls, format characters (bidi overrides,
# zero-width spaces), unassigned/private/surrogates, line and paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"})
_ZERO_WIDTH_JOINER = "\u200d"  # allowed: joins emoji sequences


def customer_number(text: str) -> str:
    """お客様番号: digits (full-width and hyphens fine), leading zeros dropped."""
    value = normalize.customer_number(text)
    if not CUSTOMER_NUMBER_RE.fullmatch(value) or value == "0":
        raise InvalidInput(messages.CUSTOMER_NUMBER_INVALID)
    return value


def phone(text: str) -> str:
    """電話番号: digits only (hyphens, brackets, full-width digits and +81 accepted)."""
    value = normalize.phone(text)
    if not PHONE_RE.fullmatch(value):
        raise InvalidInput(messages.PHONE_INVALID)
    return value


def kana_name(text: str) -> str:
    """お名前（カナ）: full-width katakana with one full-width space between words."""
    value = normalize.kana_name(text)
    if len(value) > KANA_NAME_MAX or not normalize.is_katakana_name(value) or not KANA_LETTER_RE.search(value):
        raise InvalidInput(messages.NAME_KANA_INVALID)
    return value


def account_id(text: str) -> str:
    """アカウントID: half-width letters, digits and symbols, 5 to 30, no spaces (full-width typing is folded)."""
    value = unicodedata.normalize("NFKC", text).strip()
    if not (ACCOUNT_ID_MIN <= len(value) <= ACCOUNT_ID_MAX) or not PRINTABLE_ASCII_RE.fullmatch(value):
        raise InvalidInput(messages.ACCOUNT_ID_RULES)
    return value


# Japanese mobile carriers that let customers choose addresses breaking RFC 5322's dot rules
# (two dots in a row, a dot first or just before the @) until April 2009; such addresses are
# still in use. Sources (README "Security and reliability"): docomo and au (ezweb) changed
# their rules on 2009-04-01 (rbbtoday 2009-04-03, plusmb.jp 2009-04-10, h-fj.com 2009-03);
# i.softbank.jp is named among them by comipo's help centre; au.com took over ezweb.ne.jp
# addresses with their local part (2017). SoftBank's softbank.ne.jp followed the rules.
LEGACY_CARRIER_DOMAINS = frozenset({"docomo.ne.jp", "ezweb.ne.jp", "au.com", "i.softbank.jp"})
# The carriers' own alphabet: letters, digits, "." "-" "_" (and a few atext symbols au allowed).
_LEGACY_LOCAL_RE = re.compile(r"[A-Za-z0-9._\-+/?]{1,64}")


def legacy_carrier_address(value: str) -> bool:
    """True for an address on a carrier domain whose local part breaks only the dot rules."""
    local, at, domain = value.rpartition("@")
    if not at or domain.lower() not in LEGACY_CARRIER_DOMAINS or not _LEGACY_LOCAL_RE.fullmatch(local):
        return False
    return ".." in local or local.startswith(".") or local.endswith(".")


# What typing in Japanese mode puts where an address has "." or "-" (NFKC has already folded
# full-width letters, digits, "＠" and "．"): 「。」 and the long vowel mark 「ー」 never belong in
# an address, so they are read as what the customer meant; the confirmation shows the result.
_IME_LOOKALIKES = str.maketrans({"。": ".", "、": ",", "ー": "-", "‐": "-", "−": "-", "―": "-"})
# RFC 5322 atext: what the part before "@" may hold besides letters, digits and dots.
_LOCAL_SYMBOLS = frozenset("!#$%&'*+-/=?^_`{|}~")
_DOMAIN_CHARS_RE = re.compile(r"[A-Za-z0-9.\-]+")
_DOMAIN_LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?")
_QUOTED_DOMAIN_MAX = 40  # a domain quoted back in a message is cut to this
# Mistyped domains of the providers most customers use, each what it is almost certainly meant to
# be. Only names that no provider hands out to customers: a real domain must never be refused.
COMMON_DOMAIN_TYPOS = {
    "gmail.co": "gmail.com", "gmail.cm": "gmail.com", "gmail.con": "gmail.com", "gmail.comm": "gmail.com",
    "gmail.om": "gmail.com",
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gamil.com": "gmail.com", "gmali.com": "gmail.com",
    "gmaill.com": "gmail.com",
    "yahoo.co.j": "yahoo.co.jp", "yahoo.co.jo": "yahoo.co.jp", "yahoo.cojp": "yahoo.co.jp",
    "yahoo.co.pj": "yahoo.co.jp", "yahooo.co.jp": "yahoo.co.jp", "yaho.co.jp": "yahoo.co.jp",
    "yhaoo.co.jp": "yahoo.co.jp",
    "docomo.ne.j": "docomo.ne.jp", "docomo.ne.jo": "docomo.ne.jp", "docomo.nejp": "docomo.ne.jp",
    "docomo.co.jp": "docomo.ne.jp", "docono.ne.jp": "docomo.ne.jp", "dokomo.ne.jp": "docomo.ne.jp",
    "docomo.ne.pj": "docomo.ne.jp",
    "ezweb.ne.j": "ezweb.ne.jp", "ezweb.ne.jo": "ezweb.ne.jp", "ezweb.nejp": "ezweb.ne.jp",
    "ezweb.co.jp": "ezweb.ne.jp", "ezwed.ne.jp": "ezweb.ne.jp",
    "softbank.ne.j": "softbank.ne.jp", "softbank.nejp": "softbank.ne.jp", "i.softbank.ne.jp": "i.softbank.jp",
    "icloud.co": "icloud.com", "icloud.con": "icloud.com", "iclod.com": "icloud.com", "icoud.com": "icloud.com",
    "outlook.co": "outlook.com", "outlook.con": "outlook.com", "hotmail.con": "hotmail.com",
}


def _quoted(domain: str) -> str:
    return domain if len(domain) <= _QUOTED_DOMAIN_MAX else domain[:_QUOTED_DOMAIN_MAX - 1] + "…"


def _email_mistake(value: str) -> str | None:
    """What is wrong with a (folded) address, as the message that says so; None if nothing we can name."""
    if not value:
        return messages.EMAIL_EMPTY
    if any(ch.isspace() for ch in value):
        return messages.EMAIL_SPACE
    stray = next((ch for ch in value if not (" " < ch <= "~")), None)
    if stray is not None:
        shown = stray if unicodedata.category(stray)[0] in "LNPS" else "制御文字など"
        return messages.EMAIL_NOT_ASCII.format(char=shown)
    count = value.count("@")
    if count == 0:
        return messages.EMAIL_NO_AT
    if count > 1:
        return messages.EMAIL_TWO_AT
    local, _, domain = value.partition("@")
    if not local:
        return messages.EMAIL_NO_LOCAL
    if not domain:
        return messages.EMAIL_NO_DOMAIN
    bad = next((ch for ch in local if not (ch.isalnum() or ch == "." or ch in _LOCAL_SYMBOLS)), None)
    if bad is None and not _DOMAIN_CHARS_RE.fullmatch(domain):
        bad = next(ch for ch in domain if not (ch.isalnum() or ch in ".-"))
    if bad is not None:
        return messages.EMAIL_BAD_CHAR.format(char=bad)
    if ".." in local or local.startswith(".") or local.endswith("."):
        return messages.EMAIL_LOCAL_DOTS
    if "." not in domain.strip("."):
        return messages.EMAIL_DOMAIN_INCOMPLETE.format(domain=_quoted(domain))
    labels = domain.split(".")
    if not all(_DOMAIN_LABEL_RE.fullmatch(label) for label in labels) or not (
            labels[-1].isalpha() or labels[-1].lower().startswith("xn--")):
        return messages.EMAIL_DOMAIN_INVALID.format(domain=_quoted(domain))
    suggestion = COMMON_DOMAIN_TYPOS.get(domain.lower())
    if suggestion:
        return messages.EMAIL_DOMAIN_TYPO.format(domain=domain, suggestion=suggestion)
    if len(local) > 64 or len(value) > 254:
        return messages.EMAIL_TOO_LONG
    return None


def email(text: str) -> str:
    """メールアドレス: syntax only (no DNS), ASCII so any mail server takes it; normalised form.

    Full-width typing is folded (NFKC, and 「。」「ー」 typed in Japanese mode for "." and "-"; a
    「。」 ending the sentence is dropped). A refusal says what is wrong: no 「@」, nothing before
    or after it, a domain without a dot (``taro@example``), a space, a character no address may
    hold, a mistyped common domain (``gmail.co``); email-validator decides the rest.
    A legacy carrier address (``taro..x@docomo.ne.jp``) is accepted as it is, on the carrier
    domains that issued them; the mailer quotes its local part (RFC 5321 allows it)."""
    value = unicodedata.normalize("NFKC", text).strip().removesuffix("。").translate(_IME_LOOKALIKES)
    if legacy_carrier_address(value):
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"
    mistake = _email_mistake(value)
    if mistake is not None:
        raise InvalidInput(mistake)
    try:
        result = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidInput(messages.EMAIL_INVALID) from exc
    return result.ascii_email or result.normalized  # an internationalised domain as its ASCII (xn--) form


def nickname(text: str) -> str:
    """ニックネーム: 1 to 20 characters after NFKC and trimming, no control characters."""
    value = unicodedata.normalize("NFKC", text).strip()
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES and ch != _ZERO_WIDTH_JOINER for ch in value):
        raise InvalidInput(messages.NICKNAME_CONTROL)
    if not (NICKNAME_MIN <= len(value) <= NICKNAME_MAX):
        raise InvalidInput(messages.NICKNAME_LENGTH)
    return value


def normalize_password(text: str) -> str:
    """The form a password is hashed and checked in: NFKC (full-width typing folds to ASCII).

    The login page must apply this before ``verify_password`` too.
    """
    return unicodedata.normalize("NFKC", text)


def password(text: str, *, account_id: str, phone: str, customer_number: str) -> str:
    """パスワード: 8 to 16 half-width printable characters, at least two of upper/lower/digits.

    NFKC first; too long is refused (never truncated); a password equal to the account ID
    (ignoring case), the phone number or the customer number is refused.
    """
    value = normalize_password(text)
    if not value:
        raise InvalidInput(messages.PASSWORD_EMPTY)
    if len(value) > PASSWORD_MAX:
        raise InvalidInput(messages.PASSWORD_TOO_LONG)
    if len(value) < PASSWORD_MIN:
        raise InvalidInput(messages.PASSWORD_TOO_SHORT)
    if not PRINTABLE_ASCII_RE.fullmatch(value):
        raise InvalidInput(messages.PASSWORD_CHARS)
    if value.lower() == account_id.lower():
        raise InvalidInput(messages.PASSWORD_SAME_AS_ACCOUNT_ID)
    if phone and normalize.phone(value) == phone:
        raise InvalidInput(messages.PASSWORD_SAME_AS_PHONE)
    if customer_number and normalize.customer_number(value) == customer_number:
        raise InvalidInput(messages.PASSWORD_SAME_AS_CUSTOMER_NUMBER)
    kinds = sum((any(c.isupper() for c in value), any(c.islower() for c in value),
                 any(c.isdigit() for c in value)))
    if kinds < 2:
        raise InvalidInput(messages.PASSWORD_KINDS)
    return value
