"""The load test's database: customers, accounts, LINE links and statements seeded in plain SQL (a
million customers in seconds, not minutes), the names the seeded rows go by, and the query plans
of a bill turn over them.

``bench.load`` seeds the throwaway database (``bench.common``) before ``bench.fleet`` starts the
processes; ``bench.turn`` seeds its own with the same function.
"""

from __future__ import annotations

import time

import psycopg

KANA = "アイコム\u3000タロウ"


def line_user(i: int) -> str:
    return "U" + format(i, "032x")


def customer_number(i: int) -> str:
    return str(10_000_000 + i)


def phone(i: int) -> str:
    return "0748" + format(i % 1_000_000, "06d")


def seed(url: str, first: int, last: int, linked_upto: int, light: bool = False) -> None:
    """Customers ``first..last`` (1-based, inclusive); those up to ``linked_upto`` get an active
    account linked to ``line_user(i)``; every customer gets this month's and last month's
    statement (3 items each) when it is linked, this month's only otherwise. ``light`` (the
    growth rows): this month's statement only, with one item."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    items = "(1, 'ケーブルテレビ 基本料金', 3300)" if light else (
        "(1, 'ケーブルテレビ 基本料金', 3300), (2, 'インターネット 1Gコース', 5170), (3, 'セット割引', -550)")
    previous_upto = first - 1 if light else linked_upto
    sql = f"""
    INSERT INTO customers (id, customer_number, phone, name_kana, name, email, created_at, updated_at)
      SELECT i, (10000000 + i)::text, '0748' || lpad((i % 1000000)::text, 6, '0'), '{KANA}', NULL, NULL, now(), now()
      FROM generate_series({first}, {last}) AS i;
    INSERT INTO statements (id, customer_id, billing_month, due_date, payment_method, total, imported_at)
      SELECT i * 2, i, date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo')::date,
             (date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') + interval '26 days')::date,
             '口座振替', 8470 + (i % 7) * 110, now()
      FROM generate_series({first}, {last}) AS i;
    INSERT INTO statements (id, customer_id, billing_month, due_date, payment_method, total, imported_at)
      SELECT i * 2 + 1, i, (date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') - interval '1 month')::date,
             (date_trunc('month', now() AT TIME ZONE 'Asia/Tokyo') - interval '4 days')::date,
             '口座振替', 8470, now()
      FROM generate_series({first}, LEAST({last}, {previous_upto})) AS i;
    INSERT INTO statement_items (statement_id, position, name, amount)
      SELECT s.id, p.position, p.name, p.amount FROM statements s
      CROSS JOIN (VALUES {items}) AS p(position, name, amount)
      WHERE s.customer_id BETWEEN {first} AND {last};
    INSERT INTO accounts (id, customer_id, login_id, login_id_key, email, nickname, password_hash, status,
                          session_version, created_at, activated_at)
      SELECT i, i, 'bench_' || i, 'bench_' || i, 'bench' || i || '@example.jp', 'ベンチ', 'x', 'active', 1, now(), now()
      FROM generate_series({first}, LEAST({last}, {linked_upto})) AS i;
    INSERT INTO line_links (account_id, line_user_id, notices_enabled, linked_at)
      SELECT i, 'U' || lpad(to_hex(i), 32, '0'), true, now()
      FROM generate_series({first}, LEAST({last}, {linked_upto})) AS i;
    """
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)
        for table in ("customers", "statements", "statement_items", "accounts", "line_links"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.execute("ANALYZE")


def plans(url: str, user_id: str) -> list[str]:
    """EXPLAIN of the statements a bill turn and a verification run: the turn's own SQL
    (``storage.bills``, ``storage.handoffs``, as compiled for PostgreSQL), and the customer
    lookup of the verification."""
    from sqlalchemy.dialects import postgresql

    from storage import bills, handoffs

    def compiled(prepared) -> str:
        return str(prepared.statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": False}))

    month = time.strftime("%Y-%m-01")
    queries = [
        ("open handoff (every message)", compiled(handoffs._OPEN_ID_LOCKED), {"u": user_id}),
        ("linked account + statement + items (one query)", compiled(bills._LINKED_BILL),
         {"line_user_id": user_id, "month": month}),
        ("customer by number (verification)", "SELECT * FROM customers WHERE customer_number = %(n)s",
         {"n": "10000500"}),
    ]
    out = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for label, query, params in queries:
            rows = conn.execute("EXPLAIN " + query, params).fetchall()
            nodes = [r[0].strip() for r in rows if "Scan" in r[0] or "Join" in r[0] or "Loop" in r[0]]
            out.append(f"{label}: " + " / ".join(nodes or [rows[0][0].strip()]))
    return out
