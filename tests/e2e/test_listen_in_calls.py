"""Listen-in through the stand-in: real `hotline serve`, a caller talking to an agent, and a
supervisor rung in from the wallboard's API as coach, listen or barge. The supervisor's phone
says a line once in the conference; the transcripts say who heard it: a coach is heard by the
agent and not by the caller, a listener by nobody, a barge by both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from queues import keys
from queues.listen_in import ListenIns
from tests.e2e.harness import AUTH, Hotline, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import DAILY, api_user, open_config, roster, specialist

pytestmark = pytest.mark.e2e

AGENT, SUPERVISOR = "+8613900000601", "+8613900000602"
WORDS = "Ask whether they have a written contract."
ROSTER = roster(
    {**specialist("labor_li", AGENT, "labor"), "name": "Agent Li"},
    supervisors=[{"id": "wu", "name": "Supervisor Wu", "phone": SUPERVISOR, "on_call": DAILY}],
)
PHONES = {
    # Accepts and stays on until the caller has gone.
    AGENT: {"name": "Agent Li", "role": "agent", "answer_after": 1, "press": ["1"], "stay": 900},
    # Answers, and says one line 3 s after joining the conference.
    SUPERVISOR: {"name": "Supervisor Wu", "role": "supervisor", "answer_after": 1, "stay": 900,
                 "talk": [{"after": 3, "say": WORDS}]},
}  # fmt: skip
# Mandarin, labor, and the labor intake's two answers.
LABOR_CALL = ({"press": "1"}, {"press": "2"}, {"press": "1"}, {"press": "1"})


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with one labor agent available and supervisor wu on the roster."""
    home = tmp_path_factory.mktemp("listen-in")
    phones = write_yaml(home / "phones.yaml", PHONES)
    config = open_config(wrap_up_s=1)
    with serving(home, config, roster=ROSTER, phones=phones, time_scale="0.05") as run:
        yield run


@pytest.fixture(scope="module")
def wu(hotline: Hotline) -> dict[str, str]:
    """Supervisor wu's API token: their console user name is their roster id."""
    return api_user(hotline.redis(), "wu")


def live_calls(hotline: Hotline, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The wallboard's calls in progress."""
    reply = requests.get(f"{hotline.app_url}/api/v1/live-calls", headers=headers, timeout=5)
    reply.raise_for_status()
    return reply.json()["calls"]


def supervised_call(hotline: Hotline, wu: dict[str, str], mode: str) -> dict[str, Any]:
    """A labor call the supervisor joins in a mode and speaks on once; every leg's transcript."""
    redis = hotline.redis()
    poll(
        lambda: redis.hget(keys.agent("labor_li"), "activity") == b"idle",
        30,
        "the agent to be free",
    )
    call = hotline.start(*LABOR_CALL, hangup_after=900)
    poll(
        lambda: any(c["call_sid"] == call for c in live_calls(hotline, wu)),
        60,
        "the call on the wallboard",
    )
    started = requests.post(
        f"{hotline.app_url}/api/v1/calls/{call}/listen-in",
        json={"mode": mode},
        headers=wu,
        timeout=5,
    )
    assert started.status_code == 202, started.text
    sessions = ListenIns(redis)
    poll(lambda: sessions.get(call).state == "on", 30, "the supervisor's phone to answer")
    supervisor_leg = sessions.get(call).leg

    def said() -> dict[str, Any] | None:
        entries = hotline.transcript(supervisor_leg)["entries"]
        return next((e for e in entries if e["kind"] == "said" and e["text"] == WORDS), None)

    line = poll(said, 30, "the supervisor's line")
    # The caller hangs up: the conference ends and the supervisor's leg with it.
    requests.post(
        f"{hotline.carrier_url}/2010-04-01/Accounts/{AUTH[0]}/Calls/{call}.json",
        data={"Status": "completed"},
        auth=AUTH,
        timeout=5,
    ).raise_for_status()
    caller = hotline.finish(call)
    poll(lambda: sessions.get(call).state == "ended", 30, "the session to end with the call")
    agent_leg = redis.hget(keys.call(call), "agent_leg").decode()
    return {
        "call": call,
        "line": line,
        "caller": caller,
        "agent": hotline.transcript(agent_leg),
        "agent_leg": agent_leg,
        "supervisor_leg": supervisor_leg,
    }


def heard_from(transcript: dict[str, Any], speaker: str) -> list[str]:
    """What a leg heard a speaker say in the conference."""
    return [
        e["text"]
        for e in transcript["entries"]
        if e["kind"] == "heard" and e.get("from") == speaker
    ]


def test_a_coach_is_heard_by_the_agent_not_the_caller_a_listener_by_nobody_a_barge_by_both(
    hotline: Hotline, wu: dict[str, str]
) -> None:
    coach = supervised_call(hotline, wu, "coach")
    listen = supervised_call(hotline, wu, "listen")
    barge = supervised_call(hotline, wu, "barge")

    assert coach["line"]["heard_by"] == [coach["agent_leg"]]
    assert heard_from(coach["agent"], coach["supervisor_leg"]) == [WORDS]
    assert heard_from(coach["caller"], coach["supervisor_leg"]) == []

    assert listen["line"]["heard_by"] == []
    assert heard_from(listen["agent"], listen["supervisor_leg"]) == []
    assert heard_from(listen["caller"], listen["supervisor_leg"]) == []

    assert sorted(barge["line"]["heard_by"]) == sorted([barge["agent_leg"], barge["call"]])
    assert heard_from(barge["agent"], barge["supervisor_leg"]) == [WORDS]
    assert heard_from(barge["caller"], barge["supervisor_leg"]) == [WORDS]

    # The caller is never told: no prompt, no beep names the supervisor joining.
    for done in (coach, listen, barge):
        assert done["caller"]["outcome"]["errors"] == []
    audit = requests.get(f"{hotline.app_url}/api/v1/audit", headers=wu, timeout=5).json()
    starts = [
        (e["target"], e["after"]["mode"])
        for e in reversed(audit["entries"])
        if e["action"] == "listen-in.start"
    ]
    assert starts == [
        (coach["call"], "coach"),
        (listen["call"], "listen"),
        (barge["call"], "barge"),
    ]
    assert all(e["actor"] == "wu (token)" for e in audit["entries"] if "listen-in" in e["action"])
    # The supervisor's number is in no log line of the hotline's.
    assert SUPERVISOR not in hotline.log()
