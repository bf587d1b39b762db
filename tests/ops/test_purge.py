"""``flask --app app purge`` against PostgreSQL: what the retention rules remove, and what they keep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from storage import retention
from storage.models import Account, Customer, LinkToken, Statement
from storage.security import new_token
from tests.helpers_registration import TOKYO, seed_customer

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=TOKYO)


@pytest.fixture
def clocked(app):
    app.extensions["clock"] = lambda: NOW  # handlers.clock.now
    return app


def _account(db, customer_id: int, login_id: str, status: str, expires_at=None) -> Account:
    account = Account(customer_id=customer_id, login_id=login_id, login_id_key=login_id.lower(),
                      email=f"{login_id}@example.jp", nickname="たろう", status=status,
                      expires_at=expires_at, session_version=1, created_at=NOW - timedelta(days=30),
                      password_hash="x" if status == "active" else None)
    db.add(account)
    db.flush()
    return account


def _token(db, account: Account, purpose: str, expires_at, used_at=None) -> int:
    _token, token_hash = new_token()
    row = LinkToken(token_hash=token_hash, purpose=purpose, account_id=account.id, created_at=NOW - timedelta(days=30),
                    expires_at=expires_at, used_at=used_at)
    db.add(row)
    db.flush()
    return row.id


def _seed(app):
    """Three customers: one expired 仮登録, one live 仮登録, one active account with tokens of every age."""
    ids = [seed_customer(app, number=str(n), phone="0748621234") for n in (11111111, 22222222, 33333333)]
    keep = {}
    with app.extensions["db"].begin() as db:
        expired = _account(db, ids[0], "expired_taro", "provisional", NOW - timedelta(hours=1))
        _token(db, expired, "register", NOW - timedelta(hours=1))
        live = _account(db, ids[1], "live_hanako", "provisional", NOW + timedelta(hours=5))
        keep["live_register"] = _token(db, live, "register", NOW + timedelta(hours=5))
        active = _account(db, ids[2], "active_jiro", "active")
        _token(db, active, "bill", NOW - timedelta(days=8))  # expired 8 days ago: goes
        _token(db, active, "reset", NOW + timedelta(days=1), used_at=NOW - timedelta(days=9))  # spent 9 days ago
        _token(db, active, "line_link", NOW - timedelta(days=10))  # an account-link nonce
        keep["recent_bill"] = _token(db, active, "bill", NOW - timedelta(days=2))  # expired 2 days ago: kept
        keep["recently_spent"] = _token(db, active, "reset", NOW + timedelta(minutes=10),
                                        used_at=NOW - timedelta(days=1))
        keep["live_bill"] = _token(db, active, "bill", NOW + timedelta(minutes=10))
    return keep


def test_purge_removes_expired_registrations_and_old_tokens(clocked, runner, db_session):
    keep = _seed(clocked)
    result = runner.invoke(args=["purge"])
    assert result.exit_code == 0, result.output
    assert "provisional_registrations: removed 1 " in result.output
    assert "link_tokens: removed 3 " in result.output
    assert "removed 4 rows in all" in result.output
    logins = set(db_session.scalars(select(Account.login_id)))
    assert logins == {"live_hanako", "active_jiro"}
    assert set(db_session.scalars(select(LinkToken.id))) == set(keep.values())
    # Customers (billing records) stay.
    assert db_session.scalar(select(Customer).where(Customer.customer_number == "11111111")) is not None
    # Running it again removes nothing more.
    again = runner.invoke(args=["purge"])
    assert "removed 0 rows in all" in again.output


def test_dry_run_counts_and_removes_nothing(clocked, runner, db_session):
    _seed(clocked)
    result = runner.invoke(args=["purge", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "provisional_registrations: would remove 1 " in result.output
    assert "would remove 4 rows in all (dry run" in result.output
    assert db_session.scalar(select(Account).where(Account.login_id == "expired_taro")) is not None


def test_retention_periods_are_settings(clocked, runner, db_session):
    _seed(clocked)
    clocked.config["RETENTION_LINK_TOKEN_DAYS"] = 0
    clocked.config["RETENTION_PROVISIONAL_DAYS"] = 1  # the expired one (an hour ago) is kept a day
    result = runner.invoke(args=["purge"])
    assert "provisional_registrations: removed 0 " in result.output
    # Every spent or expired token goes now: the expired registration's, the three old ones, the two recent.
    assert "link_tokens: removed 6 " in result.output


def test_only_one_rule_and_unknown_rules(clocked, runner):
    _seed(clocked)
    result = runner.invoke(args=["purge", "--only", "link_tokens"])
    assert "link_tokens: removed" in result.output and "provisional_registrations" not in result.output
    assert runner.invoke(args=["purge", "--only", "nope"]).exit_code == 2


def test_other_modules_add_rules(clocked, runner, db_session):
    """Another module registers its own table's rule; purge runs it with its setting."""
    seed_customer(clocked, number="44444444")
    calls = []

    @retention.rule("test_statements", setting="RETENTION_TEST_STATEMENT_DAYS", default_days=400,
                    description="test rule")
    def purge_statements(session, now, keep):
        calls.append(keep)
        return session.execute(delete(Statement).where(Statement.imported_at < now - keep)).rowcount

    try:
        clocked.config["RETENTION_TEST_STATEMENT_DAYS"] = "30"
        result = runner.invoke(args=["purge"])
        assert "test_statements: removed 0 (test rule; kept 30 days)" in result.output
        assert calls == [timedelta(days=30)]
        clocked.config["RETENTION_TEST_STATEMENT_DAYS"] = "thirty"
        result = runner.invoke(args=["purge"])
        assert result.exit_code == 1 and "RETENTION_TEST_STATEMENT_DAYS must be a whole number" in result.output
    finally:
        retention.RULES.pop("test_statements", None)


