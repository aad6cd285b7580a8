"""The agent's in-call menu through the carrier: * on a connected call, 9 brings in the
supervisor on call while the caller stays on; and how a call ends when either side hangs up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from queues.incidents import IncidentLog
from tests.e2e.harness import Hotline, poll, serving, write_yaml
from tests.fixtures.e2e_rigs import (
    DAILY,
    agent_kinds,
    heard,
    leg_to,
    open_config,
    press,
    roster,
    specialist,
)

pytestmark = pytest.mark.e2e

STAR_AGENT, STAYING_AGENT, LEAVING_AGENT = "+8613900000401", "+8613900000402", "+8613900000403"
CHANGES_MIND = "+8613900000404"
SUPERVISOR = "+8613900000501"


ROSTER = roster(
    specialist("labor_star", STAR_AGENT, "labor"),
    specialist("family_stays", STAYING_AGENT, "family"),
    specialist("contract_leaves", LEAVING_AGENT, "contract"),
    specialist("traffic_back", CHANGES_MIND, "traffic"),
    supervisors=[{"id": "sup", "name": "Supervisor", "phone": SUPERVISOR, "on_call": DAILY}],
)
PHONES = {
    # Accepts, talks 4 s, presses * and then 9 for the supervisor, hangs up 90 s after answering
    # (the whisper takes about 20 s of that).
    STAR_AGENT: {"name": "labor_star", "role": "agent", "answer_after": 1, "press": ["1", "9"],
                 "star_after": 4, "stay": 90},
    # Accepts and stays on until the caller has gone.
    STAYING_AGENT: {"name": "family_stays", "role": "agent", "answer_after": 1, "press": ["1"],
                    "stay": 600},
    # Accepts and hangs up 60 s after answering, about 40 s into the call: 3 s at the test's
    # clock, so that the caller reaches the conference before the agent leaves it, even on a
    # busy machine.
    LEAVING_AGENT: {"name": "contract_leaves", "role": "agent", "answer_after": 1, "press": ["1"],
                    "stay": 60},
    # Presses * and then 5 (no escalation), so goes straight back to the caller.
    CHANGES_MIND: {"name": "traffic_back", "role": "agent", "answer_after": 1, "press": ["1", "5"],
                   "star_after": 4, "stay": 60},
    # The supervisor answers and stays 150 s, longer than the agent who called them in.
    SUPERVISOR: {"name": "Supervisor", "role": "supervisor", "answer_after": 1, "stay": 150},
}  # fmt: skip


def agent_menu_config() -> dict[str, Any]:
    """Every area open, short wrap-ups."""
    return open_config(wrap_up_s=2)


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with the three agents available and a supervisor on call."""
    home = tmp_path_factory.mktemp("agent-menu")
    phones = write_yaml(home / "phones.yaml", PHONES)
    config = agent_menu_config()
    # Call seconds at 50 ms each: a slow webhook on a busy machine costs few call seconds.
    with serving(home, config, roster=ROSTER, phones=phones, time_scale="0.05") as run:
        yield run


def ended_at(transcript: dict[str, Any]) -> float:
    """Call seconds from the start of a call to its last event."""
    return transcript["entries"][-1]["t"]


def test_star_then_9_brings_in_the_supervisor_while_the_caller_stays(hotline: Hotline) -> None:
    # Mandarin, labor (area key 2), a wage question; the menus take the caller about 2 minutes,
    # and they would stay on for 900 s.
    caller = hotline.start(press("1"), press("2"), press("1"), press("1"), hangup_after=900)

    agent_leg = leg_to(hotline, STAR_AGENT)
    menu = hotline.prompt("agent_menu", "zh")
    assert menu in heard(agent_leg)
    pressed = [e["keys"] for e in agent_leg["entries"] if e["kind"] == "pressed"]
    assert pressed == ["1", "*", "9"]
    assert hotline.prompt("agent_escalating", "zh") in heard(agent_leg)
    # Back with the caller after the menu: the agent joined the conference twice.
    joined = [
        e for e in agent_leg["entries"] if e["kind"] == "conference" and e["action"] == "joined"
    ]
    assert len(joined) == 2

    supervisor_leg = leg_to(hotline, SUPERVISOR)
    assert supervisor_leg["outcome"]["errors"] == []
    done = hotline.finish(caller)
    # The caller met the agent and the supervisor in one conference and was never dropped:
    # after the agent hung up, the supervisor stayed; their leaving ended the call.
    names = {b["name"] for b in done["outcome"]["bridged_to"]}
    assert {"labor_star", "Supervisor"} <= names
    assert ended_at(done) < 800
    incident = IncidentLog(hotline.redis()).get(caller)
    assert incident is not None
    escalated = [s for s in incident.steps if s["kind"] == "escalated"]
    assert [(s["target"], s["by"]) for s in escalated] == [("sup", "labor_star")]
    assert "wrap-up" in agent_kinds(hotline, "labor_star")


def test_the_caller_hanging_up_tells_the_agent_and_starts_wrap_up(hotline: Hotline) -> None:
    # Mandarin, family (area key 1); the caller hangs up 220 s into the call, after the menus.
    caller = hotline.start(press("1"), press("1"), press("2"), press("2"), hangup_after=220)
    done = hotline.finish(caller)
    assert [b["name"] for b in done["outcome"]["bridged_to"]] == ["family_stays"]

    agent_leg = leg_to(hotline, STAYING_AGENT)
    assert hotline.prompt("agent_call_ended", "zh") in heard(agent_leg)
    assert hotline.prompt("agent_menu", "zh") not in heard(agent_leg)
    poll(lambda: "wrap-up" in agent_kinds(hotline, "family_stays"), 20, "the agent's wrap-up")


def test_the_agent_hanging_up_ends_the_callers_call(hotline: Hotline) -> None:
    # Mandarin, contract (area key 3); the caller would stay 600 s.
    caller = hotline.start(press("1"), press("3"), press("1"), hangup_after=600)
    done = hotline.finish(caller)
    assert [b["name"] for b in done["outcome"]["bridged_to"]] == ["contract_leaves"]
    # The conference ended when the agent left: the caller was not left alone in it.
    assert ended_at(done) < 500
    assert "wrap-up" in agent_kinds(hotline, "contract_leaves")


def test_any_other_key_in_the_menu_goes_back_to_the_caller(hotline: Hotline) -> None:
    # Mandarin, traffic (area key 4), then the area's intake answers.
    caller = hotline.start(press("1"), press("4"), press("1"), press("1"), hangup_after=900)
    agent_leg = leg_to(hotline, CHANGES_MIND)
    assert hotline.prompt("agent_menu", "zh") in heard(agent_leg)
    assert hotline.prompt("agent_escalating", "zh") not in heard(agent_leg)
    pressed = [e["keys"] for e in agent_leg["entries"] if e["kind"] == "pressed"]
    assert pressed == ["1", "*", "5"]
    joined = [
        e for e in agent_leg["entries"] if e["kind"] == "conference" and e["action"] == "joined"
    ]
    assert len(joined) == 2
    done = hotline.finish(caller)
    assert [b["name"] for b in done["outcome"]["bridged_to"]] == ["traffic_back"]
    incident = IncidentLog(hotline.redis()).get(caller)
    assert incident is None  # nothing was escalated
