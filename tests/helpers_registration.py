"""Helpers for the registration tests: seed customers as ORM rows, walk the chat, read the mail, post the page."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from storage.models import Account, Customer, LineLink, LinkToken
from storage.timezone import TOKYO

NUMBER, PHONE, KANA = "12345678", "0748621234", "アイコム\u3000タロウ"
PASSWORD = "Koka2026pass"


def seed_customer(app, number: str = NUMBER, phone: str = PHONE, kana: str = KANA) -> int:
    """A customer row with canonical values (what the importer stores); returns its id."""
    now = datetime.now(TOKYO)
    with app.extensions["db"].begin() as db:
        customer = Customer(customer_number=number, phone=phone, name_kana=kana, name="愛甲 太郎",
                            created_at=now, updated_at=now)
        db.add(customer)
        db.flush()
        return customer.id


def verify(user, number: str = NUMBER, phone: str = PHONE, kana: str = "アイコム タロウ") -> list[dict]:
    """登録 -> number -> phone -> kana; returns the replies to the last answer."""
    user.say("登録")
    user.say(number)
    user.say(phone)
    return user.say(kana)


def until_confirm(user, login_id: str = "aicom_taro", email: str = "taro@example.jp",
                  nickname: str = "たろう", **verify_args) -> list[dict]:
    """Verification, then the three items; returns the confirmation replies."""
    replies = verify(user, **verify_args)
    assert "ご本人様の確認ができました" in replies[-1]["text"], replies
    user.say(login_id)
    user.say(email)
    return user.say(nickname)


def provisional(user, **kwargs) -> list[dict]:
    """All the way to 仮登録する; returns its replies."""
    until_confirm(user, **kwargs)
    return user.say("仮登録する")


def texts(replies: list[dict]) -> str:
    return "\n".join(m.get("text") or m.get("altText", "") for m in replies)


def quick_labels(message: dict) -> list[str]:
    return [item["action"]["label"] for item in (message.get("quickReply") or {}).get("items", [])]


def link_path(body: str, base: str = "http://localhost") -> str:
    """The 本登録 URL's path from a mail body."""
    match = re.search(re.escape(base) + r"(/register/complete/[A-Za-z0-9_\-]+)", body)
    assert match, body
    return match.group(1)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def post_password(client, path: str, password: str = PASSWORD, confirm: str | None = None, csrf: bool = True):
    """Open the form (GET), then post the password twice."""
    page = client.get(path)
    data = {"password": password, "password_confirm": password if confirm is None else confirm}
    if csrf:
        data["csrf_token"] = csrf_from(page.get_data(as_text=True))
    return client.post(path, data=data)


def accounts(db) -> list[Account]:
    return list(db.scalars(select(Account).order_by(Account.id)))


def tokens(db) -> list[LinkToken]:
    return list(db.scalars(select(LinkToken).order_by(LinkToken.id)))


def links(db) -> list[LineLink]:
    return list(db.scalars(select(LineLink)))


def execute(app, *statements) -> None:
    """Run statements in their own committed transaction (the test's ``db_session`` stays untouched)."""
    with app.extensions["db"].begin() as db:
        for statement in statements:
            db.execute(statement)


def limited_redis_login(redis_url: str, *key_patterns: str) -> tuple[str, str]:
    """A Redis ACL user that may touch only ``key_patterns`` (real NOPERM errors elsewhere); (name, url)."""
    import uuid

    import redis

    admin = redis.Redis.from_url(redis_url)
    name, password = "aicom_limited_" + uuid.uuid4().hex[:8], uuid.uuid4().hex
    admin.execute_command("ACL", "SETUSER", name, "on", ">" + password, "+@all", *key_patterns)
    return name, f"redis://{name}:{password}@{redis_url.split('://', 1)[1]}"


def drop_redis_login(redis_url: str, name: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).execute_command("ACL", "DELUSER", name)
