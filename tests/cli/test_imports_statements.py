"""`flask import-statements`: amounts and optional columns, whole statements replaced, every bad line listed."""

from __future__ import annotations

from datetime import date

import pytest

from tests.cli.test_imports import errors_of, run, seeded_customers, statements, write  # noqa: F401 - fixture

# -- statements: happy paths ----------------------------------------------------------------------------------
STATEMENTS = (
    "customer_number,billing_month,item,amount,due_date,payment_method\n"
    "12345678,2026-10,ケーブルテレビ 基本料金,3300,2026-10-27,口座振替\n"
    "12345678,2026-10,インターネット 1Gコース,5170,2026-10-27,口座振替\n"
    "12345678,2026-10,セット割引,-550,2026-10-27,口座振替\n"
    "12345678,2026-11,ケーブルテレビ 基本料金,3300,2026-11-27,口座振替\n"
    "12345678,2026-11,インターネット 1Gコース,5170,2026-11-27,口座振替\n"
    "10023456,2026-11,インターネット 1Gコース,5170,2026-11-27,クレジットカード\n"
)


def test_import_statements(runner, app, tmp_path, seeded_customers):
    result = run(runner, "import-statements", write(tmp_path, STATEMENTS))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 6 items in 3 statements for 2 customers (3 new, 0 replaced)"
    stored = statements(app)
    assert set(stored) == {("12345678", "2026-10"), ("12345678", "2026-11"), ("10023456", "2026-11")}
    october = stored[("12345678", "2026-10")]
    assert october["total"] == 7920
    assert october["due_date"] == date(2026, 10, 27)
    assert october["payment_method"] == "口座振替"
    assert october["items"] == [
        ("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("セット割引", -550)]
    assert stored[("10023456", "2026-11")]["payment_method"] == "クレジットカード"


def test_statement_amount_forms_and_optional_columns(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, "amount,item,billing_month,customer_number\n"
                           '"1,280",ｹｰﾌﾞﾙﾃﾚﾋﾞ 基本料金,2026-11,0012345678\n'
                           "５１７０,インターネット １Ｇコース,２０２６－１１,12345678\n"
                           "−550,セット割引,2026-11,12345678\n"
                           "－110,端数調整,2026-11,12345678\n"
                           '"-1,100",新規割引,2026-11,12345678\n'
                           "0,工事費,2026-11,12345678\n")
    result = run(runner, "import-statements", path)
    assert result.exit_code == 0, result.output
    november = statements(app)[("12345678", "2026-11")]
    assert november["items"] == [("ケーブルテレビ 基本料金", 1280), ("インターネット 1Gコース", 5170),
                                 ("セット割引", -550), ("端数調整", -110), ("新規割引", -1100), ("工事費", 0)]
    assert november["total"] == 1280 + 5170 - 550 - 110 - 1100
    assert november["due_date"] is None and november["payment_method"] is None


def test_blank_due_date_on_some_rows_is_fine(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, "customer_number,billing_month,item,amount,due_date,payment_method\n"
                           "12345678,2026-11,基本料金,3300,,\n"
                           "12345678,2026-11,通話料,120,2026-11-27,口座振替\n")
    assert run(runner, "import-statements", path).exit_code == 0
    november = statements(app)[("12345678", "2026-11")]
    assert (november["due_date"], november["payment_method"]) == (date(2026, 11, 27), "口座振替")


def test_statement_replaced_whole_other_months_untouched(runner, app, tmp_path, seeded_customers):
    assert run(runner, "import-statements", write(tmp_path, STATEMENTS)).exit_code == 0
    before = statements(app)
    path = write(tmp_path, "customer_number,billing_month,item,amount,due_date\n"
                           "12345678,2026-10,ケーブルテレビ 基本料金,3300,2026-10-28\n"
                           "12345678,2026-10,機器レンタル料,550,2026-10-28\n"
                           "10023456,2026-12,インターネット 1Gコース,5170,2026-12-27\n", "fix.csv")
    result = run(runner, "import-statements", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 3 items in 2 statements for 2 customers (1 new, 1 replaced)"
    after = statements(app)
    october = after[("12345678", "2026-10")]
    assert october["id"] == before[("12345678", "2026-10")]["id"]  # links to the statement stay valid
    assert october["items"] == [("ケーブルテレビ 基本料金", 3300), ("機器レンタル料", 550)]
    assert october["total"] == 3850
    assert october["due_date"] == date(2026, 10, 28)
    assert october["payment_method"] is None  # replaced whole: the new file has no payment_method
    assert after[("12345678", "2026-11")] == before[("12345678", "2026-11")]
    assert after[("10023456", "2026-11")] == before[("10023456", "2026-11")]
    assert after[("10023456", "2026-12")]["total"] == 5170


def test_statement_reimport_is_idempotent(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, STATEMENTS)
    assert run(runner, "import-statements", path).exit_code == 0
    before = statements(app)
    result = run(runner, "import-statements", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 6 items in 3 statements for 2 customers (0 new, 3 replaced)"
    assert statements(app) == before


def test_statements_cp932_with_bom_free_crlf(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, STATEMENTS.replace("\n", "\r\n"), encoding="cp932")
    result = run(runner, "import-statements", path, "--encoding", "CP932")
    assert result.exit_code == 0, result.output
    assert statements(app)[("12345678", "2026-10")]["items"][0] == ("ケーブルテレビ 基本料金", 3300)


def test_statements_utf8_bom(runner, app, tmp_path, seeded_customers):
    result = run(runner, "import-statements", write(tmp_path, "\ufeff" + STATEMENTS))
    assert result.exit_code == 0, result.output
    assert len(statements(app)) == 3


# -- statements: refused files --------------------------------------------------------------------------------
S_HEADER = "customer_number,billing_month,item,amount,due_date,payment_method\n"


@pytest.mark.parametrize(("row", "message"), [
    (",2026-11,基本料金,3300,,", "customer_number is empty"),
    ("12345678,,基本料金,3300,,", "billing_month is empty"),
    ("12345678,2026-13,基本料金,3300,,", 'billing_month "2026-13" is not a month written YYYY-MM'),
    ("12345678,2026-00,基本料金,3300,,", 'billing_month "2026-00" is not a month written YYYY-MM'),
    ("12345678,2026/11,基本料金,3300,,", 'billing_month "2026/11" is not a month written YYYY-MM'),
    ("12345678,202611,基本料金,3300,,", 'billing_month "202611" is not a month written YYYY-MM'),
    ("12345678,2026-11-01,基本料金,3300,,", 'billing_month "2026-11-01" is not a month written YYYY-MM'),
    ("12345678,2026-1,基本料金,3300,,", 'billing_month "2026-1" is not a month written YYYY-MM'),
    ("12345678,1999-12,基本料金,3300,,", 'billing_month "1999-12" is not a month written YYYY-MM'),
    ("12345678,2026-11,,3300,,", "item is empty"),
    ("12345678,2026-11," + "料" * 101 + ",3300,,", "item is longer than 100 characters"),
    ("12345678,2026-11,基本料金,,,", "amount is empty"),
    ("12345678,2026-11,基本料金,12.5,,", 'amount "12.5" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,3300.0,,", 'amount "3300.0" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,abc,,", 'amount "abc" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,3300円,,", 'amount "3300円" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,¥3300,,", 'amount "¥3300" is not a whole number of yen'),
    ('12345678,2026-11,基本料金,"3,30",,', 'amount "3,30" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,1e3,,", 'amount "1e3" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,--3,,", 'amount "--3" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,3 300,,", 'amount "3 300" is not a whole number of yen'),
    ("12345678,2026-11,基本料金,1" + "0" * 12 + ",,", 'amount "1' + "0" * 12 + '" is too large'),
    ("12345678,2026-11,基本料金,3300,2026-02-30,", 'due_date "2026-02-30" is not a date written YYYY-MM-DD'),
    ("12345678,2026-11,基本料金,3300,2026/11/27,", 'due_date "2026/11/27" is not a date written YYYY-MM-DD'),
    ("12345678,2026-11,基本料金,3300,20261127,", 'due_date "20261127" is not a date written YYYY-MM-DD'),
    ("12345678,2026-11,基本料金,3300,2026-11-27T00:00,",
     'due_date "2026-11-27T00:00" is not a date written YYYY-MM-DD'),
    ("12345678,2026-11,基本料金,3300,," + "払" * 51, "payment_method is longer than 50 characters"),
    ("12345678,2026-11,基本料金,3300,", "expected 6 fields, found 5"),
])
def test_bad_statement_row(runner, app, tmp_path, seeded_customers, row, message):
    path = write(tmp_path, S_HEADER + "10023456,2026-11,インターネット,5170,,\n" + row + "\n")
    result = run(runner, "import-statements", path)
    assert result.exit_code == 1
    assert errors_of(result) == [f"line 3: {message}"]
    assert "import-statements: 1 bad line in data.csv; nothing imported" in result.stderr
    assert statements(app) == {}


def test_statement_file_problems_all_listed_nothing_changes(runner, app, tmp_path, seeded_customers):
    assert run(runner, "import-statements", write(tmp_path, STATEMENTS, "first.csv")).exit_code == 0
    before = statements(app)
    path = write(tmp_path, S_HEADER
                 + "12345678,2026-10,ケーブルテレビ 基本料金,9999,2026-10-27,口座振替\n"  # 2: good
                 + "99999999,2026-10,基本料金,3300,,\n"  # 3: unknown customer
                 + "12345678,2026-10,ケーブルテレビ 基本料金,3300,2026-10-27,口座振替\n"  # 4: duplicate item
                 + "12345678,2026-10,通話料,120,2026-10-26,口座振替\n"  # 5: other due date
                 + "12345678,2026-10,機器レンタル料,550,,クレジットカード\n"  # 6: other payment method
                 + "0099999999,2026-11,通話料,120,,\n"  # 7: unknown customer again (other form)
                 + '10023456,2026-11,"インターネット\n1Gコース",1.5,,\n'  # 8-9: bad amount
                 + "10023456,2026-11,通話料,abc,2026-13-01,\n")  # 10: two problems
    result = run(runner, "import-statements", path)
    assert result.exit_code == 1
    assert errors_of(result) == [
        "line 3: customer_number is not a known customer (import customers first)",
        'line 4: item "ケーブルテレビ 基本料金" already appears on line 2 for the same customer and billing_month',
        'line 5: due_date "2026-10-26" differs from "2026-10-27" on line 2 for the same customer and billing_month',
        'line 6: payment_method "クレジットカード" differs from "口座振替" on line 2 '
        "for the same customer and billing_month",
        "line 7: customer_number is not a known customer (import customers first)",
        'line 8: amount "1.5" is not a whole number of yen',
        'line 10: amount "abc" is not a whole number of yen',
        'line 10: due_date "2026-13-01" is not a date written YYYY-MM-DD',
    ]
    assert "import-statements: 7 bad lines in data.csv; nothing imported" in result.stderr
    assert statements(app) == before


def test_same_item_in_other_month_or_customer_is_fine(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, S_HEADER + "12345678,2026-10,基本料金,3300,,\n12345678,2026-11,基本料金,3300,,\n"
                                      "10023456,2026-11,基本料金,3300,,\n")
    assert run(runner, "import-statements", path).exit_code == 0
    assert len(statements(app)) == 3


@pytest.mark.parametrize(("text", "messages"), [
    ("", ["line 1: the file is empty (a header line is needed)"]),
    (S_HEADER, ["line 2: no data rows after the header"]),
    (S_HEADER + "\n\n", ["line 2: no data rows after the header"]),
    ("customer_number,billing_month,amount\n1,2026-11,3\n", ['line 1: missing required column "item"']),
    ("customer_number,month,item,amount\n1,2026-11,a,3\n", [
        'line 1: unknown column "month" (expected customer_number, billing_month, item, amount and optionally '
        "due_date, payment_method)",
        'line 1: missing required column "billing_month"']),
])
def test_unusable_statement_files(runner, app, tmp_path, seeded_customers, text, messages):
    result = run(runner, "import-statements", write(tmp_path, text))
    assert result.exit_code == 1
    assert errors_of(result) == messages


def test_statements_before_customers_are_refused(runner, app, tmp_path):
    result = run(runner, "import-statements", write(tmp_path, STATEMENTS))
    assert result.exit_code == 1
    assert len(errors_of(result)) == 6
    assert statements(app) == {}

