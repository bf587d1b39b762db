"""Reading a CSV file as a table: the encoding, the header, every record with the line it starts on.

The file is streamed: a raw row lives only while it is checked. Problems are ``LineError``s, ``line N: <what is
wrong>`` (the header is line 1, physical lines counted even inside quoted multi-line fields; a record is
reported at the line it starts on), raised together as ``ImportFailed``. What a file may hold is told in
``handlers.cli.imports``; the fields are checked by ``handlers.cli.csv_fields``, the rows of each kind of file
by ``handlers.cli.csv_rows``.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from storage.errors import Refused

ENCODINGS = ("utf-8", "cp932")

_COLUMN_NAME_RE = re.compile(r"[a-z_][a-z0-9_ ;|\t]{0,79}")  # also shows a wrong separator

Progress = Callable[[int], None]  # called with how many more rows are done
ProgressBars = Callable[[str, int], Progress]  # (phase label, total rows) -> that phase's Progress


@dataclass(frozen=True)
class LineError:
    """One problem on one line of the file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class ImportFailed(Refused):
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
