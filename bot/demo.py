"""Demo customers and a year of their statements (``flask --app app seed-demo``, run by ``make run``).

The customers are constants so the emulator page can show them for a try-out
registration. Statements run for 12 months up to the current month in Asia/Tokyo, so
「今月の料金」 answers on the day ``make run`` is run; one customer
(``DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT``) has no statement this month, to show the
"not issued yet" answer. Seeding goes through the same upsert code as the CSV imports and
can be run again: it updates, never duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot import normalize
from storage import bulk
from storage.timezone import TOKYO

MONTHS = 12
DUE_DAY = 27


@dataclass(frozen=True)
class DemoCustomer:
    """A demo contract holder, written as a customer would type it (``phone`` with hyphens)."""

    customer_number: str
    phone: str
    name_kana: str
    name: str
    email: str
    payment_method: str = "口座振替"
    services: tuple[tuple[str, int], ...] = ()  # the fixed monthly items (name, yen)
    calls: bool = False  # ひかり電話 users get a call-charge line that changes every month


DEMO_CUSTOMERS: list[DemoCustomer] = [
    DemoCustomer(
        "12345678", "0748-62-1234", "アイコム　タロウ", "相混 太郎", "taro@example.jp", "口座振替",
        (("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("ひかり電話 基本料", 550),
         ("機器レンタル料（STB）", 550), ("セット割引", -550)),
        calls=True,
    ),
    DemoCustomer(
        "10023456", "0748-63-2345", "コウカ　ハナコ", "甲賀 花子", "hanako@example.jp", "クレジットカード",
        (("インターネット 1Gコース", 5170), ("機器レンタル料（Wi-Fiルーター）", 330)),
    ),
    DemoCustomer(
        "10034567", "0748-65-3456", "ミナクチ　ジロウ", "水口 次郎", "jiro@example.jp", "口座振替",
        (("ケーブルテレビ 基本料金", 3300), ("専門チャンネルパック", 1980), ("機器レンタル料（STB）", 550)),
    ),
    DemoCustomer(
        "10045678", "090-1234-5678", "シガラキ　ヨウコ", "信楽 陽子", "yoko@example.jp", "クレジットカード",
        (("インターネット 320Mコース", 4180), ("ひかり電話 基本料", 550), ("セット割引", -330)),
        calls=True,
    ),
    DemoCustomer(
        "10056789", "0748-86-4567", "ツチヤマ　ケンジ", "土山 健二", "kenji@example.jp", "口座振替",
        (("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("セット割引", -550)),
    ),
]

# This customer's statement for the current month is "not issued yet": their year ends last month.
DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT = "10056789"


def this_month(now: datetime | None = None) -> date:
    """The 1st of the current month in Asia/Tokyo."""
    moment = (now or datetime.now(TOKYO)).astimezone(TOKYO)
    return date(moment.year, moment.month, 1)


def months_back(month: date, count: int) -> date:
    """The month ``count`` months before ``month`` (both the 1st)."""
    index = month.year * 12 + month.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def call_charge(customer_number: str, month: date) -> int:
    """A call charge that looks used (varies by month) but is the same on every run."""
    seed = int(customer_number) % 97 + month.year * 12 + month.month
    return 110 + (seed * 137) % 900


def demo_months(customer: DemoCustomer, current: date) -> list[date]:
    """The billing months seeded for a customer, oldest first."""
    last = 1 if customer.customer_number == DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT else 0
    return [months_back(current, back) for back in range(MONTHS - 1 + last, last - 1, -1)]


def demo_items(customer: DemoCustomer, month: date) -> tuple[tuple[str, int], ...]:
    """A statement's line items for one month."""
    items = list(customer.services)
    if customer.calls:
        items.insert(len(items) - 1 if items[-1][1] < 0 else len(items),
                     ("ひかり電話 通話料", call_charge(customer.customer_number, month)))
    return tuple(items)


def seed_demo(db, now: datetime | None = None) -> tuple[bulk.CustomerCounts, bulk.StatementCounts]:
    """Upsert the demo customers and replace their statements for the last 12 months, in one transaction."""
    now = (now or datetime.now(TOKYO)).astimezone(TOKYO)
    current = this_month(now)
    customers = [
        bulk.CustomerRecord(
            customer_number=normalize.customer_number(c.customer_number),
            phone=normalize.phone(c.phone),
            name_kana=normalize.kana_name(c.name_kana),
            name=c.name,
            email=c.email,
        )
        for c in DEMO_CUSTOMERS
    ]
    with db.begin() as session:
        customer_counts = bulk.upsert_customers(session, customers, now)
        ids = bulk.customer_ids(session, [c.customer_number for c in customers])
        statements = [
            bulk.StatementRecord(
                customer_id=ids[normalize.customer_number(c.customer_number)],
                billing_month=month,
                items=demo_items(c, month),
                due_date=month.replace(day=DUE_DAY),
                payment_method=c.payment_method,
            )
            for c in DEMO_CUSTOMERS
            for month in demo_months(c, current)
        ]
        statement_counts = bulk.replace_statements(session, statements, now)
    return customer_counts, statement_counts
