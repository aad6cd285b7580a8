"""The Reports page in a real browser: a supervisor picks a day of recorded calls and sees the
charts drawn (SVG pictures from the console's own origin, none blocked by its CSP)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from queues.records import jobs
from tests.fixtures.browser import served
from tests.fixtures.ops import PASSWORD, Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def base_url(app, monkeypatch) -> Iterator[str]:
    """The app served on a free port in a thread, its records in the var dir's SQLite file."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with served(app) as url:
        yield url


def record_day() -> None:
    """Six labor calls on 2 March 2026, one every hour from 9:00, each answered after 10 s."""
    store = jobs.store()
    for hour in range(9, 15):
        at = datetime(2026, 3, 2, hour, tzinfo=ZONE).timestamp()
        row = dict(call_sid=f"B{hour}", arrived_at=at, area="labor", agent="n1", queued_at=at)
        row.update(answered_at=at + 10, wait_s=10.0, talk_s=200.0)
        store.put_call(row, now=at)


def test_a_supervisor_sees_the_day_s_charts(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    record_day()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{base_url}/ops/login")
    page.fill("input[name=name]", "sam")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button")
    expect(page.locator(".who")).to_contain_text("sam")

    page.click("nav >> text=报表")
    form = page.locator("#report-form")
    form.locator("input[name=from]").fill("2026-03-02")
    form.locator("input[name=to]").fill("2026-03-02")
    form.locator("select[name=by]").select_option("hour")
    form.locator("button").click()
    expect(
        page.locator('tr[data-bucket="2026-03-02 09:00"] [data-figure="answered"]')
    ).to_have_text("1")
    expect(page.locator('[data-table="total"] [data-figure="offered"]')).to_have_text("6")
    for name in ("volume", "service"):
        chart = page.locator(f'img[data-chart="{name}"]')
        expect(chart).to_be_visible()
        # Decoded as a picture: a blocked or broken image has no natural width.
        page.wait_for_function(
            "name => { const i = document.querySelector(`img[data-chart=${name}]`);"
            " return i.complete && i.naturalWidth > 0; }",
            arg=name,
        )
    assert refused == []
    page.screenshot(path=str(shots / "ops-reports.png"), full_page=True)