def test_a_bad_retention_setting_stops_the_start_up(make_app):
    from app import ConfigError

    with pytest.raises(ConfigError, match="RETENTION_LINK_TOKEN_DAYS"):
        make_app(RETENTION_LINK_TOKEN_DAYS=-1)


def test_purge_removes_old_event_outbox_rows(clocked, runner, db_session):
    from storage.models import EventOutcome

    with clocked.extensions["db"].begin() as db:
        db.add(EventOutcome(event_id="old", payload=None, created_at=NOW - timedelta(days=8), delivered_at=NOW))
        db.add(EventOutcome(event_id="recent", payload=None, created_at=NOW - timedelta(days=1), delivered_at=NOW))
    result = runner.invoke(args=["purge", "--only", "event_outcomes"])
    assert result.exit_code == 0, result.output
    assert "event_outcomes: removed 1 " in result.output
    assert set(db_session.scalars(select(EventOutcome.event_id))) == {"recent"}


def test_purge_removes_old_transcripts_and_notice_rows_but_keeps_the_handoff_record(clocked, runner, db_session):
    from datetime import date

    from storage.models import Handoff, HandoffMessage, NoticeDelivery

    seed_customer(clocked, number="55555555")
    with clocked.extensions["db"].begin() as db:
        account = _account(db, db.scalar(select(Customer.id)), "notice_taro", "active")
        old = Handoff(line_user_id="U" + "1" * 32, status="closed", reason="asked",
                      opened_at=NOW - timedelta(days=100), closed_at=NOW - timedelta(days=95), closed_by="staff")
        recent = Handoff(line_user_id="U" + "2" * 32, status="closed", reason="asked",
                         opened_at=NOW - timedelta(days=10), closed_at=NOW - timedelta(days=9), closed_by="staff")
        db.add_all([old, recent])
        db.flush()
        for handoff in (old, recent):
            db.add(HandoffMessage(handoff_id=handoff.id, kind="customer", payload='{"text": "x"}',
                                  created_at=handoff.opened_at, attempts=0))
        db.add(NoticeDelivery(account_id=account.id, billing_month=date(2025, 9, 1), status="sent", attempts=1,
                              created_at=NOW))
        db.add(NoticeDelivery(account_id=account.id, billing_month=date(2026, 10, 1), status="sent", attempts=1,
                              created_at=NOW))
    result = runner.invoke(args=["purge", "--only", "handoff_transcripts"])
    assert "handoff_transcripts: removed 1 " in result.output, result.output
    result = runner.invoke(args=["purge", "--only", "notice_deliveries"])
    assert "notice_deliveries: removed 1 " in result.output, result.output
    assert db_session.scalar(select(func.count()).select_from(Handoff)) == 2  # the records stay for reporting
    assert db_session.scalar(select(func.count()).select_from(HandoffMessage)) == 1
    assert db_session.scalar(select(func.count()).select_from(NoticeDelivery)) == 1
