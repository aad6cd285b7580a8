"""GET /metrics: Prometheus' text format, moving as calls come and go, never shown to the public,
and summed over processes in multiprocess mode."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from hotline.metrics_dir import prepare_multiprocess_dir
from queues import metrics as call_metrics
from queues.agents import AgentBoard
from queues.waiting import LEAVE_OUTCOMES
from routing.roster import parse_roster
from tests.fixtures.app import AREAS, REPO, Twilio
from tests.fixtures.rosters import COVERED
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}
TOKEN = "s3cret-scrape-token"
CALLER = "+8613812345678"
METRIC = re.compile(r"\bhotline_[a-z_]+")


def scrape(client, environ=None, headers=None) -> dict[tuple[str, tuple], float]:
    """Read /metrics as Prometheus would: every sample by name and labels."""
    response = client.get("/metrics", environ_base=environ or LOOPBACK, headers=headers)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    """One sample's value, 0 when it has not appeared yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_call_placed_and_abandoned_moves_the_metrics(app, twilio: Twilio):
    client = twilio.client
    before = scrape(client)
    twilio.post("/voice", {"CallStatus": "ringing"})
    queued = Doc.parse(twilio.post("/voice/intake?lang=en&area=labor&q=1&a=2&t=1", {"Digits": "2"}))
    assert queued.first("Enqueue").text == "labor"
    waiting = scrape(client)
    assert value(waiting, "hotline_calls_incoming_total") == (
        value(before, "hotline_calls_incoming_total") + 1
    )
    assert value(waiting, "hotline_waiting_callers", area="labor", language="en") == 1
    assert value(waiting, "hotline_waiting_callers", area="family", language="en") == 0
    assert value(waiting, "hotline_redis_up") == 1
    intake = {"endpoint": "voice.intake"}
    assert value(waiting, "hotline_webhook_seconds_count", **intake) == (
        value(before, "hotline_webhook_seconds_count", **intake) + 1
    )

    twilio.post("/voice/queue-result?lang=en&area=labor", {"QueueResult": "hangup"})
    after = scrape(client)
    gone = {"area": "labor", "outcome": "abandoned"}
    assert value(after, "hotline_calls_total", **gone) == (
        value(before, "hotline_calls_total", **gone) + 1
    )
    assert value(after, "hotline_wait_seconds_count", **gone) == (
        value(before, "hotline_wait_seconds_count", **gone) + 1
    )
    assert value(after, "hotline_waiting_callers", area="labor", language="en") == 0
    # No call SID or number is ever a label.
    labels = " ".join(str(key) for key in after)
    assert "CA" + "1" * 32 not in labels and CALLER not in labels


def test_agents_and_job_queues_are_read_from_redis_at_scrape(twilio, redis, clock, hotline_config):
    roster = parse_roster(COVERED, source="r.yaml", area_ids=AREAS, languages=["zh", "en"])
    board = AgentBoard(redis, hotline_config.routing)
    board.import_roster(roster, clock().timestamp() - 10)
    board.set_presence(roster.agents[0].id, "available", clock().timestamp())
    samples = scrape(twilio.client)
    assert value(samples, "hotline_agents", state="available") == 1
    assert value(samples, "hotline_agents", state="offline") == len(roster.agents) - 1
    for queue in ("crisis", "dispatch", "voicemail", "default"):
        assert ("hotline_job_queue_depth", (("queue", queue),)) in samples


def test_outcomes_cover_every_way_of_leaving_the_waiting_room():
    assert set(LEAVE_OUTCOMES) | {"answered"} == set(call_metrics.OUTCOMES)


def test_refused_from_outside_without_the_token_allowed_with_it(app, monkeypatch):
    client = app.test_client()
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 404
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)
    assert client.get("/metrics", environ_base=OUTSIDE).status_code == 404
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", environ_base=OUTSIDE, headers=wrong).status_code == 404
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    samples = scrape(client, OUTSIDE, bearer)
    assert value(samples, "hotline_redis_up") == 1


def test_loopback_through_a_proxy_is_not_loopback(app, monkeypatch):
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    client = app.test_client()
    forwarded = {"X-Forwarded-For": "198.51.100.2"}
    response = client.get("/metrics", environ_base=LOOPBACK, headers=forwarded)
    assert response.status_code == 404
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_redis_down_is_a_gauge_not_a_5xx(app_without_redis_metrics):
    samples = scrape(app_without_redis_metrics.test_client())
    assert value(samples, "hotline_redis_up") == 0
    assert not any(name == "hotline_waiting_callers" for name, _ in samples)


@pytest.fixture
def app_without_redis_metrics(app_env, clock, hotline_config):
    """The app on a Redis URL nothing answers."""
    from hotline.app import create_app

    app_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    return create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})


INCREMENT = """
from telephony.gateway import GatewayError, _counted
from queues import metrics
metrics.CALLS.labels("labor", "answered").inc()
_counted(GatewayError("down", status=503))
"""


def test_multiprocess_mode_sums_the_processes(tmp_path):
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    # Two processes at once, as two gunicorn workers are.
    running = [subprocess.Popen([sys.executable, "-c", INCREMENT], env=env) for _ in range(2)]
    assert [process.wait(timeout=60) for process in running] == [0, 0]
    assert len(list(tmp_path.glob("counter_*.db"))) == 2
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    answered = {"area": "labor", "outcome": "answered"}
    assert registry.get_sample_value("hotline_calls_total", answered) == 2
    assert registry.get_sample_value("hotline_twilio_rest_errors_total", {"status": "503"}) == 2


def test_the_dashboard_and_the_docs_name_only_metrics_the_hotline_serves(app):
    response = app.test_client().get("/metrics", environ_base=LOOPBACK)
    served = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    dashboard = (REPO / "docs" / "grafana-dashboard.json").read_text(encoding="utf-8")
    docs = (REPO / "docs" / "observability.md").read_text(encoding="utf-8")
    charted = {re.sub(r"_(bucket|total)$", "", name) for name in METRIC.findall(dashboard)}
    assert charted and charted <= served
    hotline_served = {name for name in served if name.startswith("hotline_")}
    documented = {re.sub(r"_total$", "", name) for name in METRIC.findall(docs)}
    assert hotline_served <= documented


def test_the_metrics_directory_is_emptied_of_an_earlier_runs_files_only(tmp_path):
    directory = tmp_path / "var" / "prometheus"
    directory.mkdir(parents=True)
    (directory / "counter_4242.db").write_bytes(b"old counts")
    (directory / "notes.txt").write_text("not prometheus-client's")
    assert prepare_multiprocess_dir(directory) == directory
    assert sorted(path.name for path in directory.iterdir()) == ["notes.txt"]
    assert prepare_multiprocess_dir(tmp_path / "fresh").is_dir()
