"""The rows of each kind of CSV file, read and checked whole: customers, statements, the FAQ.

Every line is checked before anything is written, and every problem is collected (``LineError``), so the
operator sees them all at once; only the checked values are kept for the write (``handlers.cli.imports``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from handlers.cli.csv_fields import (
    MAX_ITEM,
    MAX_NAME,
    MAX_PAYMENT_METHOD,
    check_amount,
    check_billing_month,
    check_customer_number,
    check_due_date,
    check_email,
    check_faq_answer,
    check_faq_examples,
    check_faq_id,
    check_faq_link,
    check_faq_question,
    check_name_kana,
    check_phone,
    check_text,
)
from handlers.cli.csv_table import ImportFailed, LineError, Progress, read_csv
from storage import bulk, faq

CUSTOMER_REQUIRED = ("customer_number", "phone", "name_kana")
CUSTOMER_OPTIONAL = ("name", "email")
STATEMENT_REQUIRED = ("customer_number", "billing_month", "item", "amount")
STATEMENT_OPTIONAL = ("due_date", "payment_method")
FAQ_REQUIRED = ("id", "question", "answer")
FAQ_OPTIONAL = ("examples", "link")


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


# -- the FAQ -----------------------------------------------------------------------------------------------
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
