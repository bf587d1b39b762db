"""Imports at the edges: SQLite, files over one chunk, control characters, mojibake, memory, concurrent imports."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from storage.models import Customer, Statement
from storage.timezone import TOKYO
from tests.cli.test_imports import (  # noqa: F401 - seeded_customers: fixture
    CUSTOMERS,
    HEADER,
    customers,
    errors_of,
    run,
    seeded_customers,
    statements,
    write,
)
from tests.cli.test_imports_statements import S_HEADER, STATEMENTS


# -- SQLite (the `make run` database) ------------------------------------------------------------------------
def test_imports_on_sqlite(make_app, tmp_path):
    sqlite_app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")
    cli = sqlite_app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
    for _ in range(2):
        result = run(cli, "import-customers", write(tmp_path, CUSTOMERS, "c.csv"))
        assert result.exit_code == 0, result.output
        result = run(cli, "import-statements", write(tmp_path, STATEMENTS, "s.csv"))
        assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 6 items in 3 statements for 2 customers (0 new, 3 replaced)"
    assert statements(sqlite_app)[("12345678", "2026-10")]["total"] == 7920
    bad = run(cli, "import-statements", write(tmp_path, S_HEADER + "12345678,2026-10,x,1,,\n77,2026-10,y,1,,\n"))
    assert bad.exit_code == 1
    assert statements(sqlite_app)[("12345678", "2026-10")]["total"] == 7920


# -- more rows than one chunk -------------------------------------------------------------------------------
def test_files_larger_than_one_chunk(runner, app, tmp_path):
    count = 6001  # storage.bulk.CHUNK is 5000: customers, statements and items all cross a chunk edge
    customer_rows = "".join(f"{20000000 + n},0748{n:06d},アイコム タロウ\n" for n in range(count))
    result = run(runner, "import-customers", write(tmp_path, "customer_number,phone,name_kana\n" + customer_rows))
    assert result.stdout.strip() == f"imported {count:,} customers ({count:,} new, 0 updated, 0 unchanged)"
    item_rows = "".join(f"{20000000 + n},2026-11,基本料金,{n}\n{20000000 + n},2026-11,割引,-1\n" for n in range(count))
    path = write(tmp_path, "customer_number,billing_month,item,amount\n" + item_rows, "s.csv")
    for new, replaced in ((count, 0), (0, count)):
        result = run(runner, "import-statements", path)
        assert result.stdout.strip() == (f"imported {2 * count:,} items in {count:,} statements for {count:,} "
                                          f"customers ({new:,} new, {replaced:,} replaced)")
    with app.extensions["db"].begin() as session:
        totals = dict(session.execute(select(Customer.customer_number, Statement.total).join(Statement.customer)).all())
    assert len(totals) == count
    assert totals["20000000"] == -1 and totals[str(20000000 + count - 1)] == count - 2


# -- reviewer F: control characters and a UTF-8 file read as cp932 ----------------------------------------
@pytest.mark.parametrize(("row", "message"), [
    ("12345678,2026-11,基本\x00料金,3300,,", "item contains a control character"),
    ("12345678,2026-11,基本料金\x1b[31m,3300,,", "item contains a control character"),
    ("12345678,2026-11,基本料金,3300,,口座\x00振替", "payment_method contains a control character"),
])
def test_control_characters_in_a_statement_are_a_bad_line_not_a_crash(runner, app, tmp_path, seeded_customers,
                                                                       row, message):
    path = write(tmp_path, S_HEADER + "10023456,2026-11,インターネット,5170,,\n" + row + "\n")
    result = run(runner, "import-statements", path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # a refusal, not a crash
    assert errors_of(result) == [f"line 3: {message}"]
    assert statements(app) == {}


def test_control_characters_in_a_customer_name_are_a_bad_line(runner, app, tmp_path):
    path = write(tmp_path, HEADER + "12345678,0748621234,アイコム タロウ,相混\x00太郎,\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 1
    assert errors_of(result) == ["line 2: name contains a control character"]
    assert customers(app) == {}


UTF8_AS_CP932 = ("customer_number,billing_month,item,amount,due_date,payment_method\n"
                 "12345678,2026-11,基本料金,3300,2026-11-27,口座振替\n"
                 "12345678,2026-11,工事費,1100,2026-11-27,口座振替\n")


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_a_utf8_file_given_as_cp932_is_refused_not_imported_as_mojibake(runner, app, tmp_path, seeded_customers,
                                                                         bom):
    assert UTF8_AS_CP932.encode("utf-8").decode("cp932")  # the trap: it decodes without an error
    path = tmp_path / "statements.csv"
    path.write_bytes(bom + UTF8_AS_CP932.encode("utf-8"))
    result = run(runner, "import-statements", path, "--encoding", "cp932")
    assert result.exit_code == 1
    assert errors_of(result) == [f"line {1 if bom else 2}: this is UTF-8 text, not cp932 (leave out --encoding cp932)"]
    assert statements(app) == {}


def test_a_cp932_file_is_still_read_as_cp932(runner, app, tmp_path, seeded_customers):
    path = tmp_path / "statements.csv"
    path.write_bytes(UTF8_AS_CP932.encode("cp932"))
    result = run(runner, "import-statements", path, "--encoding", "cp932")
    assert result.exit_code == 0, result.output
    assert statements(app)[("12345678", "2026-11")]["items"] == [("基本料金", 3300), ("工事費", 1100)]


def test_a_large_file_is_streamed_not_held_twice(tmp_path):
    """Only the checked values stay in memory while a file is read, not every raw row as well."""
    import tracemalloc

    from handlers.cli import csv_rows

    path = tmp_path / "large.csv"
    with open(path, "w", encoding="utf-8") as out:
        out.write(S_HEADER)
        for i in range(20_000):
            out.write(f"{10000000 + i // 4},2026-11,項目{i % 4},3300,2026-12-27,口座振替\n")
    tracemalloc.start()
    try:
        checked = csv_rows.read_statements(path)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(checked.drafts) == 5_000 and checked.errors == []
    assert peak < 1.5 * retained, (peak, retained)


_NOW = datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO)


def test_two_imports_of_the_same_statement_at_once_leave_one_whole_statement(app, seeded_customers):
    """The later import wins whole: never the items of both with the total of one (PostgreSQL, READ COMMITTED)."""
    import threading
    import time

    from storage import bulk
    from storage.models import Customer

    db = app.extensions["db"]
    with db.begin() as session:
        customer_id = session.scalar(select(Customer.id).where(Customer.customer_number == "12345678"))
        bulk.replace_statements(session, [bulk.StatementRecord(customer_id, date(2026, 11, 1), (("旧", 1),))], _NOW)
    for existing in (True, False):
        month = date(2026, 11, 1) if existing else date(2026, 12, 1)
        done = threading.Event()

        def second_import(month=month, done=done):
            with db.begin() as session:
                bulk.replace_statements(session, [bulk.StatementRecord(customer_id, month, (("B1", 1000),))], _NOW)
            done.set()

        with db.begin() as session:
            bulk.replace_statements(session, [bulk.StatementRecord(customer_id, month, (("A1", 100), ("A2", 200)))],
                                    _NOW)
            other = threading.Thread(target=second_import)
            other.start()
            time.sleep(0.5)  # the second import is now waiting on the first one's rows
            assert not done.is_set()
        other.join(10)
        stored = statements(app)[("12345678", month.strftime("%Y-%m"))]
        assert (stored["items"], stored["total"]) == ([("B1", 1000)], 1000), existing

