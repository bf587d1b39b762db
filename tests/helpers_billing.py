"""Test helpers for bills and My Page: a settable clock, ORM seeding, CSRF-aware form posts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import pytest

from storage.models import Account, Customer, LineLink, Statement, StatementItem
from storage.security import hash_password
from storage.timezone import TOKYO

PASSWORD = "Koka2026pw"
_CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK_RE = re.compile(r'name="link" value="([0-9a-f]{64})"')


class Clock:
    """A clock the app reads through ``CLOCK`` (the engine and the pages alike)."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    """The app's clock, 2026-11-25 10:00 in Tokyo; import with ``app_config`` to use it."""
    return Clock(datetime(2026, 11, 25, 10, 0, tzinfo=TOKYO))


@pytest.fixture
def app_config(app_config, clock):
    """The conftest configuration with the settable clock."""
    return dict(app_config, CLOCK=clock)


@dataclass
class Seeded:
    customer_id: int
    account_id: int | None
    login_id: str | None
    email: str | None


def seed_customer(app, number: str = "12345678", phone: str = "0748621234",
                  name_kana: str = "アイコム\u3000タロウ") -> int:
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        customer = Customer(customer_number=number, phone=phone, name_kana=name_kana, name=None, email=None,
                            created_at=now, updated_at=now)
        db.add(customer)
        db.flush()
        return customer.id


def seed_statement(app, customer_id: int, month: date, items: list[tuple[str, int]],
                   due_date: date | None = None, payment_method: str | None = None) -> int:
    """A statement whose total is the sum of its items, as the importer would store it."""
    with app.extensions["db"].begin() as db:
        statement = Statement(customer_id=customer_id, billing_month=month, due_date=due_date,
                              payment_method=payment_method, total=sum(a for _n, a in items),
                              imported_at=datetime.now(TOKYO))
        statement.items = [StatementItem(position=i, name=name, amount=amount)
                           for i, (name, amount) in enumerate(items, start=1)]
        db.add(statement)
        db.flush()
        return statement.id


def seed_hash(password: str) -> str:
    """The argon2id hash a seeded account stores, as the app makes it now (the tests' quick
    parameters or the real ones, tests/conftest.py), made once per password and parameters:
    tests seed the same few passwords again and again. Logging in verifies it the app's way."""
    from storage import security

    return _seed_hash(password, security._hasher)


@cache
def _seed_hash(password: str, hasher) -> str:
    return hash_password(password)


def seed_account(app, customer_id: int, login_id: str = "Aicom_Taro", password: str = PASSWORD,
                 email: str = "taro@example.jp", nickname: str = "たろう", status: str = "active",
                 password_hash: str | None = None) -> int:
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        account = Account(customer_id=customer_id, login_id=login_id, login_id_key=login_id.lower(), email=email,
                          nickname=nickname, password_hash=password_hash or seed_hash(password), status=status,
                          session_version=1, created_at=now, activated_at=now if status == "active" else None)
        db.add(account)
        db.flush()
        return account.id


def seed_link(app, account_id: int, line_user_id: str) -> None:
    with app.extensions["db"].begin() as db:
        db.add(LineLink(line_user_id=line_user_id, account_id=account_id, notices_enabled=True,
                        linked_at=datetime.now(TOKYO)))


def seed_customer_with_account(app, number: str = "12345678", login_id: str = "Aicom_Taro",
                               email: str = "taro@example.jp", **account) -> Seeded:
    customer_id = seed_customer(app, number=number)
    account_id = seed_account(app, customer_id, login_id=login_id, email=email, **account)
    return Seeded(customer_id, account_id, login_id, email)


def csrf_from(html: str) -> str:
    found = _CSRF_RE.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def post_form(client, page_path: str, post_path: str | None = None, **fields):
    """GET the page (for its CSRF token), then POST the form fields to it."""
    page = client.get(page_path)
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_from(page.get_data(as_text=True)), **fields}
    return client.post(post_path or page_path.split("?")[0], data=data)


def login(client, account_id: str, password: str = PASSWORD, next_path: str | None = None,
          link: str | None = None):
    """Post the login form as a browser would. ``link``: the chat's 「ログインして連携」 URL
    (``/link/start?t=...``, from ``start_link`` or the chat), opened first in this client, whose
    cookie then binds the link attempt; the form carries the attempt's reference."""
    from urllib.parse import urlencode, urlsplit

    if link:
        url = urlsplit(link)
        page = client.get(f"{url.path}?{url.query}", follow_redirects=True)
        assert page.status_code == 200, page.status_code
        html = page.get_data(as_text=True)
        found = _LINK_RE.search(html)
        assert found, "no link attempt on the login page"
        return client.post("/login", data={"csrf_token": csrf_from(html), "account_id": account_id,
                                            "password": password, "link": found.group(1)})
    page = "/login" + ("?" + urlencode({"next": next_path}) if next_path else "")
    fields = {"account_id": account_id, "password": password}
    if next_path:
        fields["next"] = next_path
    return post_form(client, page, "/login", **fields)


def start_link(app, user_id: str, link_token: str = "abcDEF123_-x", name: str | None = "たろう") -> str:
    """A link attempt as the chat's 「ログインして連携」 makes one (``handlers.line.delivery.link_url``);
    returns its start path."""
    from handlers import clock
    from storage import link_attempts

    now = clock.now(app).timestamp()
    attempt_id = link_attempts.create(app.extensions["redis"], link_token, user_id, name, now)
    return f"/link/start?t={attempt_id}"


def confirm_move(client, decision: str = "move"):
    """The confirm step after a link login whose account is linked to another LINE user."""
    return post_form(client, "/link/confirm", decision=decision)


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None
