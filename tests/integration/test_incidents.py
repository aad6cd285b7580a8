"""Crisis incident records: opened once per call, every step appended, exported whole."""

from __future__ import annotations

import csv
import io
import json

import pytest

from queues.incidents import IncidentLog, export
from tests.fixtures.twiml import Doc

pytestmark = pytest.mark.redis

CALL = "CA" + "1" * 32


def test_danger_key_opens_an_incident_with_the_line_rung(app, twilio, redis):
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    incident = IncidentLog(redis).get(CALL)
    assert incident is not None
    kinds = [step["kind"] for step in incident.steps]
    assert kinds == ["opened", "rung"]
    assert incident.steps[0]["trigger"] == "danger_key"
    assert incident.steps[1]["target"] == app.config["HOTLINE"].crisis.numbers["zh"]


def test_words_rollover_and_outcome_are_recorded(app, twilio, redis):
    twilio.post("/voice/area?lang=en&t=1", {"SpeechResult": "I took all my pills"})
    twilio.post("/voice/crisis/next?lang=en&n=0", {"DialCallStatus": "busy"})
    twilio.post("/voice/crisis/next?lang=en&n=1", {"DialCallStatus": "no-answer"})
    summary = IncidentLog(redis).get(CALL).summary()
    crisis = app.config["HOTLINE"].crisis
    assert summary["trigger"] == "crisis_words"
    assert summary["said"] == "I took all my pills"
    assert summary["rung"] == f"{crisis.numbers['en']} | {crisis.fallback}"
    assert summary["rollover"] is True
    assert summary["outcome"] == "numbers_given"
    assert summary["answered_by"] == ""


def test_answered_crisis_line_closes_the_incident(app, twilio, redis):
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    twilio.post(
        "/voice/crisis/next?lang=zh&n=0", {"DialCallStatus": "completed", "DialCallDuration": "300"}
    )
    summary = IncidentLog(redis).get(CALL).summary()
    assert summary["answered_by"] == app.config["HOTLINE"].crisis.numbers["zh"]
    assert summary["outcome"] == "crisis_line"


def test_a_repeated_trigger_does_not_open_a_second_incident(app, twilio, redis):
    twilio.post("/voice/language?t=1", {"Digits": "9"})
    twilio.post("/voice/crisis?lang=zh&why=danger_key")
    log = IncidentLog(redis)
    assert len(log.between(0, 4e9)) == 1
    assert [s["kind"] for s in log.get(CALL).steps].count("opened") == 1


def test_export_as_csv_and_json_within_a_time_range(redis):
    log = IncidentLog(redis)
    log.open("CA-early", trigger="danger_key", language="zh", now=1000.0)
    log.open("CA-late", trigger="crisis_words", language="en", said="kill myself", now=2000.0)
    log.step("CA-late", "closed", outcome="crisis_line", now=2060.0)
    chosen = log.between(1500.0, 2500.0)
    rows = list(csv.DictReader(io.StringIO(export(chosen, "csv"))))
    assert [row["call_sid"] for row in rows] == ["CA-late"]
    assert rows[0]["duration_s"] == "60.0" and rows[0]["outcome"] == "crisis_line"
    data = json.loads(export(chosen, "json"))
    assert data[0]["said"] == "kill myself"
    assert [s["kind"] for s in data[0]["steps"]] == ["opened", "closed"]


def test_crisis_with_redis_down_still_dials(app_env, clock, hotline_config):
    from hotline.app import create_app
    from tests.fixtures.app import Twilio

    app_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app({"TESTING": True, "CLOCK": clock, "HOTLINE": hotline_config})
    doc = Doc.parse(Twilio(app.test_client()).post("/voice/language?t=1", {"Digits": "9"}))
    assert doc.first("Number").text == hotline_config.crisis.numbers["zh"]
    # Nobody can be looked up: no calm words first, the line is dialled at once.
    assert doc.verbs() == ["Dial"]


class BrokenLog:
    """An incident log whose storage fails in a way the crisis path does not expect."""

    def open(self, *args, **kwargs):
        raise RuntimeError("incident storage failed")

    step = open


def test_a_failure_on_the_crisis_path_still_dials_the_crisis_lines(app, twilio, hotline_config):
    app.extensions["hotline"].incidents = BrokenLog()
    doc = Doc.parse(twilio.post("/voice/crisis?lang=en&why=danger_key"))
    numbers = [number.text for number in doc.all("Number")]
    assert numbers == list(hotline_config.crisis.lines_for("en"))
    for element in doc.root.iter():
        assert "action" not in element.attrib
