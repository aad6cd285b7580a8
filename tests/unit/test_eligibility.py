"""Eligibility, written once: routing, the waiting room's staffing count and roster coverage
all ask the same question of an agent, and so answer alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import product

from routing.coverage import coverage
from routing.eligibility import is_staffing, may_take
from routing.matching import AgentState, Step, WaitingCall, default_policy, is_eligible
from routing.roster import Agent, Roster, Shift

AREAS = ["family", "labor", "general"]
POLICY = default_policy(AREAS)
NOW = 1_796_176_800.0


@dataclass(frozen=True)
class Status:
    """An agent as the board reports them: shift, presence, languages and skills."""

    languages: tuple[str, ...]
    skills: dict[str, int] = field(default_factory=dict)
    on_shift: bool = True
    presence: str = "available"


def test_the_language_is_needed_whatever_the_skills():
    agent = Status(("en",), {"labor": 3, "general": 3})
    assert not may_take(agent, "labor", "zh", general_area="general")
    assert may_take(agent, "labor", "en", general_area="general")


def test_the_area_at_the_step_level_or_a_general_agent_when_the_step_allows():
    labor_1 = Status(("zh",), {"labor": 1})
    general = Status(("zh",), {"general": 1})
    assert may_take(labor_1, "labor", "zh", general_area="general")
    assert not may_take(labor_1, "labor", "zh", general_area="general", min_level=2)
    assert not may_take(labor_1, "family", "zh", general_area="general")
    assert may_take(general, "family", "zh", general_area="general")
    assert not may_take(general, "family", "zh", general_area="general", general=False)


def test_staffing_counts_busy_agents_on_shift_but_not_offline_or_off_shift_ones():
    assert is_staffing(
        Status(("zh",), {"labor": 2}, presence="on_break"), "labor", "zh", general_area="general"
    )
    assert not is_staffing(
        Status(("zh",), {"labor": 2}, presence="offline"), "labor", "zh", general_area="general"
    )
    assert not is_staffing(
        Status(("zh",), {"labor": 2}, on_shift=False), "labor", "zh", general_area="general"
    )
    assert not is_staffing(Status(("en",), {"labor": 2}), "labor", "zh", general_area="general")


def test_routing_offers_a_free_agent_exactly_what_eligibility_allows_at_the_call_s_step():
    skill_sets = [{}, {"labor": 1}, {"labor": 3}, {"general": 1}, {"family": 2, "general": 2}]
    steps = [Step(0, 2), Step(60, 1), Step(180, 1, True)]
    for skills, langs, waited in product(skill_sets, [("zh",), ("en",)], [0, 90, 200]):
        agent = AgentState("a1", frozenset(langs), skills)
        call = WaitingCall("CA1", "labor", "zh", NOW - waited)
        step = max((s for s in steps if waited >= s.after_s), key=lambda s: s.after_s)
        expected = may_take(
            agent,
            "labor",
            "zh",
            general_area="general",
            min_level=step.min_level,
            general=step.general,
        )
        assert is_eligible(POLICY, agent, call, NOW) is expected, (skills, langs, waited)


def test_coverage_lists_exactly_the_agents_eligibility_allows():
    always = tuple(Shift(weekday, 0, 1440) for weekday in range(7))
    agents = [
        Agent("zh-labor", "A", "+8613800000001", ("zh",), {"labor": 1}, shifts=always),
        Agent("en-general", "B", "+8613800000002", ("en",), {"general": 2}, shifts=always),
        Agent("zh-family", "C", "+8613800000003", ("zh",), {"family": 3}, shifts=always),
    ]
    start = datetime(2026, 12, 7, tzinfo=UTC)
    found = coverage(Roster(tuple(agents)), AREAS, ["zh", "en"], start, 1)
    for cell in found.cells[:: found.hours]:
        allowed = [
            a.id for a in agents if may_take(a, cell.area, cell.language, general_area="general")
        ]
        assert list(cell.agents) == allowed, (cell.area, cell.language)
