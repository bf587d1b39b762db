"""``storage.faq``: the FAQ set replaced whole with a version, misses grouped, and their retention,
on PostgreSQL and on SQLite (the ``make run`` database)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storage import faq, retention
from storage.bills import TOKYO
from storage.models import FaqEntry, FaqMiss, FaqSet

NOW = datetime(2026, 12, 4, 14, 5, tzinfo=TOKYO)

WIFI = faq.FaqRow("wifi", "Wi-Fiがつながらない", "ルーターの電源を入れ直してください。\n直らないときはお電話ください。",
                  ("ネットが遅い", "インターネットにつながらない"), "https://example.jp/support/wifi")
MOVE = faq.FaqRow("move", "引っ越しの手続き", "お引っ越しの1か月前までにご連絡ください。", (), "/mypage")
PAY = faq.FaqRow("pay.method-1", "支払い方法を変えたい", "マイページから変更できます。")


@pytest.fixture
def store(app):
    """The app's database: PostgreSQL, then SQLite (``tests/storage/conftest.py``)."""
    return app


def _db(application):
    return application.extensions["db"]


# -- the set -----------------------------------------------------------------------------------------------
def test_never_imported_is_version_zero(store):
    with _db(store).begin() as session:
        assert faq.current_version(session) == 0
        assert faq.load(session) == (0, [])


def test_replace_all_bumps_the_version_and_keeps_the_file_order(store):
    with _db(store).begin() as session:
        assert faq.replace_all(session, [WIFI, MOVE, PAY], NOW) == 1
    with _db(store).begin() as session:
        assert faq.current_version(session) == 1
        assert faq.load(session) == (1, [WIFI, MOVE, PAY])
        stored = session.get(FaqSet, faq.SET_ID)
        assert (stored.version, stored.entry_count) == (1, 3)
    with _db(store).begin() as session:
        assert faq.replace_all(session, [PAY, WIFI], NOW + timedelta(hours=1)) == 2
    with _db(store).begin() as session:
        assert faq.load(session) == (2, [PAY, WIFI])  # MOVE is gone; the new file's order
        assert session.scalar(select(func.count()).select_from(FaqEntry)) == 2
        assert session.get(FaqSet, faq.SET_ID).entry_count == 2


def test_the_lending_plan_is_kept_with_its_set_and_replaced_with_it(store):
    with _db(store).begin() as session:
        assert faq.lending(session) is None
        faq.replace_all(session, [WIFI], NOW, '{"key":"k","plan":{}}')
    with _db(store).begin() as session:
        assert faq.lending(session) == '{"key":"k","plan":{}}'
        faq.replace_all(session, [MOVE], NOW)  # a set imported without one: each process works it out
    with _db(store).begin() as session:
        assert faq.lending(session) is None


def test_an_import_rolled_back_leaves_the_set_in_use(store):
    with _db(store).begin() as session:
        faq.replace_all(session, [WIFI], NOW)
    with pytest.raises(RuntimeError), _db(store).begin() as session:
        faq.replace_all(session, [MOVE], NOW)
        raise RuntimeError("the import failed after writing")
    with _db(store).begin() as session:
        assert faq.load(session) == (1, [WIFI])


def test_values_round_trip_exactly(store):
    row = faq.FaqRow("x", "料金は？（税込）", "１行目\n\n3行目　全角スペース", ("例｜1", "it's \"quoted\""), None)
    with _db(store).begin() as session:
        faq.replace_all(session, [row], NOW)
    with _db(store).begin() as session:
        assert faq.load(session)[1] == [row]


def test_two_imports_at_once_run_one_after_the_other(app):
    """PostgreSQL, READ COMMITTED: the second waits for the first and wins whole (never a mix)."""
    db = _db(app)
    for first_ever in (True, False):
        done = threading.Event()
        errors: list[BaseException] = []

        def second_import(done=done, errors=errors):
            try:
                with db.begin() as session:
                    faq.replace_all(session, [PAY], NOW)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            done.set()

        with db.begin() as session:
            before = faq.current_version(session)
            assert (before == 0) is first_ever
            faq.replace_all(session, [WIFI, MOVE], NOW)
            other = threading.Thread(target=second_import)
            other.start()
            time.sleep(0.5)  # the second import now waits on the set row
            assert not done.is_set()
        other.join(10)
        assert errors == []
        with db.begin() as session:
            assert faq.load(session) == (before + 2, [PAY])


