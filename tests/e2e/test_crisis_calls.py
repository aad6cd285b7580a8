"""Whole crisis calls through the carrier against real processes (Redis, gunicorn, RQ worker):
an agent answers, agents decline, nobody on shift, the crisis lines busy, Redis killed mid-call,
with the time to a human, the supervisors' SMS and the incident record of each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from queues.embedded import _alive
from queues.incidents import IncidentLog
from queues.sealing import Sealer
from tools.bench_crisis import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    LINE_EN,
    LINE_FALLBACK,
    LINE_ZH,
    SECRET_KEY,
    CrisisRig,
    poll,
    timing,
)

pytestmark = pytest.mark.e2e

SUPERVISOR = "+8613900000301"
DANGER = {"press": "9"}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrisisRig]:
    """The hotline's processes and the carrier; every process and Redis stopped afterwards."""
    running = CrisisRig(Path(tmp_path_factory.mktemp("crisis"))).start()
    pids = [process.pid for process in running.processes.values()] + [running.redis.pid]
    try:
        yield running
    finally:
        running.stop()
        assert [pid for pid in pids if pid and _alive(pid)] == []


def incident(rig: CrisisRig, call_sid: str) -> dict[str, Any]:
    """The incident's summary, once the call's last step has been written."""
    with rig.client() as redis:
        # The words are sealed under the rig's secret.
        log = IncidentLog(redis, sealer=Sealer(SECRET_KEY))
        found = poll(
            lambda: (i := log.get(call_sid)) and i.summary()["outcome"] != "open" and i,
            10,
            "the incident to close",
        )
        return found.summary()


def crisis_pages(rig: CrisisRig) -> list[dict[str, str]]:
    """The supervisors' SMS about crisis calls (the self-check pages standing conditions too)."""
    return [message for message in rig.messages() if "Crisis call" in message["body"]]


def paged(rig: CrisisRig, count: int) -> list[dict[str, str]]:
    """The supervisors' crisis SMS, once there are at least `count`."""
    return poll(lambda: (sent := crisis_pages(rig)) and len(sent) >= count and sent, 10, "an SMS")


def test_a_free_crisis_agent_answers_within_seconds(rig: CrisisRig) -> None:
    rig.available("taker")
    transcript = rig.call(DANGER, hangup_after=60)

    outcome = transcript["outcome"]
    assert [b["name"] for b in outcome["bridged_to"]] == ["Agent Lin"]
    figures = timing(rig, transcript)
    # The agent's phone rang after the calm words and was answered after its ring; how fast
    # that is on this machine is `hotline bench crisis`'s to measure, not a test's.
    assert figures.answered_s is not None and figures.answered_s > figures.first_ring_s
    summary = incident(rig, transcript["call_sid"])
    assert summary["trigger"] == "danger_key"
    assert (summary["agents_rung"], summary["answered_by"]) == ("taker", "taker")
    assert summary["outcome"] == "agent" and summary["rollover"] is False
    assert float(summary["duration_s"]) > 0
    sms = paged(rig, 1)
    assert SUPERVISOR in [message["to"] for message in sms]
    assert all(CALLER not in message["body"] for message in sms)


def test_agents_decline_or_ring_out_then_the_crisis_line(rig: CrisisRig) -> None:
    rig.available("decliner", "silent")
    before = len(crisis_pages(rig))
    transcript = rig.call(DANGER, hangup_after=80)

    outcome = transcript["outcome"]
    assert outcome["crisis"] is True
    assert [b["number"] for b in outcome["bridged_to"]] == [LINE_ZH]
    figures = timing(rig, transcript)
    crisis = rig.config["crisis"]
    # The crisis line is dialled once the agents' phones have rung for the rollover time less
    # the calm words, so it is dialled about rollover_s after the trigger.
    assert (
        figures.dialled[LINE_ZH] - figures.first_ring_s >= crisis["rollover_s"] - crisis["intro_s"]
    )
    assert figures.dialled[LINE_ZH] >= crisis["rollover_s"] - 1
    summary = incident(rig, transcript["call_sid"])
    assert summary["agents_rung"] in ("decliner | silent", "silent | decliner")
    assert summary["declined"] == "decliner"
    assert (summary["rollover"], summary["answered_by"]) == (True, LINE_ZH)
    assert summary["outcome"] == "crisis_line"
    assert len(paged(rig, before + 1)) == before + 1  # one alert, one SMS for this call


