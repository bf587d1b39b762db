"""CSV imports from the billing system: read, check every line, then write everything or nothing.

Every line is checked before anything is written. The file is streamed: a raw row lives
only while it is checked, and only the checked values are kept for the write. Problems are
collected as ``line N: <what is wrong>`` (the header is line 1, physical lines counted
even inside quoted multi-line fields; a record is reported at the line it starts on) and
the import stops with ``ImportFailed`` listing all of them. Messages name fields and
show non-personal values (months, dates, amounts, item names) but never a phone number,
a name or an address.

The rooms: ``handlers.cli.csv_table`` reads a file as a table (encoding, header, line numbers),
``handlers.cli.csv_fields`` checks one field, ``handlers.cli.csv_rows`` reads and checks the rows
of each kind of file, and this module writes a checked file in one transaction.

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

import logging
from datetime import datetime
from pathlib import Path

from bot.understanding.phrasings import stored_plan
from handlers.cli.csv_rows import read_customers, read_faq, read_statements
from handlers.cli.csv_table import ImportFailed, LineError, Progress, ProgressBars, count_lines
from storage import bulk, faq

log = logging.getLogger(__name__)


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


def import_faq(db, path: Path, encoding: str, now: datetime) -> tuple[int, int]:
    """Check the whole file, then replace the FAQ set in one transaction; (entries, new version)."""
    rows = read_faq(path, encoding)
    plan = stored_plan(rows)  # the lending every process would otherwise work out (about a second)
    with db.begin() as session:
        version = faq.replace_all(session, rows, now, plan)
    log.info("FAQ imported: %d entries, version %d", len(rows), version)
    return len(rows), version
