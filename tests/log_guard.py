"""The log guard: no log line of the suite may hold personal data, a secret or what a customer typed.

``tests/conftest.py`` runs ``check_records`` after every test over what ``caplog`` caught (our
own loggers at DEBUG, the rest at the app's INFO), and tests that start processes run
``check_text`` over their captured stderr. What is looked for:

- the secrets and personal values the tests use (channel secret, access token, SECRET_KEY, the
  seeded passwords, customer numbers, phone numbers, mail addresses), added to with ``remember``;
- every text a test's LINE user typed (``LineUser.text_event`` calls ``remember_typed``), when
  it is long enough to be more than a command word;
- by shape: any full mail address (other than the sender's own), any Japanese phone number,
  and link tokens in URLs (``/register/complete/<token>``, ``token=...``).
"""

from __future__ import annotations

import logging
import re
import threading

# Values every test may use; ``remember`` adds a test's own.
_FIXED = {
    "test-channel-secret", "test-access-token", "test-secret-key-" + "x" * 32,
    "Koka2026pass", "Koka2026pw", "NewPass2026", "12345678", "87654321", "0748621234", "0748-62-1234",
    "09012345678", "090-1234-5678",
}
# Command words and answers that are the bot's own vocabulary, not something a customer wrote.
_VOCABULARY_MIN = 6  # typed texts shorter than this (登録, はい, 1, ...) are too common to be a leak
_ALLOWED_ADDRESSES = {"noreply@aicom-koka.jp"}
_MAIL = re.compile(r"[A-Za-z0-9._%+\-\"]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_PHONE = re.compile(r"(?<![0-9A-Za-z])0[0-9]{1,4}-?[0-9]{1,4}-?[0-9]{4}(?![0-9A-Za-z])")
_TOKEN_URL = re.compile(r"/register/complete/[A-Za-z0-9_\-]{12,}|[?&](?:token|t)=[A-Za-z0-9_\-.]{12,}")

_lock = threading.Lock()
_values: set[str] = set()


def reset() -> None:
    with _lock:
        _values.clear()
        _values.update(_FIXED)


def remember(*values: str) -> None:
    """Values this test uses that must never be logged (a password, an address, ...)."""
    with _lock:
        _values.update(v for v in values if v)


def remember_typed(text: str) -> None:
    """What a customer typed; kept out of logs when it is more than a short command word."""
    if len(text.strip()) >= _VOCABULARY_MIN:
        remember(text.strip())


def problems(line: str) -> list[str]:
    """What in one log line must not be there (described, never quoted in full)."""
    found = []
    with _lock:
        values = list(_values)
    for value in values:
        if value in line:
            found.append(f"a sensitive value of the test ({value[:2]}…, {len(value)} chars)")
    for match in _MAIL.finditer(line):
        if match.group(0).lower() not in _ALLOWED_ADDRESSES:
            found.append(f"a mail address ({match.group(0)[:1]}…@…)")
    for match in _PHONE.finditer(line):
        found.append(f"a phone number (…{match.group(0)[-4:]})")
    if _TOKEN_URL.search(line):
        found.append("a link token in a URL")
    return found


def _text_of(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    if record.stack_info:
        text += "\n" + record.stack_info
    return text


# Loggers of the stand-ins for other people's servers (aiosmtpd is the provider's mail server):
# what they log is theirs, not ours.
_NOT_OURS = ("mail.log",)


def check_records(records: list[logging.LogRecord]) -> list[str]:
    """One line per offending record: logger, level and what it held."""
    out = []
    for record in records:
        if record.name.startswith(_NOT_OURS):
            continue
        for problem in problems(_text_of(record)):
            out.append(f"{record.name} {record.levelname} ({record.pathname}:{record.lineno}): {problem}")
    return out


def check_text(text: str, where: str = "stderr") -> list[str]:
    return [f"{where}: {p}" for line in text.splitlines() for p in problems(line)]
