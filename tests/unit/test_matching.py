"""The matching policy with an injected now: eligibility, widening, priority, wellbeing, order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from routing.matching import (
    AgentState,
    Step,
    WaitingCall,
    call_sources,
    cap_release,
    choose_agent,
    choose_call,
    default_policy,
    is_capped,
    is_eligible,
    is_heavy,
    miss,
    parse_routing,
    priority_class,
)

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
POLICY = default_policy(AREAS)
NOW = 1_796_176_800.0
SHIPPED = Path(__file__).resolve().parents[2] / "hotline" / "hotline.yaml"


def agent(agent_id: str, *, langs=("zh",), idle=0.0, **fields) -> AgentState:
    skills = fields.pop("skills", {"labor": 3})
    return AgentState(agent_id, frozenset(langs), skills, idle_since=idle, **fields)


def call(area="labor", language="zh", waited=0.0, **fields) -> WaitingCall:
    return WaitingCall(fields.pop("sid", "CA1"), area, language, NOW - waited, **fields)


def test_eligible_needs_presence_shift_idle_cool_down_and_language():
    ready = agent("a")
    assert is_eligible(POLICY, ready, call(), NOW)
    assert not is_eligible(POLICY, replace(ready, presence="on_break"), call(), NOW)
    assert not is_eligible(POLICY, replace(ready, presence="offline"), call(), NOW)
    assert not is_eligible(POLICY, replace(ready, on_shift=False), call(), NOW)
    assert not is_eligible(POLICY, replace(ready, activity="reserved"), call(), NOW)
    assert not is_eligible(POLICY, replace(ready, activity="talking"), call(), NOW)
    assert not is_eligible(POLICY, replace(ready, activity="wrap_up"), call(), NOW)
    assert not is_eligible(POLICY, replace(ready, cool_until=NOW + 1), call(), NOW)
    assert is_eligible(POLICY, replace(ready, cool_until=NOW), call(), NOW)
    assert not is_eligible(POLICY, ready, call(language="en"), NOW)
    assert not is_eligible(POLICY, ready, call(area="family"), NOW)


def test_mandarin_caller_is_never_offered_to_an_english_only_agent():
    english = agent("en1", langs=("en",), skills={"labor": 3, "general": 3})
    for waited in (0, 61, 500):
        assert choose_agent(POLICY, call(waited=waited), [english], NOW) is None


def test_widening_steps_lower_the_level_then_add_general_agents():
    junior = agent("junior", skills={"labor": 1})
    general = agent("general", skills={"general": 2})
    assert not is_eligible(POLICY, junior, call(waited=59.9), NOW)
    assert is_eligible(POLICY, junior, call(waited=60), NOW)
    assert not is_eligible(POLICY, general, call(waited=179), NOW)
    assert is_eligible(POLICY, general, call(waited=180), NOW)
    assert POLICY.step("labor", 0) == Step(0, 2)
    assert POLICY.step("labor", 200) == Step(180, 1, True)
    assert POLICY.next_widening("labor", 10) == 60
    assert POLICY.next_widening("labor", 200) is None


def test_specialists_come_before_general_agents_even_when_widened():
    agents = [
        agent("general", skills={"general": 3}, idle=1.0),
        agent("junior", skills={"labor": 1}, idle=5.0),
    ]
    assert choose_agent(POLICY, call(waited=300), agents, NOW).agent_id == "junior"
    assert choose_agent(POLICY, call(waited=300), agents[:1], NOW).agent_id == "general"


def test_best_level_first_then_longest_idle():
    agents = [
        agent("l2-long-idle", skills={"labor": 2}, idle=1.0),
        agent("l3-recent", skills={"labor": 3}, idle=50.0),
        agent("l3-long-idle", skills={"labor": 3}, idle=10.0),
    ]
    assert choose_agent(POLICY, call(), agents, NOW).agent_id == "l3-long-idle"


def test_longest_idle_strategy_ignores_level_among_qualified():
    policy = replace(POLICY, strategy="longest_idle")
    agents = [
        agent("l2-long-idle", skills={"labor": 2}, idle=1.0),
        agent("l3", skills={"labor": 3}, idle=10.0),
        agent("l1", skills={"labor": 1}, idle=0.0),  # not qualified before 60 s
    ]
    assert choose_agent(policy, call(), agents, NOW).agent_id == "l2-long-idle"
    assert choose_agent(policy, call(waited=60), agents, NOW).agent_id == "l1"


def test_priority_class_then_arrival_decides_which_call_an_agent_takes():
    ready = agent("a", skills={"labor": 3, "family": 3})
    calls = [
        call(sid="old-normal", waited=100),
        call(sid="new-vulnerable", area="family", waited=1, priority="vulnerable"),
        call(sid="returning", waited=50, priority="returning"),
    ]
    assert choose_call(POLICY, ready, calls, NOW).call_sid == "new-vulnerable"
    assert choose_call(POLICY, ready, calls[::2], NOW).call_sid == "returning"
    assert choose_call(POLICY, ready, calls[:1], NOW).call_sid == "old-normal"
    assert priority_class(vulnerable=True, returning=True) == "vulnerable"
    assert priority_class(returning=True) == "returning"
    assert priority_class() == "normal"


def test_agent_takes_only_calls_its_level_allows_by_their_wait():
    junior = agent("junior", skills={"labor": 1})
    calls = [call(sid="fresh", waited=10), call(sid="waited", waited=61)]
    assert choose_call(POLICY, junior, calls, NOW).call_sid == "waited"
    assert choose_call(POLICY, junior, calls[:1], NOW) is None
    sources = call_sources(POLICY, {"labor": 1, "general": 1}, ["zh"], NOW)
    by_area = {source.area: NOW - source.latest_arrival for source in sources}
    assert by_area["labor"] == 60 and by_area["family"] == 180 and by_area["general"] == 0


def test_capped_agent_gets_a_heavy_call_only_when_nobody_else_can():
    heavy_times = (NOW - 100, NOW - 200, NOW - 300)
    capped = agent("capped", skills={"labor": 3}, idle=0.0, heavy_times=heavy_times)
    fresh = agent("fresh", skills={"labor": 2}, idle=50.0)
    heavy_call = call(heavy=True)
    choice = choose_agent(POLICY, heavy_call, [capped, fresh], NOW)
    assert choice.agent_id == "fresh" and not choice.over_cap
    choice = choose_agent(POLICY, heavy_call, [capped], NOW)
    assert choice.agent_id == "capped" and choice.over_cap
    # An ordinary call is not heavy: the cap does not hold the agent back.
    assert choose_agent(POLICY, call(), [capped, fresh], NOW).agent_id == "capped"


def test_heavy_cap_counts_a_rolling_window():
    window = POLICY.heavy_window_s
    times = [NOW - window + 10, NOW - 100, NOW - 50]
    assert is_capped(POLICY, times, NOW)
    assert not is_capped(POLICY, times, NOW + 10)
    assert cap_release(POLICY, times, NOW) == NOW + 10
    assert cap_release(POLICY, times[1:], NOW) is None


def test_heavy_wrap_up_is_longer():
    policy, problems = parse_routing(
        yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))["routing"], area_ids=AREAS
    )
    assert problems == []
    assert policy.wrap_up_s("family", heavy=True) == 600
    assert policy.wrap_up_s("family", heavy=False) == 60
    assert is_heavy(policy, "family", {"violence": "1"})
    assert not is_heavy(policy, "family", {"violence": "2"})
    assert is_heavy(policy, "labor", {}, flagged=True)
    assert is_heavy(policy, "labor", {}, crisis=True)


def test_misses_cool_down_then_pause_after_n_in_a_row():
    assert miss(POLICY, 1) == miss(POLICY, 1)
    assert not miss(POLICY, 1).pause and miss(POLICY, 1).cool_down_s == 30
    assert miss(POLICY, 2).pause


def test_missing_section_gives_defaults_for_every_area():
    policy, problems = parse_routing(None, area_ids=AREAS)
    assert problems == [] and set(policy.areas) == set(AREAS)
    assert policy.areas["general"].steps == (Step(0, 1),)
    assert policy.areas["labor"].steps[0] == Step(0, 2)
    assert (policy.pause_after, policy.strategy) == (2, "level_then_idle")


def test_every_problem_in_the_section_has_its_path():
    data = {
        "strategy": "random",
        "misses": {"pause_after": 0},
        "colour": "red",
        "areas": {
            "labor": {"steps": [{"after_s": 10, "min_level": 1}, {"after_s": 5, "min_level": 2}]},
            "tax": {},
        },
    }
    policy, problems = parse_routing(data, area_ids=AREAS)
    assert policy is None
    paths = {problem.path for problem in problems}
    assert ("routing", "strategy") in paths
    assert ("routing", "misses", "pause_after") in paths
    assert ("routing", "colour") in paths
    assert ("routing", "areas", "tax") in paths
    assert ("routing", "areas", "labor", "steps", 0, "after_s") in paths  # must start at 0
    assert ("routing", "areas", "labor", "steps", 1, "after_s") in paths  # goes back in time
    assert ("routing", "areas", "labor", "steps", 1) in paths  # narrows
