"""CSV imports from the billing system: read, check every line, then write everything or nothing.

Every line is checked before anything is written. The file is streamed: a raw row lives
only while it is checked, and only the checked values are kept for the write. Problems are
collected as ``line N: <what is wrong>`` (the header is line 1, physical lines counted
even inside quoted multi-line fields; a record is reported at the line it starts on) and
the import stops with ``ImportFailed`` listing all of them. Messages name fields and
show non-personal values (months, dates, amounts, item names) but never a phone number,
a name or an address.

Accepted forms (documented for operators):
- encodings: UTF-8 with or without BOM, or cp932 (``--encoding cp932``);
- header names in any order and letter case, surrounding spaces ignored;
- blank lines, and lines whose fields are all empty (spreadsheet leftovers), are skipped;
- customer numbers and phone numbers in full-width digits with hyphens, spaces, brackets;
  kana names in hiragana or half-width kana (stored as full-width katakana);
- ``amount``: whole yen, ASCII or full-width digits, an optional minus sign (``-``, ``−``,
  ``－``) and optional thousands separators (``1,280``, grouped by three); no decimals,
  no ``円`` or ``¥``;
- ``billing_month`` exactly ``YYYY-MM`` and ``due_date`` exactly ``YYYY-MM-DD`` (real dates);
- an empty optional field stores nothing (NULL). In a customer file, an optional column
  that is absent leaves the stored value alone; a statement is replaced whole, so there an
  absent ``due_date``/``payment_method`` is stored as none. Within one statement a blank
  ``due_date``/``payment_method`` on some rows is fine, two different values are an error.
- a file with a header and no data rows is an error (almost always a wrong export);
- control characters other than tab and line breaks (NUL, ESC, ...) in a text field are an
  error: PostgreSQL refuses NUL outright, and the rest is debris of a broken export;
- with ``--encoding cp932``, a file that is valid UTF-8 throughout and not plain ASCII is
  refused: UTF-8 kanji often decode as cp932 without an error, as mojibake.

The FAQ file (``import-faq``; header ``id,question,answer`` and optionally ``examples``,
``link``) is read the same way and replaces the whole FAQ set:
- ``id``: letters, digits, ``_``, ``-``, ``.``, at most 64 (full-width forms are made ASCII);
  unique in the file, ignoring letter case;
- ``question``: one line, at most 40 characters; ``answer``: at most 1,000 characters, line
  breaks kept (CRLF made LF); both kept exactly as written (no NFKC: ``（）`` and ``？``
  stay full-width), only surrounding spaces stripped;
- ``examples``: other ways customers ask, separated by ``|`` (or a full-width ``｜``);
  each trimmed, empty ones dropped, one line of at most 200 characters each;
- ``link``: empty, an absolute ``http://`` or ``https://`` URL, or a path starting with
  ``/`` that the bot shows after ``PUBLIC_BASE_URL`` (``/mypage`` ->
  ``https://bot.example.jp/mypage``); at most 500 characters, no spaces.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from bot import normalize
from storage import bulk, faq

log = logging.getLogger(__name__)

CUSTOMER_REQUIRED = ("customer_number", "phone", "name_kana")
CUSTOMER_OPTIONAL = ("name", "email")
STATEMENT_REQUIRED = ("customer_number", "billing_month", "item", "amount")
STATEMENT_OPTIONAL = ("due_date", "payment_method")
FAQ_REQUIRED = ("id", "question", "answer")
FAQ_OPTIONAL = ("examples", "link")
ENCODINGS = ("utf-8", "cp932")

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
_COLUMN_NAME_RE = re.compile(r"[a-z_][a-z0-9_ ;|\t]{0,79}")  # also shows a wrong separator
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\uff0d": "-"})
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tab, LF and CR are left alone
_FAQ_ID_RE = re.compile(r"[A-Za-z0-9_.\-]+")
_EXAMPLE_SEPARATOR_RE = re.compile(r"[|\uff5c]")

Progress = Callable[[int], None]  # called with how many more rows are done
ProgressBars = Callable[[str, int], Progress]  # (phase label, total rows) -> that phase's Progress


@dataclass(frozen=True)
class LineError:
    """One problem on one line of the file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Exception):
    """The file cannot be imported; ``errors`` lists every bad line (nothing was written)."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = sorted(errors, key=lambda error: error.line)  # stable: field order within a line
        super().__init__(f"{len(self.errors)} problem(s)")


@dataclass
class CsvTable:
    """The rows of a CSV file keyed by column name, each with the line it starts on.

    ``rows`` is read from the file as it is iterated (iterate it once, to the end);
    ``errors`` fills up meanwhile, and is complete only after the last row.
    """

    columns: tuple[str, ...]
    rows: Iterator[tuple[int, dict[str, str]]]
    errors: list[LineError] = field(default_factory=list)


def count_lines(path: Path) -> int:
    """Physical lines in the file (for the progress bar's total)."""
    lines = 0
    with open(path, "rb") as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines


def read_csv(
    path: Path, encoding: str, required: tuple[str, ...], optional: tuple[str, ...],
    progress: Progress | None = None,
) -> CsvTable:
    """Read a CSV file with a header; raise ``ImportFailed`` when the file cannot be read as a table.

    Row-level problems (wrong number of fields) are collected in ``errors``, not raised,
    so that the caller can add its own and report them all at once.
    """
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    if codec.lower() == "cp932":
        utf8_line = _utf8_text_line(path)
        if utf8_line is not None:
            raise ImportFailed([LineError(utf8_line, "this is UTF-8 text, not cp932 (leave out --encoding cp932)")])
    stream = open(path, encoding=codec, newline="")  # closed by _rows, or below on failure
    try:
        reader = csv.reader(stream, strict=True)
        records = _records(reader, path, codec, encoding)
        first = next(records, None)
        if first is None:
            raise ImportFailed([LineError(1, "the file is empty (a header line is needed)")])
        header_line, header = first
        columns = _check_header(header_line, header, required, optional)
    except BaseException:
        stream.close()
        raise
    errors: list[LineError] = []
    return CsvTable(columns, _rows(stream, records, columns, header_line, errors, progress), errors)


def _rows(stream, records: Iterator[tuple[int, list[str]]], columns: tuple[str, ...], header_line: int,
          errors: list[LineError], progress: Progress | None) -> Iterator[tuple[int, dict[str, str]]]:
    """Data rows as dicts; a wrong field count is noted in ``errors``; no data rows at all raises."""
    found = False
    with stream:
        for start, record in records:
            if progress is not None:
                progress(1)
            if len(record) != len(columns):
                errors.append(LineError(start, f"expected {len(columns)} fields, found {len(record)}"))
                continue
            found = True
            yield start, dict(zip(columns, record, strict=True))
    if not found and not errors:
        raise ImportFailed([LineError(header_line + 1, "no data rows after the header")])


def _utf8_text_line(path: Path) -> int | None:
    """The first line with non-ASCII bytes when the whole file is valid UTF-8 (read in blocks); else None.

    Real cp932 Japanese text is almost never valid UTF-8 (its lead bytes 0x81-0x9F are
    UTF-8 continuation bytes), so such a file is a UTF-8 export given the wrong option.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    first_line, lines = None, 1
    with open(path, "rb") as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return None
            if first_line is None and not block.isascii():
                ascii_part = len(block) - len(block.lstrip(bytes(range(128))))
                first_line = lines + block.count(b"\n", 0, ascii_part)
            lines += block.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return None
    return first_line


def _first_undecodable_line(path: Path, codec: str) -> int:
    """The first physical line that does not decode (b"\\n" is never part of a UTF-8 or cp932 character)."""
    with open(path, "rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode(codec)
            except UnicodeDecodeError:
                return number
    return 1  # pragma: no cover - the text reader failed, so some line does


def _records(reader, path: Path, codec: str, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the physical line each starts on; unreadable text raises ``ImportFailed``."""
    previous_end = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            hint = " (try --encoding cp932)" if encoding.lower().startswith("utf") else ""
            line = _first_undecodable_line(path, codec)
            raise ImportFailed([LineError(line, f"not valid {encoding} text{hint}")]) from exc
        except csv.Error as exc:
            raise ImportFailed([LineError(previous_end + 1, f"broken CSV: {exc}")]) from exc
        start, previous_end = previous_end + 1, reader.line_num
        if any(value.strip() for value in record):
            yield start, record


def _check_header(
    line: int, header: list[str], required: tuple[str, ...], optional: tuple[str, ...],
) -> tuple[str, ...]:
    """Column names in file order; raise ``ImportFailed`` for unknown, repeated or missing ones."""
    names = tuple(name.replace("\ufeff", "").strip().lower() for name in header)
    known = required + optional
    expected = f"expected {', '.join(required)}" + (f" and optionally {', '.join(optional)}" if optional else "")
    problems: list[LineError] = []
    for position, name in enumerate(names, start=1):
        if not name:
            problems.append(LineError(line, f"column {position} has no name ({expected})"))
        elif name not in known:
            # Quote the name only when it looks like one: in a file without a header line the
            # "names" are a customer's data.
            shown = f'"{name}"' if _COLUMN_NAME_RE.fullmatch(name) else str(position)
            problems.append(LineError(line, f"unknown column {shown} ({expected})"))
        elif names.index(name) != position - 1:
            problems.append(LineError(line, f'column "{name}" appears more than once'))
    problems += [LineError(line, f'missing required column "{name}"') for name in required if name not in names]
    if problems:
        raise ImportFailed(problems)
    return names


# -- field checks: each returns the canonical value or raises ValueError(message) --------------------------
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


def _once(first_line: dict[str, int], key: str, start: int, errors: list[LineError], what: str) -> None:
    """Note the line where ``key`` first appears; a second appearance is an error naming the first."""
    if key in first_line:
        errors.append(LineError(start, f"{what} already appears on line {first_line[key]}"))
    else:
        first_line[key] = start


def _checked(start: int, errors: list[LineError], check: Callable, *args):
    """Run one field check; on failure note the error and return None."""
    try:
        return check(*args)
    except ValueError as exc:
        errors.append(LineError(start, str(exc)))
        return None


# -- customers ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerFile:
    """A checked customer file."""

    records: list[bulk.CustomerRecord]
    optional_columns: frozenset[str]


def read_customers(path: Path, encoding: str = "utf-8", progress: Progress | None = None) -> CustomerFile:
    """Read and check a customer file; raise ``ImportFailed`` with every bad line."""
    table = read_csv(path, encoding, CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL, progress)
    errors: list[LineError] = []
    records: list[bulk.CustomerRecord] = []
    first_line: dict[str, int] = {}
    for start, row in table.rows:
        before = len(errors)
        number = _checked(start, errors, check_customer_number, row["customer_number"])
        phone = _checked(start, errors, check_phone, row["phone"])
        kana = _checked(start, errors, check_name_kana, row["name_kana"])
        name = _checked(start, errors, check_text, row.get("name", ""), "name", MAX_NAME, False, False)
        email = _checked(start, errors, check_email, row.get("email", ""))
        if number is not None:
            _once(first_line, number, start, errors, "customer_number")
        if len(errors) == before:
            records.append(bulk.CustomerRecord(number, phone, kana, name, email))
    errors += table.errors  # complete now that every row was read
    if errors:
        raise ImportFailed(errors)
    return CustomerFile(records, frozenset(c for c in table.columns if c in CUSTOMER_OPTIONAL))


def _checking(bars: ProgressBars | None, path: Path) -> Progress | None:
    return bars("checking", max(count_lines(path) - 1, 0)) if bars is not None else None


def _writing(bars: ProgressBars | None, total: int) -> Progress | None:
    return bars("writing", total) if bars is not None else None


def import_customers(db, path: Path, encoding: str, now: datetime,
                     bars: ProgressBars | None = None) -> bulk.CustomerCounts:
    """Check the whole file, then upsert every customer in one transaction."""
    checked = read_customers(path, encoding, _checking(bars, path))
    with db.begin() as session:
        counts = bulk.upsert_customers(session, checked.records, now, checked.optional_columns,
                                       _writing(bars, len(checked.records)))
    log.info("customers imported: %d new, %d updated, %d unchanged", counts.new, counts.updated, counts.unchanged)
    return counts


# -- statements --------------------------------------------------------------------------------------------
@dataclass
class _Draft:
    """A statement being gathered from its item rows."""

    customer_number: str
    billing_month: date
    items: list[tuple[str, int]] = field(default_factory=list)
    item_lines: dict[str, int] = field(default_factory=dict)
    lines: list[int] = field(default_factory=list)
    due_date: tuple[date, int] | None = None  # value, line it was first given on
    payment_method: tuple[str, int] | None = None


@dataclass(frozen=True)
class StatementFile:
    """A checked statement file: statements by customer number, before customers are looked up."""

    drafts: list[_Draft]
    errors: list[LineError]


def _agree(draft: _Draft, attribute: str, value, start: int, errors: list[LineError]) -> None:
    """Note a due_date/payment_method; two different non-empty values in one statement are an error."""
    if value is None:
        return
    known = getattr(draft, attribute)
    if known is None:
        setattr(draft, attribute, (value, start))
    elif known[0] != value:
        errors.append(LineError(start, f'{attribute} "{value}" differs from "{known[0]}" on line {known[1]} '
                                       "for the same customer and billing_month"))


def read_statements(path: Path, encoding: str = "utf-8", progress: Progress | None = None) -> StatementFile:
    """Read and check a statement file; errors are returned (customers are checked against the DB later)."""
    table = read_csv(path, encoding, STATEMENT_REQUIRED, STATEMENT_OPTIONAL, progress)
    errors: list[LineError] = []
    drafts: dict[tuple[str, date], _Draft] = {}
    for start, row in table.rows:
        before = len(errors)
        number = _checked(start, errors, check_customer_number, row["customer_number"])
        month = _checked(start, errors, check_billing_month, row["billing_month"])
        item = _checked(start, errors, check_text, row["item"], "item", MAX_ITEM, True)
        amount = _checked(start, errors, check_amount, row["amount"])
        due_date = _checked(start, errors, check_due_date, row.get("due_date", ""))
        method = _checked(start, errors, check_text, row.get("payment_method", ""), "payment_method",
                          MAX_PAYMENT_METHOD)
        if number is None or month is None:
            continue
        draft = drafts.setdefault((number, month), _Draft(number, month))
        draft.lines.append(start)
        if item is not None and item in draft.item_lines:
            errors.append(LineError(start, f'item "{item}" already appears on line {draft.item_lines[item]} '
                                           "for the same customer and billing_month"))
            continue
        if item is not None:
            draft.item_lines[item] = start
        _agree(draft, "due_date", due_date, start, errors)
        _agree(draft, "payment_method", method, start, errors)
        if len(errors) == before:
            draft.items.append((item, amount))
    errors += table.errors  # complete now that every row was read
    return StatementFile(list(drafts.values()), errors)


def import_statements(db, path: Path, encoding: str, now: datetime,
                      bars: ProgressBars | None = None) -> bulk.StatementCounts:
    """Check the whole file and its customers, then replace every (customer, month) in one transaction."""
    checked = read_statements(path, encoding, _checking(bars, path))
    errors = list(checked.errors)
    with db.begin() as session:
        ids = bulk.customer_ids(session, {d.customer_number for d in checked.drafts})
        for draft in checked.drafts:
            if draft.customer_number not in ids:
                errors += [LineError(line, "customer_number is not a known customer (import customers first)")
                           for line in draft.lines]
        if errors:
            raise ImportFailed(errors)
        records = [
            bulk.StatementRecord(
                customer_id=ids[d.customer_number],
                billing_month=d.billing_month,
                items=tuple(d.items),
                due_date=d.due_date[0] if d.due_date else None,
                payment_method=d.payment_method[0] if d.payment_method else None,
            )
            for d in checked.drafts
        ]
        counts = bulk.replace_statements(session, records, now,
                                         _writing(bars, sum(len(r.items) for r in records)))
    log.info("statements imported: %d new, %d replaced, %d items", counts.new, counts.replaced, counts.items)
    return counts


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


def read_faq(path: Path, encoding: str = "utf-8") -> list[faq.FaqRow]:
    """Read and check an FAQ file; raise ``ImportFailed`` with every bad line."""
    table = read_csv(path, encoding, FAQ_REQUIRED, FAQ_OPTIONAL)
    errors: list[LineError] = []
    rows: list[faq.FaqRow] = []
    first_line: dict[str, int] = {}
    for start, row in table.rows:
        before = len(errors)
        entry_id = _checked(start, errors, check_faq_id, row["id"])
        question = _checked(start, errors, check_faq_question, row["question"])
        answer = _checked(start, errors, check_faq_answer, row["answer"])
        examples = _checked(start, errors, check_faq_examples, row.get("examples", ""))
        link = _checked(start, errors, check_faq_link, row.get("link", ""))
        if entry_id is not None:  # "WiFi" and "wifi" would be two entries no one can tell apart
            _once(first_line, entry_id.lower(), start, errors, f'id "{entry_id}"')
        if len(errors) == before:
            rows.append(faq.FaqRow(entry_id, question, answer, examples, link))
    errors += table.errors  # complete now that every row was read
    if errors:
        raise ImportFailed(errors)
    return rows


def import_faq(db, path: Path, encoding: str, now: datetime) -> tuple[int, int]:
    """Check the whole file, then replace the FAQ set in one transaction; (entries, new version)."""
    rows = read_faq(path, encoding)
    with db.begin() as session:
        version = faq.replace_all(session, rows, now)
    log.info("FAQ imported: %d entries, version %d", len(rows), version)
    return len(rows), version
