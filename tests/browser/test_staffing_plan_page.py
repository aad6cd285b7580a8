"""The coverage page's staffing plan in a real browser: an ops user picks an area and a week and
sees the half-hours short of agents marked, by colour and in words."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from queues.records import jobs
from tests.fixtures.browser import opened, served, sign_in
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401
from tests.fixtures.records import TODAY, seed_records

pytestmark = pytest.mark.redis


@pytest.fixture
def base_url(app, monkeypatch) -> Iterator[str]:
    """The app on a free port, with a fortnight of labor calls in its durable call records."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    var_dir = app.config["SETTINGS"].var_dir
    var_dir.mkdir(parents=True, exist_ok=True)
    seed_records(var_dir, TODAY - timedelta(days=14), 14)
    try:
        with served(app) as url:
            yield url
    finally:
        jobs.install(None)


@pytest.fixture
def page(browser) -> Iterator[Page]:
    with opened(browser, locale="en-GB") as found:
        yield found


def test_ops_user_sees_the_weeks_gaps_against_the_forecast(
    page: Page, base_url: str, hotline: Hotline, shots: Path
):
    sign_in(page, base_url, "olga")
    page.goto(f"{base_url}/ops/coverage")
    form = page.locator("#plan form")
    form.locator("select[name=area]").select_option("labor")
    form.locator("input[name=span][value=week]").check()
    form.locator("button").click()

    grid = page.locator("table.plan")
    expect(grid).to_have_attribute("data-span", "week")
    expect(grid.locator("thead th")).to_have_count(1 + 7)
    expect(page.locator("[data-plan-source]")).to_contain_text("the durable call records")
    ten = grid.locator('td[data-slot="2026-12-04T10:00:00+08:00"]')
    expect(ten).to_have_class("gap")
    expect(ten.locator(".mark")).to_contain_text("short")
    # Colour too: a gap's cell is not drawn like an ordinary one.
    night = grid.locator('td[data-slot="2026-12-04T03:00:00+08:00"]')
    assert ten.evaluate("c => getComputedStyle(c).backgroundColor") != night.evaluate(
        "c => getComputedStyle(c).backgroundColor"
    )
    page.screenshot(path=str(shots / "ops-staffing-plan.png"), full_page=True)
