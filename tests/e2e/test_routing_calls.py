"""Whole calls through skill-matched routing: real `hotline serve` (app, RQ worker, embedded
Redis) and the carrier ringing simulated agents' phones that answer, decline or never pick up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from queues import dispatch, events
from queues.agents import AgentBoard
from queues.reservations import Reservations
from queues.waiting import WaitingRoom
from routing.config import load_config
from tests.e2e.harness import AUTH, CALLER, Hotline, poll, serving, shipped_config, write_yaml

pytestmark = pytest.mark.e2e

ALWAYS = ["00:00-24:00"]


def agent(agent_id: str, phone: str, languages: list[str], skills: dict[str, int]) -> dict:
    """A roster entry on shift around the clock."""
    return {
        "id": agent_id,
        "name": agent_id,
        "phone": phone,
        "languages": languages,
        "skills": skills,
        "crisis_trained": False,
        "shifts": [{"days": "mon-sun", "hours": ALWAYS[0]}],
    }


# One scenario per area, so the scenarios can run side by side without sharing agents.
AGENTS = [
    agent("labor_zh", "+8613900000101", ["zh"], {"labor": 3}),
    agent("labor_en", "+8613900000102", ["en"], {"labor": 3}),
    agent("family_never", "+8613900000103", ["zh"], {"family": 3}),
    agent("family_ok", "+8613900000104", ["zh"], {"family": 2}),
    agent("contract_no", "+8613900000105", ["zh"], {"contract": 3}),
    agent("contract_ok", "+8613900000106", ["zh"], {"contract": 2}),
    agent("traffic_slow", "+8613900000107", ["zh"], {"traffic": 3}),
    agent("criminal_junior", "+8613900000108", ["zh"], {"criminal": 1}),
    agent("corporate_late", "+8613900000109", ["zh"], {"corporate": 3}),
    agent("general_one", "+8613900000110", ["zh"], {"general": 1}),
    # English-only family agents: the Mandarin family scenario never reaches them.
    agent("family_en_senior", "+8613900000111", ["en"], {"family": 3}),
    agent("family_en_second", "+8613900000112", ["en"], {"family": 2}),
    # The only English contract agent: free for the caller whose queuing webhook timed out.
    agent("contract_en", "+8613900000113", ["en"], {"contract": 3}),
]

ACCEPTS = {"role": "agent", "answer_after": 2, "press": ["1"], "stay": 300}
PHONES = {
    "+8613900000101": {"name": "labor_zh", **ACCEPTS},
    "+8613900000102": {"name": "labor_en", **ACCEPTS},
    "+8613900000103": {"name": "family_never", "role": "agent", "answer_after": "never"},
    "+8613900000104": {"name": "family_ok", **ACCEPTS},
    "+8613900000105": {"name": "contract_no", "role": "agent", "answer_after": 2, "press": ["2"]},
    "+8613900000106": {"name": "contract_ok", **ACCEPTS},
    "+8613900000107": {"name": "traffic_slow", "role": "agent", "answer_after": "never"},
    "+8613900000108": {"name": "criminal_junior", **ACCEPTS},
    "+8613900000109": {"name": "corporate_late", **ACCEPTS},
    # Short calls, so that these agents are free again soon, yet long enough (3 s at the test's
    # clock) that the caller reaches the conference before the agent leaves it on a busy machine:
    # at 40 call seconds a caller joined 0.03 s after the agent had gone, bridged to nobody.
    "+8613900000110": {"name": "general_one", "role": "agent", "answer_after": 2, "press": ["1"],
                       "stay": 150},
    "+8613900000111": {"name": "family_en_senior", "role": "agent", "answer_after": 2,
                       "press": ["1"], "stay": 150},
    # Stays on the line long enough to be busy while the next heavy caller waits.
    "+8613900000112": {"name": "family_en_second", "role": "agent", "answer_after": 2,
                       "press": ["1"], "stay": 1500},
    "+8613900000113": {"name": "contract_en", **ACCEPTS},
    # The crisis line, there for the caller the number's fallback puts through.
    "+8612356": {"name": "crisis line", "role": "crisis-line", "answer_after": 1, "stay": 1200},
    # The caller's own phone, for the callback: on the line 3 s at the test's clock, long enough
    # to hear the greeting and join the agent's conference on a busy machine.
    CALLER: {"name": "the caller", "role": "caller", "answer_after": 2, "stay": 150},
}  # fmt: skip

# Seconds of waiting after which the criminal area accepts any level (specialists first).
WIDEN_AFTER_S = 4
WRAP_UP_S = 4
# One heavy call puts an agent at the cap; a short wrap-up frees them again within the test.
HEAVY_CAP = 1
HEAVY_WRAP_UP_S = 2


def routing_config() -> dict[str, Any]:
    """Every area open; short widening and wrap-up so the tests see them happen."""
    config = shipped_config()
    for area in config["areas"].values():
        area["hours"] = config["hours"]["always"]
    routing = config["routing"]
    routing["reservation_timeout_s"] = 60
    routing["misses"] = {"cool_down_s": 120, "pause_after": 2}
    routing["areas"]["criminal"] = {
        "steps": [{"after_s": 0, "min_level": 2}, {"after_s": WIDEN_AFTER_S, "min_level": 1}]
    }
    routing["wellbeing"] = {"heavy_cap": HEAVY_CAP, "window_s": 14400}
    routing["areas"]["family"] = {
        "heavy_answers": {"violence": ["1"]},
        "wrap_up_s": HEAVY_WRAP_UP_S,
        "heavy_wrap_up_s": HEAVY_WRAP_UP_S,
    }
    routing["areas"]["general"] = {
        "steps": [{"after_s": 0, "min_level": 1}],
        "wrap_up_s": WRAP_UP_S,
    }
    return config


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with the scenario agents on shift and available."""
    home = tmp_path_factory.mktemp("routing")
    phones = write_yaml(home / "phones.yaml", PHONES)
    roster = {"timezone": "Asia/Shanghai", "agents": AGENTS}
    with serving(home, routing_config(), roster=roster, phones=phones, time_scale="0.02") as run:
        yield run


