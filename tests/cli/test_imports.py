"""`flask import-customers` / `import-statements`: every line checked, all-or-nothing, upserts and replaces."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from storage.models import Customer, Statement

CUSTOMERS = (
    "customer_number,phone,name_kana,name,email\n"
    "12345678,0748-62-1234,アイコム　タロウ,相混 太郎,taro@example.jp\n"
    "10023456,0748-63-2345,コウカ　ハナコ,甲賀 花子,hanako@example.jp\n"
)


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run(runner, command: str, path: Path, *options: str):
    return runner.invoke(args=[command, str(path), *options])


def customers(app) -> dict[str, tuple]:
    with app.extensions["db"].begin() as session:
        rows = session.scalars(select(Customer)).all()
        return {c.customer_number: (c.phone, c.name_kana, c.name, c.email) for c in rows}


def statements(app) -> dict[tuple[str, str], dict]:
    """(customer number, "YYYY-MM") -> id, total, due_date, payment_method, items [(name, amount)]."""
    with app.extensions["db"].begin() as session:
        result = {}
        for s in session.scalars(select(Statement)).all():
            result[(s.customer.customer_number, s.billing_month.strftime("%Y-%m"))] = {
                "id": s.id, "total": s.total, "due_date": s.due_date, "payment_method": s.payment_method,
                "items": [(i.name, i.amount) for i in s.items],
            }
        return result


def errors_of(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("line ")]


@pytest.fixture
def seeded_customers(runner, app, tmp_path):
    """The two customers of ``CUSTOMERS``, imported."""
    result = run(runner, "import-customers", write(tmp_path, CUSTOMERS, "customers.csv"))
    assert result.exit_code == 0, result.output
    return customers(app)


# -- customers: happy paths ----------------------------------------------------------------------------------
def test_import_customers_stores_canonical_values(runner, app, tmp_path):
    path = write(tmp_path, "customer_number,phone,name_kana\n"
                           "0012345678,０７４８－６２－１２３４,ｱｲｺﾑ ﾀﾛｳ\n"
                           "１００２３４５６,0748ー63ー2345,こうか　　はなこ\n"
                           "10034567,+81 90-1234-5678,ヴィーナス ミナクチ\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 3 customers (3 new, 0 updated, 0 unchanged)"
    assert customers(app) == {
        "12345678": ("0748621234", "アイコム\u3000タロウ", None, None),
        "10023456": ("0748632345", "コウカ\u3000ハナコ", None, None),
        "10034567": ("09012345678", "ヴィーナス\u3000ミナクチ", None, None),
    }


def test_optional_columns_in_any_order_and_header_case(runner, app, tmp_path):
    path = write(tmp_path, " Email ,NAME,name_kana,phone,customer_number\n"
                           "Taro@Example.JP,相混 太郎,アイコム タロウ,0748621234,12345678\n"
                           ",,コウカ ハナコ,0748632345,10023456\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 0, result.output
    assert customers(app) == {
        "12345678": ("0748621234", "アイコム\u3000タロウ", "相混 太郎", "Taro@example.jp"),
        "10023456": ("0748632345", "コウカ\u3000ハナコ", None, None),
    }


def test_names_keep_their_exact_characters(runner, app, tmp_path):
    # ideographic space and a compatibility ideograph (U+F929) would be changed by NFKC
    path = write(tmp_path, "customer_number,phone,name_kana,name\n"
                           "12345678,0748621234,タカハシ　タロウ,\u3000髙橋\u3000太\uf929 \n")
    assert run(runner, "import-customers", path).exit_code == 0
    assert customers(app)["12345678"][2] == "髙橋\u3000太\uf929"


def test_utf8_with_bom(runner, app, tmp_path):
    result = run(runner, "import-customers", write(tmp_path, "\ufeff" + CUSTOMERS))
    assert result.exit_code == 0, result.output
    assert set(customers(app)) == {"12345678", "10023456"}


def test_cp932(runner, app, tmp_path):
    path = write(tmp_path, CUSTOMERS.replace("\n", "\r\n"), encoding="cp932")
    result = run(runner, "import-customers", path, "--encoding", "cp932")
    assert result.exit_code == 0, result.output
    assert customers(app)["12345678"] == ("0748621234", "アイコム\u3000タロウ", "相混 太郎", "taro@example.jp")


def test_cp932_file_read_as_utf8_is_refused_with_a_hint(runner, app, tmp_path):
    path = write(tmp_path, "customer_number,phone,name_kana\n12345678,0748621234,アイコム タロウ\n", encoding="cp932")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 1
    assert errors_of(result) == ["line 2: not valid utf-8 text (try --encoding cp932)"]
    assert customers(app) == {}


def test_blank_lines_and_empty_rows_are_skipped(runner, app, tmp_path):
    path = write(tmp_path, "customer_number,phone,name_kana\n\n12345678,0748621234,アイコム タロウ\n,,\n\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 0, result.output
    assert set(customers(app)) == {"12345678"}


def test_upsert_by_customer_number(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, "customer_number,phone,name_kana,email\n"
                           "012345678,0748-62-9999,アイコム タロウ,taro@example.jp\n"  # new phone, same person
                           "10023456,0748-63-2345,コウカ ハナコ,\n"  # email cleared
                           "10034567,0748-65-3456,ミナクチ ジロウ,jiro@example.jp\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 3 customers (1 new, 2 updated, 0 unchanged)"
    assert customers(app) == {
        # no name column in the file: stored names stay
        "12345678": ("0748629999", "アイコム\u3000タロウ", "相混 太郎", "taro@example.jp"),
        "10023456": ("0748632345", "コウカ\u3000ハナコ", "甲賀 花子", None),
        "10034567": ("0748653456", "ミナクチ\u3000ジロウ", None, "jiro@example.jp"),
    }


def test_reimport_is_idempotent(runner, app, tmp_path, seeded_customers):
    with app.extensions["db"].begin() as session:
        stamps = dict(session.execute(select(Customer.customer_number, Customer.updated_at)).all())
    result = run(runner, "import-customers", write(tmp_path, CUSTOMERS, "again.csv"))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "imported 2 customers (0 new, 0 updated, 2 unchanged)"
    assert customers(app) == seeded_customers
    with app.extensions["db"].begin() as session:
        assert dict(session.execute(select(Customer.customer_number, Customer.updated_at)).all()) == stamps


def test_output_names_no_phone_name_or_address(runner, app, tmp_path):
    path = write(tmp_path, CUSTOMERS + "10034567,0748-65-3456,ミナクチ ジロウ,水口 次郎,jiro@@example.jp\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 1
    for personal in ("0748", "タロウ", "ミナクチ", "水口", "jiro", "example.jp"):
        assert personal not in result.output


def test_progress_bar_on_request(runner, app, tmp_path):
    result = run(runner, "import-customers", write(tmp_path, CUSTOMERS), "--progress")
    assert result.exit_code == 0, result.output
    assert "checking" in result.stderr and "writing" in result.stderr
    assert result.stdout.strip() == "imported 2 customers (2 new, 0 updated, 0 unchanged)"
    assert "checking" not in run(runner, "import-customers", write(tmp_path, CUSTOMERS)).stderr  # not a TTY


# -- customers: refused files ---------------------------------------------------------------------------------
HEADER = "customer_number,phone,name_kana,name,email\n"


@pytest.mark.parametrize(("row", "message"), [
    (",0748621234,アイコム タロウ,,", "customer_number is empty"),
    ("1234567A,0748621234,アイコム タロウ,,", "customer_number must be digits"),
    ("000,0748621234,アイコム タロウ,,", "customer_number must not be zero"),
    ("1" * 21 + ",0748621234,アイコム タロウ,,", "customer_number is longer than 20 digits"),
    ("12345678,,アイコム タロウ,,", "phone is empty"),
    ("12345678,748621234,アイコム タロウ,,", "phone must be 10 or 11 digits starting with 0"),
    ("12345678,074862123456,アイコム タロウ,,", "phone must be 10 or 11 digits starting with 0"),
    ("12345678,0748-62-12x4,アイコム タロウ,,", "phone must be 10 or 11 digits starting with 0"),
    ("12345678,0748621234,,,", "name_kana is empty"),
    ("12345678,0748621234,　 ,,", "name_kana is empty"),
    ("12345678,0748621234,相混 太郎,,", "name_kana must be written in kana only"),
    ("12345678,0748621234,AICOM TARO,,", "name_kana must be written in kana only"),
    ("12345678,0748621234," + "ア" * 101 + ",,", "name_kana is longer than 100 characters"),
    ("12345678,0748621234,アイコム タロウ," + "太" * 101 + ",", "name is longer than 100 characters"),
    ("12345678,0748621234,アイコム タロウ,,taro@", "email is not a valid address"),
    ("12345678,0748621234,アイコム タロウ,,taro example.jp", "email is not a valid address"),
    ("12345678,0748621234,アイコム タロウ,,taro@localhost", "email is not a valid address"),
    ("12345678,0748621234,アイコム タロウ,", "expected 5 fields, found 4"),
    ("12345678,0748621234,アイコム タロウ,,,", "expected 5 fields, found 6"),
])
def test_bad_customer_row(runner, app, tmp_path, row, message):
    path = write(tmp_path, HEADER + "10023456,0748632345,コウカ ハナコ,,\n" + row + "\n")
    result = run(runner, "import-customers", path)
    assert result.exit_code == 1
    assert errors_of(result) == [f"line 3: {message}"]
    assert result.stderr.strip().endswith("import-customers: 1 bad line in data.csv; nothing imported")
    assert result.stdout == ""
    assert customers(app) == {}


def test_every_bad_line_is_listed_and_nothing_changes(runner, app, tmp_path, seeded_customers):
    path = write(tmp_path, HEADER
                 + "12345678,0748629999,アイコム タロウ,,\n"  # line 2: good (would update)
                 + "x,1,Taro,,bad@\n"  # line 3: four problems
                 + "10034567,0748653456,ミナクチ ジロウ,,\n"  # line 4: good (would be new)
                 + "0012345678,0748621234,アイコム タロウ,,\n"  # line 5: same customer as line 2
                 + "10045678,0748654567,ｼｶﾞﾗｷ,\n")  # line 6: short
    result = run(runner, "import-customers", path)
    assert result.exit_code == 1
    assert errors_of(result) == [
        "line 3: customer_number must be digits",
        "line 3: phone must be 10 or 11 digits starting with 0",
        "line 3: name_kana must be written in kana only",
        "line 3: email is not a valid address",
        "line 5: customer_number already appears on line 2",
        "line 6: expected 5 fields, found 4",
    ]
    assert "3 bad lines in data.csv; nothing imported" in result.stderr
    assert customers(app) == seeded_customers


def test_line_numbers_count_physical_lines_of_quoted_fields(runner, app, tmp_path):
    path = write(tmp_path, HEADER
                 + '12345678,0748621234,アイコム タロウ,"相混\n太郎",\n'  # lines 2-3
                 + '10023456,0748632345,"コウカ\n\nハナコ","甲賀\n花子",bad\n'  # lines 4-7, starts at 4
                 + "10034567,0,ミナクチ ジロウ,,\n")  # line 8
    result = run(runner, "import-customers", path)
    assert result.exit_code == 1
    assert errors_of(result) == [
        "line 4: email is not a valid address",
        "line 8: phone must be 10 or 11 digits starting with 0",
    ]


@pytest.mark.parametrize(("text", "messages"), [
    ("", ["line 1: the file is empty (a header line is needed)"]),
    ("\ufeff", ["line 1: the file is empty (a header line is needed)"]),
    (HEADER, ["line 2: no data rows after the header"]),
    ("customer_number,phone\n1,0748621234\n", ['line 1: missing required column "name_kana"']),
    ("customer_number,phone,kana\n1,0748621234,ア\n", [
        'line 1: unknown column "kana" (expected customer_number, phone, name_kana and optionally name, email)',
        'line 1: missing required column "name_kana"']),
    ("customer_number,phone,name_kana,phone\n1,2,3,4\n", ['line 1: column "phone" appears more than once']),
    ("customer_number,,phone,name_kana\n1,,2,3\n", [
        "line 1: column 2 has no name (expected customer_number, phone, name_kana and optionally name, email)"]),
    ("customer_number;phone;name_kana\n1;2;3\n", [
        'line 1: unknown column "customer_number;phone;name_kana" (expected customer_number, phone, name_kana '
        "and optionally name, email)",
        'line 1: missing required column "customer_number"', 'line 1: missing required column "phone"',
        'line 1: missing required column "name_kana"']),
    (HEADER + '12345678,0748621234,"アイコム タロウ,,\n', ["line 2: broken CSV: unexpected end of data"]),
    ("\n\ncustomer_number,phone\n", ['line 3: missing required column "name_kana"']),
    ("\n" + HEADER + "\n", ["line 3: no data rows after the header"]),
    ("12345678,0748621234,アイコム タロウ\n", [  # no header line at all
        "line 1: unknown column 1 (expected customer_number, phone, name_kana and optionally name, email)",
        "line 1: unknown column 2 (expected customer_number, phone, name_kana and optionally name, email)",
        "line 1: unknown column 3 (expected customer_number, phone, name_kana and optionally name, email)",
        'line 1: missing required column "customer_number"', 'line 1: missing required column "phone"',
        'line 1: missing required column "name_kana"']),
])
def test_unusable_customer_files(runner, app, tmp_path, text, messages):
    result = run(runner, "import-customers", write(tmp_path, text))
    assert result.exit_code == 1
    assert errors_of(result) == messages
    assert customers(app) == {}


def test_missing_file_is_a_usage_error(runner, app, tmp_path):
    result = run(runner, "import-customers", tmp_path / "nope.csv")
    assert result.exit_code == 2


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


_NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))


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