def test_nobody_on_shift_goes_straight_to_the_crisis_line(rig: CrisisRig) -> None:
    rig.available()
    transcript = rig.call(DANGER, hangup_after=40)

    heard = [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]
    assert " ".join(rig.config["prompts"]["crisis_intro"]["zh"].split()) in heard
    assert [b["number"] for b in transcript["outcome"]["bridged_to"]] == [LINE_ZH]
    figures = timing(rig, transcript)
    assert figures.dialled[LINE_ZH] == figures.first_ring_s
    summary = incident(rig, transcript["call_sid"])
    assert (summary["agents_rung"], summary["outcome"]) == ("", "crisis_line")


def test_crisis_lines_busy_then_the_numbers_and_the_supervisor(rig: CrisisRig) -> None:
    rig.available()
    said = "I want to kill myself tonight"
    transcript = rig.call({"press": "2"}, {"say": said}, hangup_after=150)

    entries = transcript["entries"]
    assert [e["number"] for e in entries if e["kind"] == "dialing"] == [
        LINE_EN,
        LINE_FALLBACK,
        SUPERVISOR,
    ]
    heard = [e["text"] for e in entries if e["kind"] == "heard"]
    assert " ".join(rig.config["prompts"]["crisis_failed"]["en"].split()) in heard
    assert [b["name"] for b in transcript["outcome"]["bridged_to"]] == ["Supervisor Li"]
    summary = incident(rig, transcript["call_sid"])
    assert (summary["trigger"], summary["said"]) == ("crisis_words", said)
    assert summary["outcome"] == "supervisor" and summary["answered_by"] == "s1"
    assert summary["rung"] == f"{LINE_EN} | {LINE_FALLBACK} | s1"


def test_zz_redis_killed_mid_call(rig: CrisisRig) -> None:
    """Runs last in the module: Redis stays down afterwards."""
    rig.available("silent")
    reply = requests.post(
        f"{rig.carrier_url}/carrier/calls",
        json={"from": CALLER, "script": {"steps": [DANGER], "hangup_after": 70}},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=5,
    )
    call_sid = reply.json()["call_sid"]
    poll(
        lambda: any(e["kind"] == "dialing" for e in rig.leg(call_sid)["entries"]),
        30,
        "the crisis agents' phones to ring",
    )

    rig.stop_redis()

    done = requests.get(
        f"{rig.carrier_url}/carrier/calls/{call_sid}/wait",
        params={"timeout": 60},
        auth=(ACCOUNT_SID, AUTH_TOKEN),
        timeout=70,
    ).json()
    assert done["outcome"]["crisis"] is True
    assert [b["number"] for b in done["outcome"]["bridged_to"]] == [LINE_ZH]
    assert [w for w in done["entries"] if w["kind"] == "webhook" and w["status"] != 200] == []

    # A new call with Redis gone: the danger key reaches the crisis line, the app answering fast.
    fresh = rig.call(DANGER, hangup_after=45)
    assert [b["number"] for b in fresh["outcome"]["bridged_to"]] == [LINE_ZH]
    # No calm words with Redis down: the line rings as soon as the app has answered the key.
    figures = timing(rig, fresh)
    heard = [e for e in fresh["entries"] if e["kind"] == "heard"]
    assert not any(rig.config["prompts"]["crisis_intro"]["zh"] in e["text"] for e in heard)
    # Spoken, the calm words would take about two seconds.
    assert figures.calm_s < 0.5