def press(keys: str) -> dict[str, str]:
    """A step that presses keys."""
    return {"press": keys}


def bridged_names(transcript: dict[str, Any]) -> list[str]:
    """Who the caller was bridged to, by name."""
    return [b["name"] for b in transcript["outcome"]["bridged_to"]]


def rung(hotline: Hotline, phone: str) -> list[dict[str, Any]]:
    """The calls the hotline placed to a phone."""
    return [c for c in hotline.calls() if c["to"] == phone and c["direction"] != "inbound"]


def kinds_for(hotline: Hotline, agent_id: str) -> list[str]:
    """The routing events of one agent, oldest first."""
    found = events.recent(hotline.redis(), count=5000)
    return [e["kind"] for e in reversed(found) if e.get("agent") == agent_id]


def test_callers_reach_skilled_agents_in_their_language(hotline: Hotline) -> None:
    scenarios = {
        # Mandarin labor caller: the Mandarin labor specialist, never the English-only one.
        "labor_zh": (press("1"), press("2"), press("1"), press("1")),
        # English labor caller: the English-only specialist.
        "labor_en": (press("2"), press("2"), press("1"), press("1")),
        # Family: the specialist never answers; the caller keeps their place for the next agent.
        "family": (press("1"), press("1"), press("2"), press("2")),
        # Contract: the specialist declines with 2; the next agent takes the call.
        "contract": (press("1"), press("3"), press("1")),
    }
    with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
        started = {
            name: hotline.start(*steps, hangup_after=900) for name, steps in scenarios.items()
        }
        done = dict(zip(started, pool.map(hotline.finish, started.values()), strict=True))

    assert bridged_names(done["labor_zh"]) == ["labor_zh"]
    assert bridged_names(done["labor_en"]) == ["labor_en"]
    # The English-only agent was never rung for the Mandarin caller (only once, for English).
    assert len(rung(hotline, "+8613900000102")) == 1

    assert bridged_names(done["family"]) == ["family_ok"]
    assert "no-answer" in kinds_for(hotline, "family_never")
    assert bridged_names(done["contract"]) == ["contract_ok"]
    assert "declined" in kinds_for(hotline, "contract_no")
    for transcript in done.values():
        assert transcript["outcome"]["errors"] == []
        heard = [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]
        language = "en" if transcript is done["labor_en"] else "zh"
        assert hotline.prompt("connecting", language) in heard


