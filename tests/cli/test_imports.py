"""`flask import-customers` / `import-statements`: every line checked, all-or-nothing, upserts and replaces."""

from __future__ import annotations

from pathlib import Path

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

