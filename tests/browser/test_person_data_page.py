"""A person's data in Chromium: a supervisor puts a crisis incident under legal hold from the
incidents page, downloads everything kept about the caller's number, then erases it; the page
shows what was erased and the held incident kept, and the number never reaches a URL."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from queues.audit import AuditLog
from queues.calls import CallStore
from queues.incidents import IncidentLog
from queues.notes import CallNotes
from tests.fixtures.browser import opened, served, sign_in
from tests.fixtures.ops import Hotline, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis

NUMBER = "+8613800004321"
TALKED = "CA" + "1" * 32
CRISIS = "CA" + "2" * 32
NOTE = "工资被拖欠三个月"


def test_a_supervisor_holds_an_incident_exports_and_erases_a_number(
    browser: Browser, app, hotline: Hotline, redis, shots: Path
) -> None:
    calls = CallStore(redis)
    calls.start(TALKED, NUMBER)
    calls.update(TALKED, area="labor", language="zh", summary="拖欠工资")
    CallNotes(redis).write(TALKED, "d1", NOTE, hotline.now)
    calls.start(CRISIS, NUMBER)
    IncidentLog(redis).open(
        CRISIS, trigger="words", language="zh", said="不想活了", now=hotline.now
    )
    seen: list[str] = []
    with served(app) as base, opened(browser, locale="en-GB") as page:
        page.on("request", lambda request: seen.append(request.url))
        sign_in(page, base, "sam")

        page.goto(f"{base}/ops/incidents")
        row = page.locator(f'tr[data-incident="{CRISIS}"]')
        row.locator("input[name=reason]").fill("Court order (2026) 01")
        row.get_by_role("button", name="Put under legal hold").click()
        expect(page.locator(".flash.ok")).to_contain_text("under legal hold")
        expect(row.locator("[data-hold]")).to_contain_text("Court order (2026) 01")

        page.get_by_role("link", name="Person's data").click()
        export = page.locator("#export")
        export.locator("input[name=number]").fill(NUMBER)
        export.locator("input[name=reason]").fill("Request of 2026-12-01, ref 7")
        with page.expect_download() as download:
            export.get_by_role("button", name="Export (zip)").click()
        archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
        manifest = json.loads(archive.read("manifest.json"))
        assert set(manifest["calls"]) == {TALKED, CRISIS}
        assert [note["note"] for note in manifest["places"]["notes"]] == [NOTE]
        assert download.value.suggested_filename.startswith("person-data-4321-")

        erase = page.locator("#erase")
        erase.locator("input[name=number]").fill(NUMBER)
        erase.locator("input[name=reason]").fill("Request of 2026-12-01, ref 7")
        erase.locator("input[name=confirm]").fill("4321")
        erase.get_by_role("button", name="Erase everything about this number").click()
        result = page.locator("#erasure")
        expect(result).to_have_attribute("data-complete", "yes")
        expect(result.locator('tr[data-place="notes"] td').nth(1)).to_have_text("1")
        expect(result.locator("#kept")).to_contain_text(f"kept: incident {CRISIS} under legal hold")
        page.screenshot(path=str(shots / "ops-person-data.png"), full_page=True)

    assert calls.get(TALKED) is None and CallNotes(redis).get(TALKED).note == ""
    assert IncidentLog(redis).get(CRISIS) is not None
    assert not [url for url in seen if "4321" in url or "13800" in url]
    actions = [entry.action for entry in AuditLog(redis).recent()]
    assert actions[:3] == ["person.erase", "person.export", "incident.hold"]
