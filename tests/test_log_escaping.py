"""Control characters never reach a log line as they are (issue 21, point 9)."""

from __future__ import annotations

import json
import logging

import pytest

from handlers.logs import JsonFormatter, PlainFormatter, escape_controls


def _record(message: str, *args) -> logging.LogRecord:
    return logging.LogRecord("handlers.line.worker", logging.INFO, __file__, 1, message, args, None)


@pytest.mark.parametrize("formatter", [PlainFormatter(), JsonFormatter()], ids=["plain", "json"])
def test_a_made_up_event_id_cannot_split_or_forge_a_line(formatter):
    forged = "01J\n2026-12-04 00:00:00,000 ERROR app [-]: forged\x00\x1b[31m\u2028end"
    line = formatter.format(_record("event %s was handled by another worker", forged))
    assert "\n" not in line and "\x00" not in line and "\x1b" not in line and "\u2028" not in line
    message = json.loads(line)["message"] if isinstance(formatter, JsonFormatter) else line
    assert "01J\\x0a2026-12-04" in message and "forged\\x00\\x1b[31m\\u2028end" in message


def test_the_record_itself_is_left_as_it_was():
    record = _record("id %s", "a\nb")
    PlainFormatter().format(record)
    assert record.getMessage() == "id a\nb"  # other handlers (tests' capture) see the original


def test_ordinary_text_is_unchanged():
    assert escape_controls("今月の料金 5,280円 (U1234…)") == "今月の料金 5,280円 (U1234…)"


def test_a_traceback_keeps_its_lines():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed %s", ("x\ny",), sys.exc_info())
    line = PlainFormatter().format(record)
    assert line.splitlines()[0].endswith("failed x\\x0ay") and "Traceback" in line