# -- misses ------------------------------------------------------------------------------------------------
def test_misses_grouped_most_frequent_then_most_recent(store):
    with _db(store).begin() as session:
        faq.record_miss(session, "テレビが映らない", faq.NOT_UNDERSTOOD, None, 0.1, NOW - timedelta(days=3))
        faq.record_miss(session, "テレビが映らない", faq.NOT_UNDERSTOOD, "tv", 0.2, NOW - timedelta(days=1))
        faq.record_miss(session, "テレビが映らない", faq.LOW_CONFIDENCE, "tv", 0.5, NOW - timedelta(hours=5))
        faq.record_miss(session, "ネットが遅い", faq.LOW_CONFIDENCE, "wifi", 0.55, NOW - timedelta(days=2))
        faq.record_miss(session, "ネットが遅い", faq.LOW_CONFIDENCE, "wifi", 0.6, NOW - timedelta(hours=2))
        faq.record_miss(session, "解約したい", faq.NOT_UNDERSTOOD, None, 0.0, NOW - timedelta(hours=1))
    with _db(store).begin() as session:
        found = faq.misses(session)
    assert [(m.text, m.outcome, m.count, m.best_entry) for m in found] == [
        ("ネットが遅い", faq.LOW_CONFIDENCE, 2, "wifi"),  # two, the latest 2 hours ago
        ("テレビが映らない", faq.NOT_UNDERSTOOD, 2, "tv"),  # two, the latest a day ago; its latest best entry
        ("解約したい", faq.NOT_UNDERSTOOD, 1, None),  # one, an hour ago
        ("テレビが映らない", faq.LOW_CONFIDENCE, 1, "tv"),  # one, 5 hours ago
    ]
    assert found[0].last_seen == NOW - timedelta(hours=2)
    assert found[0].last_seen.utcoffset() == timedelta(hours=9)
    with _db(store).begin() as session:
        assert [m.text for m in faq.misses(session, limit=2)] == ["ネットが遅い", "テレビが映らない"]
        recent = faq.misses(session, since=NOW - timedelta(days=1, hours=12))
    assert [(m.text, m.outcome, m.count) for m in recent] == [
        ("解約したい", faq.NOT_UNDERSTOOD, 1), ("ネットが遅い", faq.LOW_CONFIDENCE, 1),
        ("テレビが映らない", faq.LOW_CONFIDENCE, 1), ("テレビが映らない", faq.NOT_UNDERSTOOD, 1)]


def test_a_miss_in_another_zone_is_the_same_moment(store):
    in_utc = (NOW - timedelta(minutes=30)).astimezone(UTC)
    with _db(store).begin() as session:
        faq.record_miss(session, "請求書の再発行", faq.NOT_UNDERSTOOD, None, 0.0, in_utc)
    with _db(store).begin() as session:
        assert faq.misses(session)[0].last_seen == in_utc
        assert faq.misses(session, since=NOW - timedelta(minutes=29)) == []
        assert len(faq.misses(session, since=NOW - timedelta(minutes=31))) == 1


def test_miss_text_is_cut_to_200_characters(store):
    with _db(store).begin() as session:
        faq.record_miss(session, "あ" * 250 + "\x00", faq.NOT_UNDERSTOOD, "e" * 80, 0.25, NOW)
    with _db(store).begin() as session:
        miss = session.scalar(select(FaqMiss))
        assert (miss.text, miss.best_entry, miss.score) == ("あ" * 200, "e" * 64, 0.25)


def test_an_unknown_outcome_is_refused(app):
    with pytest.raises(ValueError, match="outcome"), _db(app).begin() as session:
        faq.record_miss(session, "x", "answered", None, 1.0, NOW)


def test_no_misses(store):
    with _db(store).begin() as session:
        assert faq.misses(session) == []


# -- retention ---------------------------------------------------------------------------------------------
def _seed_misses(application) -> None:
    with _db(application).begin() as session:
        faq.record_miss(session, "古い質問", faq.NOT_UNDERSTOOD, None, 0.0, NOW - timedelta(days=91))
        faq.record_miss(session, "古い質問", faq.NOT_UNDERSTOOD, None, 0.0, NOW - timedelta(days=90, minutes=1))
        faq.record_miss(session, "新しい質問", faq.LOW_CONFIDENCE, "wifi", 0.5, NOW - timedelta(days=89))


def test_the_rule_is_registered_with_its_setting():
    rule = retention.RULES["faq_misses"]
    assert (rule.setting, rule.default_days) == ("RETENTION_FAQ_MISS_DAYS", 90)


def test_purge_removes_misses_older_than_the_period(app, runner):
    app.extensions["clock"] = lambda: NOW
    _seed_misses(app)
    dry = runner.invoke(args=["purge", "--only", "faq_misses", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "faq_misses: would remove 2 " in dry.output and "kept 90 days" in dry.output
    result = runner.invoke(args=["purge", "--only", "faq_misses"])
    assert result.exit_code == 0, result.output
    assert "faq_misses: removed 2 " in result.output
    with _db(app).begin() as session:
        assert [m.text for m in faq.misses(session)] == ["新しい質問"]


def test_purge_follows_the_setting(app, runner):
    app.extensions["clock"] = lambda: NOW
    app.config["RETENTION_FAQ_MISS_DAYS"] = 30
    _seed_misses(app)
    result = runner.invoke(args=["purge", "--only", "faq_misses"])
    assert "faq_misses: removed 3 " in result.output and "kept 30 days" in result.output


def test_purge_on_both_databases(store):
    _seed_misses(store)
    results = retention.purge_all(_db(store).sessions, NOW.astimezone(UTC), store.config, only=("faq_misses",))
    assert [(r.name, r.count, r.keep_days) for r in results] == [("faq_misses", 2, 90)]
    with _db(store).begin() as session:
        assert session.scalar(select(func.count()).select_from(FaqMiss)) == 1


def test_a_bad_setting_stops_the_start_up(make_app):
    from app import ConfigError

    with pytest.raises(ConfigError, match="RETENTION_FAQ_MISS_DAYS"):
        make_app(RETENTION_FAQ_MISS_DAYS=-1)