def test_caller_hanging_up_while_the_agent_rings_frees_the_agent(hotline: Hotline) -> None:
    redis = hotline.redis()
    call_sid = hotline.start(press("1"), press("4"), press("1"), press("1"), hangup_after=900)
    # Wait until the (never answering) traffic agent is being rung for this caller.
    poll(lambda: rung(hotline, "+8613900000107"), 30, "the traffic agent to ring")
    hotline_calls = {c["call_sid"]: c for c in hotline.calls()}
    assert not hotline_calls[call_sid]["finished"]
    # The caller gives up while the agent's phone still rings.
    requests.post(
        f"{hotline.carrier_url}/2010-04-01/Accounts/{AUTH[0]}/Calls/{call_sid}.json",
        data={"Status": "completed"},
        auth=AUTH,
        timeout=5,
    ).raise_for_status()
    transcript = hotline.finish(call_sid)
    assert transcript["outcome"]["bridged_to"] == []
    config = load_config((Path(__file__).parents[2] / "hotline" / "hotline.yaml").read_text())
    room = WaitingRoom(redis, config.routing)
    poll(lambda: room.get(call_sid).outcome == "abandoned", 10, "the call to be abandoned")
    # The agent's ringing leg is withdrawn and the agent is free for the next caller.
    agent_legs = rung(hotline, "+8613900000107")
    poll(
        lambda: all(c["finished"] for c in rung(hotline, "+8613900000107")),
        20,
        "the agent's leg to stop ringing",
    )
    assert len(agent_legs) == 1
    poll(
        lambda: AgentBoard(redis, config.routing).get("traffic_slow").activity == "idle",
        10,
        "the agent to be free again",
    )


def test_a_caller_twilio_never_queued_is_not_pulled_off_the_fallback_s_crisis_line(
    hotline: Hotline,
) -> None:
    # The answer that queues the caller (the contract intake's) reaches routing, but Twilio gives
    # up on it: the number's fallback puts the caller through to the crisis line instead.
    hotline.faults(
        {"webhook_timeout": 1.0, "webhook_match": "/voice/intake", "limits": {"webhook_timeout": 1}}
    )
    try:
        call_sid = hotline.start(press("2"), press("3"), press("1"), hangup_after=900)
        transcript = hotline.finish(call_sid)
    finally:
        hotline.faults({})

    timed_out = [e for e in transcript["entries"] if e.get("failure") == "timeout"]
    assert [e["path"] for e in timed_out] == ["/voice/intake"]
    crisis_line = hotline.config["crisis"]["numbers"]["en"]
    assert [b["number"] for b in transcript["outcome"]["bridged_to"]] == [crisis_line]
    # Routing offered the call to the free agent, who took it; taking the caller out of
    # Twilio's queue found nobody there, so the crisis line kept them and the agent was freed.
    redis = hotline.redis()
    found = events.recent(redis, count=5000)
    gone = [e for e in found if e["kind"] == "caller-gone" and e.get("call") == call_sid]
    assert len(gone) == 1
    config = load_config((Path(__file__).parents[2] / "hotline" / "hotline.yaml").read_text())
    board = AgentBoard(redis, config.routing)
    agent = poll(
        lambda: (a := board.get("contract_en")).activity in ("idle", "wrap_up") and a,
        30,
        "the agent to leave the call",
    )
    assert (agent.reservation, agent.misses, agent.paused) == ("", 0, "")


def test_skill_requirement_widens_after_the_first_step(hotline: Hotline) -> None:
    redis = hotline.redis()
    started = time.monotonic()
    transcript = hotline.call(press("1"), press("5"), press("1"), hangup_after=2000)
    assert bridged_names(transcript) == ["criminal_junior"]
    offered = [e for e in events.recent(redis, count=5000) if e["kind"] == "offered"
               and e.get("agent") == "criminal_junior"]  # fmt: skip
    queued = [e for e in events.recent(redis, count=5000) if e["kind"] == "queued"
              and e.get("call") == transcript["call_sid"]]  # fmt: skip
    assert offered and queued
    # The junior agent was only offered the call once the wait passed the first step.
    assert float(offered[0]["at"]) - float(queued[0]["at"]) >= WIDEN_AFTER_S - 0.5
    assert time.monotonic() - started >= WIDEN_AFTER_S


def test_wrap_up_is_respected_before_the_next_call(hotline: Hotline) -> None:
    redis = hotline.redis()
    first = hotline.start(press("1"), press("0"), hangup_after=2000)
    poll(lambda: bridged_names(hotline.transcript(first)), 30, "the first caller to be bridged")
    second = hotline.start(press("1"), press("0"), hangup_after=3000)
    assert bridged_names(hotline.finish(first)) == ["general_one"]
    assert bridged_names(hotline.finish(second)) == ["general_one"]
    found = list(reversed(events.recent(redis, count=5000)))
    wrap = next(e for e in found if e["kind"] == "wrap-up" and e.get("agent") == "general_one")
    offers = [e for e in found if e["kind"] == "offered" and e.get("agent") == "general_one"]
    assert len(offers) == 2
    # The second offer waited for the wrap-up to end.
    assert float(offers[1]["at"]) >= float(wrap["until"]) - 0.01
    assert float(wrap["until"]) - float(wrap["at"]) >= WRAP_UP_S - 0.01


