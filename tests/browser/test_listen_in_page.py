"""The wallboard's listen-in in Chromium: a supervisor starts listening to a live call, switches
to coaching once their phone has answered, and leaves; the stand-in's conference follows."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from ops import listen_in as console
from tests.fixtures.browser import opened, served, sign_in
from tests.fixtures.jobs import run_jobs
from tests.fixtures.listen_in import CALL, Line, audit_of, line, user
from tests.fixtures.waits import poll

pytestmark = pytest.mark.redis
__all__ = ["line"]


def test_a_supervisor_listens_switches_to_coach_and_leaves_from_the_wallboard(
    browser: Browser, app, redis, line: Line, shots: Path
) -> None:
    # The page looks for changes every 200 ms rather than every few seconds.
    app.config["OPS_POLL_MS"] = 200
    user(app, redis, "wu", "supervisor")
    with served(app) as base, opened(browser, locale="en-GB") as page:
        sign_in(page, base, "wu")
        page.goto(f"{base}/ops/wallboard")
        row = page.locator(f'tr[data-call="{CALL}"]')
        expect(row).to_contain_text("Agent Li")

        row.locator('button[data-mode="listen"]').click()
        expect(page.locator(".flash.ok")).to_contain_text("Your phone is ringing")
        expect(row.locator("[data-li-state]")).to_have_attribute("data-li-state", "ringing")
        run_jobs(redis, "dispatch")
        assert line.supervisor_in().muted is True
        # The supervisor answers: the page redraws itself with the modes to switch to.
        line.leg_reports("in-progress")
        expect(row.locator("[data-li-state]")).to_have_attribute("data-li-state", "on")
        expect(row.locator('button[data-mode="listen"]')).to_be_disabled()
        page.screenshot(path=str(shots / "wallboard-listen-in.png"), full_page=True)

        row.locator('button[data-mode="coach"]').click()
        expect(row.locator("[data-li-state]")).to_have_attribute("data-li-mode", "coach")
        run_jobs(redis, "dispatch")
        coach = line.participants()["listen-in"]
        assert (coach.coaching, coach.call_sid_to_coach) == (True, line.agent_leg)

        row.locator("button[data-leave]").click()
        expect(page.locator(".flash.ok")).to_contain_text("You left the call")
        expect(row.locator("[data-li-state]")).to_have_attribute("data-li-state", "ended")
        # Free to join again.
        expect(row.locator('button[data-mode="barge"]')).to_be_enabled()
        run_jobs(redis, "dispatch")
        poll(lambda: "listen-in" not in line.participants(), 10, "the supervisor to be dropped")

    assert [action for _, action, _, _, _ in audit_of(redis)] == [
        "listen-in.start",
        "listen-in.mode",
        "listen-in.end",
    ]


def test_a_start_answered_after_the_page_has_polled_still_tells_the_supervisor(
    browser: Browser, app, redis, line: Line, monkeypatch
) -> None:
    """On a loaded machine the start's answer comes after the page's next poll, which already
    sees the call ringing: the page must not reload under the form and lose the answer."""
    app.config["OPS_POLL_MS"] = 200
    user(app, redis, "wu", "supervisor")
    real_start = console.start

    def slow_start(*args, **kwargs):
        session = real_start(*args, **kwargs)
        # A slow answer, not a wait for anything: five of the page's polls go by meanwhile.
        threading.Event().wait(1.0)
        return session

    monkeypatch.setattr(console, "start", slow_start)
    with served(app) as base, opened(browser, locale="en-GB") as page:
        sign_in(page, base, "wu")
        page.goto(f"{base}/ops/wallboard")
        row = page.locator(f'tr[data-call="{CALL}"]')
        expect(row).to_contain_text("Agent Li")

        row.locator('button[data-mode="listen"]').click()
        expect(page.locator(".flash.ok")).to_contain_text("Your phone is ringing")
        expect(row.locator("[data-li-state]")).to_have_attribute("data-li-state", "ringing")
