"""The web bill list's bar chart in real Chromium at a phone's width (issue 20, point 9): the SVG's bars
are as long as their share, its labels do not collide, it has an accessible name and readable contrast.
``SAVE_SCREENSHOTS=1`` writes docs/screenshots/bill-chart-web.png; every run writes it under tmp_path.
"""

from __future__ import annotations

import os
import re
from datetime import date

import pytest

from tests.emulator.test_emulator_browser import SCREENSHOTS, browser, live_emulator, page  # noqa: F401 - fixtures
from tests.helpers_billing import PASSWORD, seed_customer_with_account, seed_statement

# 2026-11 .. 2025-12, newest first: a discount month, a zero month, equal months, the largest
TOTALS = [8043, 8100, 9992, 12000, 6000, 3000, 0, 7777, 8043, 8043, -550, 10000]
MONTHS = [date((2026 * 12 + 10 - back) // 12, (10 - back) % 12 + 1, 1) for back in range(12)]


def contrast(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio of two CSS ``rgb(r, g, b)`` colours."""
    def luminance(colour: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture
def bills_page(live_emulator, page):
    """Taro logged in on the web, looking at ご利用料金の一覧."""
    application, base = live_emulator
    seeded = seed_customer_with_account(application, number="99990001", login_id="chart_taro")
    for month, total in zip(MONTHS, TOTALS, strict=True):
        seed_statement(application, seeded.customer_id, month, [("基本料金", total)])
    page.set_viewport_size({"width": 420, "height": 900})
    page.goto(base + "/login")
    page.fill("input[name=account_id]", "chart_taro")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/mypage$"))
    page.goto(base + "/mypage/bills")
    return page


def bar_rows(page) -> list[dict]:
    """Each bar's drawn geometry: its month and amount boxes, its track and its bar."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('svg .bill-chart-bar')).map(g => {
        const [month, amount] = Array.from(g.querySelectorAll('text')).map(t => t.getBoundingClientRect());
        const [track, bar] = Array.from(g.querySelectorAll('rect')).map(r => r.getBoundingClientRect());
        return {month: {left: month.left, right: month.right}, amount: {left: amount.left, right: amount.right},
                track: track.width, bar: bar ? bar.width : 0, texts: Array.from(g.querySelectorAll('text'))
                .map(t => t.textContent)};
    })""")


@pytest.mark.parametrize("width", [420, 320])
def test_the_chart_draws_every_month_to_scale(bills_page, tmp_path, width):
    from playwright.sync_api import expect

    page = bills_page
    page.set_viewport_size({"width": width, "height": 900})
    chart = page.get_by_role("img", name=re.compile(r"ご利用料金の推移（2026年11月〜2025年12月"))
    expect(chart).to_be_visible()
    rows = bar_rows(page)
    assert [r["texts"][0] for r in rows] == [f"{m.year}年{m.month}月" for m in MONTHS]
    assert rows[10]["texts"][1] == "−550円"
    for total, row in zip(TOTALS, rows, strict=True):
        assert abs(row["bar"] - row["track"] * max(total, 0) / max(TOTALS)) < 2, (total, row)
        assert row["month"]["right"] + 8 < row["amount"]["left"], row  # the labels never collide
        assert row["amount"]["right"] <= row["track"] + row["month"]["left"] + 1  # nor leave the chart
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
    if width == 420:
        page.screenshot(path=str(tmp_path / "bill-chart-web.png"), full_page=True)
        if os.environ.get("SAVE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "bill-chart-web.png"), full_page=True)
    assert [p for p in page.problems if p.startswith("page error")] == []  # (the browser's /favicon.ico is a 404)


def test_the_chart_reads_well(bills_page):
    page = bills_page
    background = page.evaluate("""() => { let node = document.querySelector('svg[role=img]');
        while (node && ['rgba(0, 0, 0, 0)', 'transparent'].includes(getComputedStyle(node).backgroundColor))
            node = node.parentElement;
        return getComputedStyle(node || document.body).backgroundColor; }""")
    fills = page.evaluate("""() => ({
        text: Array.from(document.querySelectorAll('svg text')).map(t => getComputedStyle(t).fill),
        bar: Array.from(document.querySelectorAll('svg rect')).filter(r => r.getAttribute('fill') === '#00703c')
             .map(r => getComputedStyle(r).fill)})""")
    assert fills["text"] and fills["bar"]
    assert min(contrast(colour, background) for colour in fills["text"]) >= 4.5  # text: WCAG 1.4.3
    assert min(contrast(colour, background) for colour in fills["bar"]) >= 3  # graphics: WCAG 1.4.11
    assert page.locator("script").count() == 0  # no JavaScript draws it
    # the same months and amounts stay in the table, for anyone who cannot see the chart
    assert page.get_by_role("table").get_by_role("cell", name="−550円").count() == 1


def test_axe_finds_no_wcag_aa_violation_in_the_chart(bills_page):
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(bills_page, context={"include": [[".bill-chart"]]},
                        options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
    assert results.violations_count == 0, results.generate_report()