def test_callback_keeps_the_place_and_connects_both_sides(hotline: Hotline) -> None:
    redis = hotline.redis()
    config = load_config((Path(__file__).parents[2] / "hotline" / "hotline.yaml").read_text())
    dispatch.set_presence(redis, config.routing, "corporate_late", "offline", time.time())
    # Corporate caller: 1 at the recording notice consents (the area records); nobody is free;
    # at the waiting room, 1 asks for a callback, 1 confirms.
    call_sid = hotline.start(press("1"), press("6"), press("1"), press("1"), press("1"), press("1"))
    transcript = hotline.finish(call_sid)
    heard = [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]
    assert hotline.prompt("callback_set", "zh") in heard
    room = WaitingRoom(redis, config.routing)
    assert room.get(call_sid).kind == "callback"
    # The agent comes back: the callback is offered, the agent accepts, the caller is dialled.
    dispatch.set_presence(redis, config.routing, "corporate_late", "available", time.time())
    callback_leg = poll(
        lambda: [c for c in hotline.calls() if c["to"] == CALLER and c["direction"] != "inbound"],
        30,
        "the callback to the caller",
    )[0]
    called_back = hotline.finish(callback_leg["call_sid"])
    heard = [e["text"] for e in called_back["entries"] if e["kind"] == "heard"]
    assert hotline.prompt("callback_greeting", "zh") in heard
    conference = [e for e in called_back["entries"] if e["kind"] == "conference"]
    assert conference and conference[0]["action"] == "joined"
    reservation = Reservations(redis, config.routing)
    offers = [e for e in events.recent(redis, count=5000) if e["kind"] == "offered"
              and e.get("agent") == "corporate_late"]  # fmt: skip
    assert reservation.get(offers[0]["reservation"]).kind == "callback"


def test_agent_at_the_heavy_call_cap_gets_a_heavy_call_only_when_nobody_else_can(
    hotline: Hotline,
) -> None:
    redis = hotline.redis()
    config = load_config(yaml.safe_dump(hotline.config, allow_unicode=True), "routing test")
    board = AgentBoard(redis, config.routing)
    # English, family, no children involved, violence at home: a heavy call.
    heavy_family = (press("2"), press("1"), press("2"), press("1"))
    first = hotline.call(*heavy_family, hangup_after=900, caller="+8613912340001")
    # The senior agent (best level) takes the first heavy call and so reaches the cap of one.
    assert bridged_names(first) == ["family_en_senior"]
    poll(
        lambda: (status := board.get("family_en_senior")) and status.free
        and status.tier == "capped",
        30,
        "the senior agent to be free again, at the heavy-call cap",
    )  # fmt: skip

    # Free and better skilled, but capped: the next heavy call goes to the agent under the cap.
    second = hotline.start(*heavy_family, hangup_after=3000, caller="+8613912340002")
    poll(lambda: bridged_names(hotline.transcript(second)), 30, "the second caller to be bridged")
    assert bridged_names(hotline.transcript(second)) == ["family_en_second"]
    poll(
        lambda: board.get("family_en_second").activity == "talking",
        10,
        "the second agent to be talking",
    )

    # Nobody under the cap is free: the capped agent is asked after all, and the supervisor told.
    third = hotline.call(*heavy_family, hangup_after=900, caller="+8613912340003")
    assert bridged_names(third) == ["family_en_senior"]
    found = events.recent(redis, count=5000)
    over_cap = [e for e in found if e["kind"] == "over-cap"]
    assert [(e["call"], e["agent"], e["area"]) for e in over_cap] == [
        (third["call_sid"], "family_en_senior", "family")
    ]
    offered = [(e["call"], e["agent"]) for e in reversed(found) if e["kind"] == "offered"]
    assert [offer for offer in offered if offer[1].startswith("family_en")] == [
        (first["call_sid"], "family_en_senior"),
        (second, "family_en_second"),
        (third["call_sid"], "family_en_senior"),
    ]

    requests.post(
        f"{hotline.carrier_url}/2010-04-01/Accounts/{AUTH[0]}/Calls/{second}.json",
        data={"Status": "completed"},
        auth=AUTH,
        timeout=5,
    ).raise_for_status()
    assert bridged_names(hotline.finish(second)) == ["family_en_second"]
