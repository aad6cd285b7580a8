"""The console's Reports page: figures from the durable call records for ops and supervisors,
its charts as SVG pictures from the console's own origin, the CSV download and the API; agents
are refused."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from queues.records import jobs
from tests.fixtures.ops import Hotline, hotline_fixture, sign_in  # noqa: F401

pytestmark = pytest.mark.redis

ZONE = ZoneInfo("Asia/Shanghai")
DAY = "from=2026-03-02&to=2026-03-02"
SVG = "{http://www.w3.org/2000/svg}"


def at(hour: int, minute: int = 0) -> float:
    """An instant of 2 March 2026 in Beijing time."""
    return datetime(2026, 3, 2, hour, minute, tzinfo=ZONE).timestamp()


@pytest.fixture
def recorded(app, hotline, monkeypatch):
    """Three calls on 2 March 2026 in the app's records: two answered by n1 at 9, one abandoned."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store = jobs.store()
    rows = [
        dict(call_sid="R1", arrived_at=at(9), area="labor", agent="n1", queued_at=at(9),
             answered_at=at(9) + 12, wait_s=12.0, talk_s=300.0, wrap_up_s=60.0, rating=1),
        dict(call_sid="R2", arrived_at=at(9, 20), area="labor", agent="n1", queued_at=at(9, 20),
             answered_at=at(9, 21), wait_s=60.0, talk_s=100.0),
        dict(call_sid="R3", arrived_at=at(14), area="family", outcome="abandoned",
             queued_at=at(14), wait_s=40.0),
    ]  # fmt: skip
    for row in rows:
        store.put_call(row, now=row["arrived_at"])
    return store


class Page(HTMLParser):
    """The figures' cells (table, bucket or agent, figure) and the chart images of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.cells: dict[tuple[str, str, str], str] = {}
        self.images: list[str] = []
        self.links: list[str] = []
        self._table = self._row = self._figure = ""
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("data-table", "")
        elif tag == "tr":
            self._row = found.get("data-bucket") or found.get("data-agent") or ""
        elif tag == "td" and "data-figure" in found:
            self._figure = found["data-figure"]
        elif tag == "img" and "data-chart" in found:
            self.images.append(found["src"])
        elif tag == "a" and found.get("data-export") == "csv":
            self.links.append(found["href"])

    def handle_data(self, data):
        if self._figure:
            self.cells[(self._table, self._row, self._figure)] = data.strip()

    def handle_endtag(self, tag):
        if tag == "td":
            self._figure = ""


def test_a_supervisor_sees_the_day_s_figures_and_its_charts(app, recorded):
    session = sign_in(app, "sam")
    answer = session.get(f"/ops/reports?{DAY}&by=hour")
    assert answer.status_code == 200
    page = Page(answer.get_data(as_text=True))
    nine = ("buckets", "2026-03-02 09:00")
    assert (page.cells[(*nine, "offered")], page.cells[(*nine, "answered")]) == ("2", "2")
    # Of two offered at 9, R1 (12 s) within 20 s and R2 (60 s) not.
    assert page.cells[(*nine, "service_level")] == "50.0 %"
    assert page.cells[("buckets", "2026-03-02 14:00", "abandoned")] == "1"
    assert page.cells[("agents", "n1", "handled")] == "2"
    # Busy 460 s with no available interval recorded: occupancy not known.
    assert page.cells[("agents", "n1", "occupancy")] == "—"
    assert page.cells[("total", "", "asa_s")] == "36.0"
    assert len(page.images) == 2
    for src in page.images:
        assert src.startswith("/ops/reports/")  # same origin: no CDN
        picture = session.get(src)
        assert picture.status_code == 200 and picture.mimetype == "image/svg+xml"
        svg = ET.fromstring(picture.get_data())
        assert svg.tag == f"{SVG}svg"
        assert svg.findall(f".//{SVG}rect[@class='bar']")
    volume = ET.fromstring(session.get(page.images[0]).get_data())
    tips = [r.find(f"{SVG}title").text for r in volume.findall(f".//{SVG}rect[@class='bar']")]
    assert "2026-03-02 09:00 · 进入队列: 2" in tips and "2026-03-02 14:00 · 进入队列: 1" in tips


def test_the_csv_download_has_a_bom_and_the_figures(app, recorded):
    session = sign_in(app, "olga")
    page = Page(session.get(f"/ops/reports?{DAY}&by=area").get_data(as_text=True))
    answer = session.get(page.links[0])
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "attachment" in answer.headers["Content-Disposition"]
    raw = answer.get_data()
    assert raw.startswith("\ufeff".encode())
    rows = {r["bucket"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    assert set(rows) == {"family", "labor", "total"}
    assert (rows["labor"]["offered"], rows["family"]["abandoned"]) == ("2", "1")


def test_the_api_answers_json_and_csv(app, recorded):
    session = sign_in(app, "sam")
    found = session.get(f"/api/v1/reports?{DAY}&area=labor").json
    assert (found["by"], found["area"], found["total"]["answered"]) == ("day", "labor", 2)
    assert found["buckets"] == [{"bucket": "2026-03-02", **found["total"]}]
    assert found["agents"][0]["agent"] == "n1" and found["agents"][0]["talk_s"] == 400.0
    csv_answer = session.get(f"/api/v1/reports?{DAY}&format=csv")
    assert csv_answer.get_data().startswith("\ufeff".encode())


def test_bad_queries_are_refused(app, recorded):
    session = sign_in(app, "sam")
    for query in ("from=yesterday", "from=2026-03-05&to=2026-03-01", "area=tax", "by=minute"):
        assert session.get(f"/api/v1/reports?{query}").status_code == 422, query
    assert session.get("/ops/reports/pie.svg").status_code in (400, 422)


def test_an_agent_is_refused_the_page_the_chart_and_the_api(app, recorded):
    agent = sign_in(app, "wang")
    for path in ("/ops/reports", "/ops/reports/volume.svg", "/ops/reports/export.csv"):
        assert agent.get(f"{path}?{DAY}").status_code == 403, path
    assert agent.get(f"/api/v1/reports?{DAY}").status_code == 403
