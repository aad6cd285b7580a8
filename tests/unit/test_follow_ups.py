"""Who calls a follow-up's caller back: the pure decision over the roster."""

from __future__ import annotations

from datetime import UTC, datetime

from routing.follow_ups import Route, call_of, route, supervisor_agents, task_id
from routing.roster import Agent, Roster, Shift, Supervisor

ALWAYS = tuple(Shift(day, 0, 1440) for day in range(7))
# Wednesday 2026-12-02, 10:00 in Shanghai.
NOW = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)


def agent(agent_id: str, phone: str, skills: dict[str, int], languages=("zh",), shifts=ALWAYS):
    """An agent of the test roster."""
    return Agent(agent_id, agent_id, phone, tuple(languages), skills, shifts=shifts)


D1 = agent("d1", "+8613900000001", {"family": 3})
D2 = agent("d2", "+8613900000002", {"family": 1})
G1 = agent("g1", "+8613900000003", {"general": 2})
EN = agent("e1", "+8613900000004", {"family": 3}, languages=("en",))
OFF = agent("o1", "+8613900000005", {"family": 3}, shifts=())
BOSS = Supervisor("s1", "李主管", "+8613900000002", shifts=ALWAYS)
AWAY = Supervisor("s2", "Helen", "+8613900000001", shifts=())


def decide(roster: Roster | None, target: str = "area", unhappy_with: str = "d1") -> Route:
    """The route of a Mandarin family follow-up."""
    return route(
        roster,
        target=target,
        area="family",
        general_area="general",
        language="zh",
        unhappy_with=unhappy_with,
        now=NOW,
    )


def test_task_ids_name_their_call():
    assert task_id("CA1") == "fu-CA1" and call_of("fu-CA1") == "CA1"
    assert call_of("vm-RE1") is None and call_of("CA1") is None


def test_the_area_avoids_the_unhappy_agent_while_another_could_take_it():
    assert decide(Roster((D1, D2))) == Route("area", avoid="d1")
    # A general agent could take it after the last widening step: still another.
    assert decide(Roster((D1, G1))) == Route("area", avoid="d1")


def test_nobody_else_able_means_the_same_agent_rather_than_no_callback():
    # The others speak another language, or are never on shift.
    assert decide(Roster((D1, EN, OFF))) == Route("area", avoid="")
    assert decide(None) == Route("area", avoid="d1")


def test_supervisors_are_those_on_call_who_are_also_agents_speaking_the_language():
    roster = Roster((D1, D2, G1), supervisors=(BOSS, AWAY))
    assert supervisor_agents(roster, "zh", NOW) == ("d2",)
    assert supervisor_agents(roster, "en", NOW) == ()
    assert decide(roster, "supervisor") == Route("supervisor", only=("d2",))


def test_without_a_supervisor_who_takes_calls_the_area_calls_back():
    assert decide(Roster((D1, D2), supervisors=(AWAY,)), "supervisor") == Route("area", avoid="d1")
    # The only supervisor who takes calls is the one the caller was unhappy with.
    unhappy = decide(Roster((D1, D2, G1), supervisors=(BOSS,)), "supervisor", unhappy_with="d2")
    assert unhappy == Route("area", avoid="d2")
