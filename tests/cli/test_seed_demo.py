"""`flask seed-demo`: five demo customers and a year of statements, safe to run again."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from bot import demo as demo_data
from bot.demo import DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT, DEMO_CUSTOMERS, TOKYO
from handlers.cli import csv_fields
from storage.models import Customer, Statement, StatementItem


def counts(app) -> tuple[int, int, int]:
    with app.extensions["db"].begin() as session:
        return (session.scalar(select(func.count()).select_from(Customer)),
                session.scalar(select(func.count()).select_from(Statement)),
                session.scalar(select(func.count()).select_from(StatementItem)))


def months_by_customer(app) -> dict[str, list[date]]:
    with app.extensions["db"].begin() as session:
        rows = session.execute(select(Customer.customer_number, Statement.billing_month)
                               .join(Statement.customer).order_by(Statement.billing_month))
        result: dict[str, list[date]] = {}
        for number, month in rows:
            result.setdefault(number, []).append(month)
        return result


def test_seed_twice_is_stable(runner, app):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "5 customers (5 new, 0 updated, 0 unchanged), 60 statements (60 new, 0 replaced)" in first.stdout
    after_first = counts(app)
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0, second.output
    assert "5 customers (0 new, 0 updated, 5 unchanged), 60 statements (0 new, 60 replaced)" in second.stdout
    assert counts(app) == after_first
    assert after_first[:2] == (5, 60)


def test_current_month_present_for_all_but_one(runner, app):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    now = datetime.now(TOKYO)
    current = date(now.year, now.month, 1)
    months = months_by_customer(app)
    assert set(months) == {c.customer_number for c in DEMO_CUSTOMERS}
    for number, seeded in months.items():
        assert len(seeded) == 12
        if number == DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT:
            assert current not in seeded
            assert seeded[-1] == demo_data.months_back(current, 1)
        else:
            assert seeded[-1] == current
            assert seeded[0] == demo_data.months_back(current, 11)


def test_year_wraps_in_january(app):
    demo_data.seed_demo(app.extensions["db"], datetime(2027, 1, 1, 0, 30, tzinfo=TOKYO))
    months = months_by_customer(app)
    assert months["12345678"][0] == date(2026, 2, 1)
    assert months["12345678"][-1] == date(2027, 1, 1)
    assert months[DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT][-1] == date(2026, 12, 1)


def test_tokyo_month_not_utc(app):
    # 2026-11-30 16:00 UTC is already 1 December in Tokyo
    from datetime import UTC

    demo_data.seed_demo(app.extensions["db"], datetime(2026, 11, 30, 16, 0, tzinfo=UTC))
    assert months_by_customer(app)["12345678"][-1] == date(2026, 12, 1)


def test_statements_look_real(app):
    demo_data.seed_demo(app.extensions["db"], datetime(2026, 11, 25, 12, 0, tzinfo=TOKYO))
    with app.extensions["db"].begin() as session:
        for statement in session.scalars(select(Statement)):
            assert statement.total == sum(item.amount for item in statement.items)
            assert statement.due_date == statement.billing_month.replace(day=27)
            assert statement.payment_method in ("口座振替", "クレジットカード")
            assert statement.total > 0
            names = [item.name for item in statement.items]
            assert len(names) == len(set(names))
        taro = session.scalar(select(Customer).where(Customer.customer_number == "12345678"))
        assert (taro.phone, taro.name_kana, taro.email) == ("0748621234", "アイコム\u3000タロウ", "taro@example.jp")
        november = next(s for s in taro.statements if s.billing_month == date(2026, 11, 1))
        assert [i.name for i in november.items][:2] == ["ケーブルテレビ 基本料金", "インターネット 1Gコース"]
        assert ("セット割引", -550) in [(i.name, i.amount) for i in november.items]
        calls = {s.billing_month: next(i.amount for i in s.items if i.name == "ひかり電話 通話料")
                 for s in taro.statements}
        assert len(set(calls.values())) > 1  # call charges vary from month to month


@pytest.mark.parametrize("customer", DEMO_CUSTOMERS, ids=lambda c: c.customer_number)
def test_demo_customers_pass_the_import_checks(customer):
    assert csv_fields.check_customer_number(customer.customer_number) == customer.customer_number
    assert csv_fields.check_phone(customer.phone)
    assert csv_fields.check_name_kana(customer.name_kana) == customer.name_kana
    assert csv_fields.check_email(customer.email) == customer.email
    assert customer.payment_method in ("口座振替", "クレジットカード")


def test_demo_constants():
    numbers = [c.customer_number for c in DEMO_CUSTOMERS]
    assert len(DEMO_CUSTOMERS) == 5 and len(set(numbers)) == 5
    assert DEMO_CUSTOMER_WITHOUT_CURRENT_STATEMENT in numbers
    with pytest.raises(AttributeError):
        DEMO_CUSTOMERS[0].phone = "0"  # frozen


def test_seed_keeps_imported_data_of_others(runner, app, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("customer_number,phone,name_kana\n55555555,0748621111,ヤマダ ハナコ\n", encoding="utf-8")
    assert runner.invoke(args=["import-customers", str(path)]).exit_code == 0
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert counts(app)[0] == 6
