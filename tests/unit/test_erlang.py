"""Erlang C against published tables and the worked example's figures: agents for a service
level, the occupancy cap and shrinkage, and large traffic computed without overflow."""

from __future__ import annotations

import math

import pytest

from routing.erlang import Demand, Target, erlang_b, erlang_c, required, staffing

# The worked example: 100 calls in half an hour, 3 minutes each, is 10 Erlangs.
ISSUE = Demand(calls=100, interval_s=1800, aht_s=180)


def textbook_erlang_c(agents: int, traffic: float) -> float:
    """Erlang C by the factorial formula, for small cases only: an independent check."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


@pytest.mark.parametrize(
    ("agents", "traffic", "blocked"),
    [(5, 2.0, 0.0367), (10, 5.0, 0.0184), (1, 1.0, 0.5)],
)
def test_erlang_b_matches_the_published_table(agents, traffic, blocked):
    assert erlang_b(agents, traffic) == pytest.approx(blocked, abs=5e-5)


@pytest.mark.parametrize(("agents", "traffic"), [(10, 4.461), (50, 37.90), (100, 84.06)])
def test_erlang_b_capacity_at_one_percent_blocking_is_the_tables(agents, traffic):
    # Erlang B tables: 10, 50 and 100 lines carry 4.46, 37.9 and 84.06 Erlangs at 1 % loss.
    assert erlang_b(agents, traffic) == pytest.approx(0.01, abs=2e-5)


@pytest.mark.parametrize(
    ("agents", "waits"), [(11, 0.6821), (12, 0.4494), (13, 0.2853), (14, 0.1741), (15, 0.1020)]
)
def test_erlang_c_at_ten_erlangs_matches_the_published_table(agents, waits):
    assert erlang_c(agents, 10.0) == pytest.approx(waits, abs=5e-5)


@pytest.mark.parametrize(("agents", "traffic"), [(2, 1.0), (3, 2.0), (7, 5.5), (20, 17.3)])
def test_the_recursion_agrees_with_the_factorial_formula(agents, traffic):
    assert erlang_c(agents, traffic) == pytest.approx(textbook_erlang_c(agents, traffic))


def test_too_few_agents_always_wait():
    assert erlang_c(10, 10.0) == 1.0
    found = staffing(ISSUE, 9, Target())
    assert (found.service_level, found.asa_s) == (0.0, math.inf)


def test_the_issues_figures_fourteen_agents_for_eighty_percent():
    need = required(ISSUE, Target(service_level=0.8, answer_s=20))

    assert need.answering.agents == 14
    assert need.answering.service_level == pytest.approx(0.888, abs=0.0005)
    # ASA = C x AHT / (N - A); occupancy = A / N.
    assert need.answering.asa_s == pytest.approx(0.17413 * 180 / 4, abs=0.01)
    assert need.answering.occupancy == pytest.approx(10 / 14)
    assert need.rostered == 14


def test_the_issues_figures_thirteen_agents_for_seventy_nine_percent():
    need = required(ISSUE, Target(service_level=0.79, answer_s=20))

    assert need.answering.agents == 13
    assert need.answering.service_level == pytest.approx(0.796, abs=0.0005)


def test_the_occupancy_cap_adds_agents_the_service_level_does_not_need():
    # 14 agents meet 80 % in 20 s but are 71 % busy; at most 70 % takes 15.
    need = required(ISSUE, Target(service_level=0.8, answer_s=20, max_occupancy=0.7))

    assert need.answering.agents == 15
    assert need.answering.occupancy <= 0.7


def test_shrinkage_rosters_more_agents_than_answer():
    need = required(ISSUE, Target(service_level=0.8, answer_s=20, shrinkage=0.3))

    assert need.answering.agents == 14
    assert need.rostered == 20  # 14 / 0.7


def test_no_calls_need_no_agents():
    need = required(Demand(0, 1800, 180), Target())

    assert (need.answering.agents, need.rostered) == (0, 0)
    assert need.answering.service_level == 1.0


def test_large_traffic_is_computed_without_overflow():
    # 5,000 Erlangs: factorials would overflow a float long before.
    demand = Demand(calls=100_000, interval_s=3600, aht_s=180)
    need = required(demand, Target(service_level=0.8, answer_s=20))

    found = need.answering
    assert 5000 < found.agents < 5100
    assert math.isfinite(found.asa_s) and 0.8 <= found.service_level <= 1
    fewer = staffing(demand, found.agents - 1, Target(service_level=0.8, answer_s=20))
    assert fewer.service_level < 0.8


@pytest.mark.parametrize(
    "target",
    [
        {"service_level": 1.0},
        {"service_level": 0},
        {"max_occupancy": 0},
        {"max_occupancy": 1.2},
        {"shrinkage": 1.0},
        {"answer_s": -1},
    ],
)
def test_impossible_targets_are_refused(target):
    with pytest.raises(ValueError):
        Target(**target)


def test_a_demand_without_handling_time_is_refused():
    with pytest.raises(ValueError):
        Demand(calls=10, interval_s=1800, aht_s=0)
