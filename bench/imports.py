"""``python -m bench import``: time a 100,000-row statement import on a throwaway PostgreSQL database.

Generates a customer file and a statement file (one line item per row) in a temporary
folder, creates a fresh database (dropped afterwards, like the tests do), migrates it,
then times through the real ``flask import-…`` commands:

- importing the customers,
- the first statement import (all statements new) and a re-import (all replaced),

against two baselines measured in the same run on the same rows:

- parse+check: reading and checking the statement file without touching the database
  (the floor any import pays);
- raw executemany: psycopg's own ``executemany`` of the same number of item rows into
  a scratch table (what a hand-written loader without ``COPY`` would cost).

Nothing is asserted: the numbers are for reading (``ratio`` = import time / baseline time).
"""

from __future__ import annotations

import argparse
import csv
import logging
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from bench.common import throwaway_database

ITEMS = (("ケーブルテレビ 基本料金", 3300), ("インターネット 1Gコース", 5170), ("ひかり電話 基本料", 550),
         ("機器レンタル料", 550), ("セット割引", -550))


def write_files(folder: Path, rows: int, months: int) -> tuple[Path, Path, int]:
    """A customer file and a statement file of ``rows`` item rows; returns paths and customer count."""
    per_customer = months * len(ITEMS)
    customer_count = -(-rows // per_customer)
    customers = folder / "customers.csv"
    statements = folder / "statements.csv"
    with open(customers, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["customer_number", "phone", "name_kana", "name", "email"])
        for n in range(customer_count):
            writer.writerow([f"{10_000_000 + n}", f"0748-{60 + n % 30}-{n % 10_000:04d}", "アイコム　タロウ",
                             "相混 太郎", f"user{n}@example.jp"])
    with open(statements, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["customer_number", "billing_month", "item", "amount", "due_date", "payment_method"])
        written = 0
        for n in range(customer_count):
            for month in range(1, months + 1):
                for item, amount in ITEMS:
                    if written == rows:
                        break
                    writer.writerow([f"{10_000_000 + n}", f"2026-{month:02d}", item, f"{amount}",
                                     f"2026-{month:02d}-27", "口座振替"])
                    written += 1
    return customers, statements, customer_count


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def raw_executemany(url: str, rows: int) -> float:
    """Seconds for psycopg ``executemany`` of ``rows`` item-like rows into a scratch table."""
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    params = [(n // 5 + 1, n % 5 + 1, ITEMS[n % 5][0], ITEMS[n % 5][1]) for n in range(rows)]
    with psycopg.connect(plain) as conn:
        conn.execute("CREATE TABLE bench_items (id serial PRIMARY KEY, statement_id int NOT NULL, "
                     "position int NOT NULL, name varchar(100) NOT NULL, amount bigint NOT NULL)")
        start = time.perf_counter()
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO bench_items (statement_id, position, name, amount) VALUES (%s, %s, %s, %s)",
                            params)
        conn.commit()
        elapsed = time.perf_counter() - start
        conn.execute("DROP TABLE bench_items")
        conn.commit()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench import", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="statement item rows (default 100,000)")
    parser.add_argument("--months", type=int, default=2, help="months per customer (default 2)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("storage.redis_client").setLevel(logging.ERROR)  # the in-process Redis stand-in is fine here
    from app import create_app
    from handlers.cli import csv_rows

    with tempfile.TemporaryDirectory(prefix="aicom-bench-") as tmp, throwaway_database() as url:
        customers_csv, statements_csv, customer_count = write_files(Path(tmp), args.rows, args.months)
        app = create_app({
            "DATABASE_URL": url, "REDIS_URL": None, "SECRET_KEY": secrets.token_hex(16),
            "LINE_CHANNEL_SECRET": "bench", "LINE_CHANNEL_ACCESS_TOKEN": "bench", "EMULATOR": False,
            "SMTP_URL": "smtp://127.0.0.1:25",
        })
        logging.getLogger().setLevel(logging.WARNING)
        runner = app.test_cli_runner()

        def command(*arguments: str):
            result = runner.invoke(args=list(arguments))
            if result.exit_code != 0:
                raise SystemExit(f"bench: {' '.join(arguments[:1])} failed:\n{result.output}")
            return result.stdout.strip()

        print(f"PostgreSQL, {args.rows:,} statement rows for {customer_count:,} customers × {args.months} months")
        results: list[tuple[str, int, float, str]] = []
        seconds, out = timed(lambda: command("import-customers", str(customers_csv)))
        results.append(("import-customers", customer_count, seconds, out))
        seconds, out = timed(lambda: command("import-statements", str(statements_csv)))
        results.append(("import-statements (new)", args.rows, seconds, out))
        first_import = seconds
        seconds, out = timed(lambda: command("import-statements", str(statements_csv)))
        results.append(("import-statements (re-import)", args.rows, seconds, out))
        reimport = seconds
        parse_seconds, checked = timed(lambda: csv_rows.read_statements(statements_csv))
        assert not checked.errors
        results.append(("baseline: parse+check only", args.rows, parse_seconds, "no database"))
        raw_seconds = raw_executemany(url, args.rows)
        results.append(("baseline: raw executemany", args.rows, raw_seconds, "psycopg, items only"))
        app.extensions["db"].engine.dispose()

    width = max(len(label) for label, *_ in results)
    for label, count, seconds, out in results:
        print(f"  {label:<{width}}  {seconds:7.2f} s  {count / seconds:>10,.0f} rows/s   {out}")
    print(f"ratio vs baseline (parse+check):    new {first_import / parse_seconds:.2f}x, "
          f"re-import {reimport / parse_seconds:.2f}x")
    print(f"ratio vs baseline (raw executemany): new {first_import / raw_seconds:.2f}x, "
          f"re-import {reimport / raw_seconds:.2f}x")
    return 0

