"""`flask import-faq` (every line checked, the set replaced whole or not at all), `faq misses`, and the
demo FAQ that `seed-demo` loads once."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from handlers.cli import commands, csv_rows
from storage import faq
from storage.bills import TOKYO
from tests.cli.test_imports import errors_of, run, write

NOW = datetime(2026, 12, 4, 14, 5, tzinfo=TOKYO)
HEADER = "id,question,answer,examples,link\n"
FAQ = (
    HEADER
    + "wifi,Wi-Fiがつながらない,\"ルーターの電源を入れ直してください。\n直らないときは0120-00-6560へ。\","
      "ネットが遅い | インターネットにつながらない||  ,https://www.aicom-koka.jp/support/wifi\n"
    + "move,引っ越しの手続き（転居）,お引っ越しの1か月前までにご連絡ください。,,/mypage\n"
    + "pay.method-1,支払い方法を変えたい？,マイページの「お支払い方法」から変更できます。,支払方法変更,\n"
)
EXPECTED = [
    faq.FaqRow("wifi", "Wi-Fiがつながらない", "ルーターの電源を入れ直してください。\n直らないときは0120-00-6560へ。",
               ("ネットが遅い", "インターネットにつながらない"), "https://www.aicom-koka.jp/support/wifi"),
    faq.FaqRow("move", "引っ越しの手続き（転居）", "お引っ越しの1か月前までにご連絡ください。", (), "/mypage"),
    faq.FaqRow("pay.method-1", "支払い方法を変えたい？", "マイページの「お支払い方法」から変更できます。",
               ("支払方法変更",), None),
]


def in_use(app) -> tuple[int, list[faq.FaqRow]]:
    with app.extensions["db"].begin() as session:
        return faq.load(session)


@pytest.fixture
def imported(runner, app, tmp_path):
    """``FAQ`` imported once (version 1)."""
    result = run(runner, "import-faq", write(tmp_path, FAQ, "faq.csv"))
    assert result.exit_code == 0, result.output
    return in_use(app)


# -- good files --------------------------------------------------------------------------------------------
def test_import_faq(runner, app, tmp_path):
    result = run(runner, "import-faq", write(tmp_path, FAQ))
    assert result.exit_code == 0, result.output
    assert result.stdout == "imported 3 FAQ entries (version 1)\n"
    assert in_use(app) == (1, EXPECTED)


def test_the_import_stores_which_phrasings_each_entry_borrows(runner, app, tmp_path):
    """Worked out once here, so that no web or worker process does it again (``phrasings.fit``)."""
    from bot.understanding.phrasings import read_plan

    assert run(runner, "import-faq", write(tmp_path, FAQ)).exit_code == 0
    with app.extensions["db"].begin() as session:
        plan = read_plan(faq.lending(session), faq.load(session)[1])
    assert plan is not None and plan  # made for these entries and this bank; some entry borrows


def test_a_new_file_replaces_the_whole_set(runner, app, tmp_path, imported):
    path = write(tmp_path, "question,ID,answer\n料金の確認,bill,今月の料金と送ってください。\n")
    result = run(runner, "import-faq", path)
    assert result.exit_code == 0, result.output
    assert result.stdout == "imported 1 FAQ entry (version 2)\n"
    assert in_use(app) == (2, [faq.FaqRow("bill", "料金の確認", "今月の料金と送ってください。")])


def test_utf8_with_bom(runner, app, tmp_path):
    result = run(runner, "import-faq", write(tmp_path, "\ufeff" + FAQ))
    assert result.exit_code == 0, result.output
    assert in_use(app) == (1, EXPECTED)


def test_cp932_with_crlf(runner, app, tmp_path):
    path = write(tmp_path, FAQ.replace("\n", "\r\n"), encoding="cp932")
    result = run(runner, "import-faq", path, "--encoding", "cp932")
    assert result.exit_code == 0, result.output
    assert in_use(app) == (1, EXPECTED)  # the answer's line break is a plain \n


def test_cp932_read_as_utf8_is_refused(runner, app, tmp_path, imported):
    result = run(runner, "import-faq", write(tmp_path, FAQ, encoding="cp932"))
    assert result.exit_code == 1
    assert errors_of(result) == ["line 2: not valid utf-8 text (try --encoding cp932)"]
    assert in_use(app) == imported


def test_examples_split_on_bars_and_trimmed(tmp_path):
    path = write(tmp_path, "id,question,answer,examples\n"
                           "a,質問,回答,\" 一つ目 |二つ目｜ 三つ目 | | \"\n"
                           "b,質問2,回答2,|\n")
    rows = csv_rows.read_faq(path)
    assert [row.examples for row in rows] == [("一つ目", "二つ目", "三つ目"), ()]


def test_optional_columns_may_be_absent_and_ids_are_made_ascii(tmp_path):
    rows = csv_rows.read_faq(write(tmp_path, "id,question,answer\nｗｉｆｉ＿１,質問,\"  回答\n\n2段落目  \"\n"))
    assert rows == [faq.FaqRow("wifi_1", "質問", "回答\n\n2段落目")]


def test_limits_are_inclusive(tmp_path):
    rows = csv_rows.read_faq(write(tmp_path, f"id,question,answer\n{'a' * 64},{'問' * 40},{'答' * 1000}\n"))
    assert (len(rows[0].id), len(rows[0].question), len(rows[0].answer)) == (64, 40, 1000)


# -- bad rows: named by line, nothing changes ----------------------------------------------------------------
@pytest.mark.parametrize(("row", "message"), [
    (",質問,回答,,", "id is empty"),
    ("wifi 2,質問,回答,,", 'id "wifi 2" may hold only letters, digits, "_", "-" and "."'),
    ("ワイファイ,質問,回答,,", 'id "ワイファイ" may hold only letters, digits, "_", "-" and "."'),
    ("a/b,質問,回答,,", 'id "a/b" may hold only letters, digits, "_", "-" and "."'),
    ("i" * 65 + ",質問,回答,,", "id is longer than 64 characters"),
    ("x,,回答,,", "question is empty"),
    ("x,　 ,回答,,", "question is empty"),
    ("x," + "問" * 41 + ",回答,,", "question is longer than 40 characters"),
    ('x,"二行の\n質問",回答,,', "question must be one line"),
    ("x,質問,,,", "answer is empty"),
    ("x,質問," + "答" * 1001 + ",,", "answer is longer than 1000 characters"),
    ("x,質問,回答\x1b,,", "answer contains a control character"),
    ("x,質問,回答," + "例" * 201 + ",", "an example is longer than 200 characters"),
    ('x,質問,回答,"一つ目\n二つ目",', "an example must be one line (separate examples with |)"),
    ("x,質問,回答,,ftp://example.jp/faq", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,www.aicom-koka.jp", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,mypage", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,//evil.example/x", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,https://", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,http://[::1", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,javascript:alert(1)", "link must be an http:// or https:// URL, or a path starting with /"),
    ("x,質問,回答,,https://example.jp/a b", "link must not contain spaces or line breaks"),
    ("x,質問,回答,,https://example.jp/" + "a" * 490, "link is longer than 500 characters"),
    ("x,質問,回答,", "expected 5 fields, found 4"),
    ("x,質問,回答,,,", "expected 5 fields, found 6"),
])
def test_bad_faq_row(runner, app, tmp_path, imported, row, message):
    path = write(tmp_path, HEADER + "ok,良い質問,良い回答,,\n" + row + "\n")
    result = run(runner, "import-faq", path)
    assert result.exit_code == 1
    assert errors_of(result) == [f"line 3: {message}"]
    assert result.stderr.strip().endswith("import-faq: 1 bad line in data.csv; nothing imported")
    assert result.stdout == ""
    assert in_use(app) == imported  # the previous set, same version, still in use


def test_every_bad_line_is_listed_and_the_set_in_use_stays(runner, app, tmp_path, imported):
    path = write(tmp_path, HEADER
                 + "a,質問A,回答A,,\n"  # line 2: good
                 + 'b,,"複数行の\n回答",,mypage\n'  # lines 3-4: two problems, reported at 3
                 + "A,質問C,回答C,,\n"  # line 5: the same id as line 2 in another case
                 + "d,質問D," + "答" * 1001 + ",,\n"  # line 6
                 + "b,質問E,回答E,,\n")  # line 7: the same id as line 3 (whose other fields are bad)
    result = run(runner, "import-faq", path)
    assert result.exit_code == 1
    assert errors_of(result) == [
        "line 3: question is empty",
        "line 3: link must be an http:// or https:// URL, or a path starting with /",
        'line 5: id "A" already appears on line 2',
        "line 6: answer is longer than 1000 characters",
        'line 7: id "b" already appears on line 3',
    ]
    assert "import-faq: 4 bad lines in data.csv; nothing imported" in result.stderr
    assert in_use(app) == imported


@pytest.mark.parametrize(("text", "messages"), [
    ("", ["line 1: the file is empty (a header line is needed)"]),
    ("id,question,answer\n", ["line 2: no data rows after the header"]),
    ("id,question,answer\n\n,,\n", ["line 2: no data rows after the header"]),
    ("id,question,examples\na,質問,例\n", ['line 1: missing required column "answer"']),
    ("id,question,answer,url\na,質問,回答,/x\n", [
        'line 1: unknown column "url" (expected id, question, answer and optionally examples, link)']),
    ("wifi,質問,回答\n", [  # no header line
        'line 1: unknown column "wifi" (expected id, question, answer and optionally examples, link)',
        "line 1: unknown column 2 (expected id, question, answer and optionally examples, link)",
        "line 1: unknown column 3 (expected id, question, answer and optionally examples, link)",
        'line 1: missing required column "id"', 'line 1: missing required column "question"',
        'line 1: missing required column "answer"']),
    (HEADER + 'a,質問,"回答,,\n', ["line 2: broken CSV: unexpected end of data"]),
])
def test_unusable_faq_files(runner, app, tmp_path, imported, text, messages):
    result = run(runner, "import-faq", write(tmp_path, text))
    assert result.exit_code == 1
    assert errors_of(result) == messages
    assert in_use(app) == imported


def test_missing_file_is_a_usage_error(runner, app, tmp_path):
    assert run(runner, "import-faq", tmp_path / "nope.csv").exit_code == 2


def test_import_faq_on_sqlite(make_app, tmp_path):
    sqlite_app = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}")
    cli = sqlite_app.test_cli_runner()
    assert cli.invoke(args=["db", "upgrade"]).exit_code == 0
    for version in (1, 2):
        result = run(cli, "import-faq", write(tmp_path, FAQ, "faq.csv"))
        assert result.stdout == f"imported 3 FAQ entries (version {version})\n", result.output
    bad = run(cli, "import-faq", write(tmp_path, HEADER + "a,,回答,,\n"))
    assert bad.exit_code == 1
    assert in_use(sqlite_app) == (2, EXPECTED)


# -- faq misses ---------------------------------------------------------------------------------------------
def test_faq_misses_without_rows(runner, app):
    result = runner.invoke(args=["faq", "misses"])
    assert result.exit_code == 0, result.output
    assert result.output == "no misses\n"


def test_faq_misses_table(runner, app):
    app.extensions["clock"] = lambda: NOW
    with app.extensions["db"].begin() as session:
        for hours in (30, 20, 1):
            faq.record_miss(session, "ネットが遅い", faq.LOW_CONFIDENCE, "wifi", 0.4, NOW - timedelta(hours=hours))
        faq.record_miss(session, "テレビが\n映らない", faq.NOT_UNDERSTOOD, None, 0.1, NOW - timedelta(days=3))
        faq.record_miss(session, "テレビが\n映らない", faq.NOT_UNDERSTOOD, None, 0.1, NOW - timedelta(days=2))
        for day in range(12):
            faq.record_miss(session, "解約したい", faq.NOT_UNDERSTOOD, "cancel", 0.2, NOW - timedelta(days=10 + day))
    result = runner.invoke(args=["faq", "misses"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "count  outcome         last seen         best entry  text",
        "   12  not_understood  2026-11-24 14:05  cancel      解約したい",
        "    3  low_confidence  2026-12-04 13:05  wifi        ネットが遅い",
        "    2  not_understood  2026-12-02 14:05  -           テレビが⏎映らない",
    ]
    recent = runner.invoke(args=["faq", "misses", "--days", "1", "--limit", "5"])
    assert recent.output.splitlines()[1:] == ["    2  low_confidence  2026-12-04 13:05  wifi        ネットが遅い"]
    assert len(runner.invoke(args=["faq", "misses", "--limit", "1"]).output.splitlines()) == 2
    assert runner.invoke(args=["faq", "misses", "--days", "0"]).exit_code == 2


def test_faq_group_is_importable_for_more_subcommands():
    from handlers.cli.faq import faq_group

    assert "misses" in faq_group.commands


# -- seed-demo's FAQ ----------------------------------------------------------------------------------------
@pytest.fixture
def demo_faq(tmp_path, monkeypatch) -> Path:
    path = write(tmp_path, "id,question,answer\ndemo,デモの質問,デモの回答\n", "demo_faq.csv")
    monkeypatch.setattr(commands, "DEFAULT_FAQ_PATH", path)
    return path


def test_seed_demo_loads_the_default_faq_once(runner, app, demo_faq):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert f"FAQ: imported 1 entry from {demo_faq} (version 1)" in first.stdout.splitlines()
    assert in_use(app) == (1, [faq.FaqRow("demo", "デモの質問", "デモの回答")])
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert f"FAQ: version 1 in use, left as it is ({demo_faq} not loaded)" in second.stdout.splitlines()
    assert in_use(app)[0] == 1


def test_seed_demo_never_replaces_an_imported_faq(runner, app, demo_faq, imported):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "FAQ: version 1 in use, left as it is" in result.stdout
    assert in_use(app) == imported


def test_seed_demo_without_the_file(runner, app, tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "DEFAULT_FAQ_PATH", tmp_path / "missing.csv")
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "no FAQ loaded" in result.stdout
    assert in_use(app) == (0, [])


def test_seed_demo_with_a_broken_default_faq_says_so(runner, app, tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "DEFAULT_FAQ_PATH", write(tmp_path, "id,question,answer\na,,b\n", "bad.csv"))
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert errors_of(result) == ["line 2: question is empty"]
    assert in_use(app) == (0, [])


def test_the_default_path_is_the_projects_data_faq():
    assert commands.DEFAULT_FAQ_PATH == Path(commands.__file__).resolve().parents[2] / "data" / "faq.csv"


def test_the_shipped_faq_passes_the_checks():
    assert csv_rows.read_faq(commands.DEFAULT_FAQ_PATH)
