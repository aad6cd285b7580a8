"""Erlang C: how many agents answer a number of calls in an interval within a target wait.

Calls arrive at random (Poisson) and wait in one queue for the first free agent; a call holds
its agent for the average handling time (talk and wrap-up). The traffic is calls x handling time
/ interval, in Erlangs: how many agents would be busy all the time. With N agents, Erlang C is
the chance that a call waits at all; from it come the service level (the share of calls
answered within the target seconds), the average speed of answer (ASA) and the occupancy.

Erlang B comes from its recursion, B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)), never from
factorials: it stays between 0 and 1 for any traffic, so a thousand Erlangs is as safe as ten.
Shrinkage (breaks, training, absence) is applied last: the agents to roster are those answering
divided by (1 - shrinkage), rounded up. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Far beyond any interval of a hotline: a search that gets here was asked the impossible.
MAX_AGENTS = 100_000


@dataclass(frozen=True)
class Demand:
    """Calls offered in an interval and how long each holds an agent."""

    calls: float
    interval_s: float
    aht_s: float

    def __post_init__(self) -> None:
        if self.calls < 0 or self.interval_s <= 0 or self.aht_s <= 0:
            raise ValueError("calls must be >= 0, interval and handling time > 0 seconds")

    @property
    def traffic(self) -> float:
        """The offered traffic in Erlangs: agents busy all the time to keep up."""
        return self.calls * self.aht_s / self.interval_s


@dataclass(frozen=True)
class Target:
    """What the staffing must achieve: a service level, an occupancy cap, a shrinkage."""

    service_level: float = 0.8
    answer_s: float = 20.0
    max_occupancy: float = 1.0
    shrinkage: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.service_level < 1:
            raise ValueError("the target service level must be between 0 and 1 (exclusive)")
        if self.answer_s < 0:
            raise ValueError("the target answer time must be >= 0 seconds")
        if not 0 < self.max_occupancy <= 1:
            raise ValueError("the maximum occupancy must be above 0 and at most 1")
        if not 0 <= self.shrinkage < 1:
            raise ValueError("shrinkage must be from 0 to below 1")


@dataclass(frozen=True)
class Staffing:
    """N agents answering a demand: the chance to wait, service level, ASA and occupancy."""

    agents: int
    traffic: float
    wait_probability: float
    service_level: float
    asa_s: float
    occupancy: float


@dataclass(frozen=True)
class Requirement:
    """The agents a demand needs: answering the phones, and rostered once shrinkage is added."""

    answering: Staffing
    rostered: int


def erlang_b(agents: int, traffic: float) -> float:
    """The chance that a call finds all agents busy with no queue (blocked), by recursion."""
    if agents < 0:
        raise ValueError("agents must be >= 0")
    blocked = 1.0
    for n in range(1, agents + 1):
        blocked = traffic * blocked / (n + traffic * blocked)
    return blocked


def erlang_c(agents: int, traffic: float) -> float:
    """The chance that a call waits: 1 when the agents cannot keep up with the traffic."""
    return _c_from_b(agents, traffic, erlang_b(agents, traffic))


def staffing(demand: Demand, agents: int, target: Target) -> Staffing:
    """How N agents answering the demand fare against the target's answer time."""
    return _staffing(demand, agents, target, erlang_b(agents, demand.traffic))


def required(demand: Demand, target: Target) -> Requirement:
    """The fewest agents meeting the service level within the occupancy cap, then shrinkage."""
    traffic = demand.traffic
    if traffic == 0:
        return Requirement(_staffing(demand, 0, target, 1.0), 0)
    # Fewer agents than the traffic never catch up: start at the first N that can.
    agents = math.floor(traffic) + 1
    blocked = erlang_b(agents, traffic)
    while True:
        found = _staffing(demand, agents, target, blocked)
        meets = found.service_level >= target.service_level
        if meets and found.occupancy <= target.max_occupancy:
            return Requirement(found, math.ceil(agents / (1 - target.shrinkage) - 1e-9))
        if agents >= MAX_AGENTS:
            raise ValueError(f"more than {MAX_AGENTS} agents: check the demand")
        agents += 1
        # One more step of the same recursion: the search stays linear in N.
        blocked = traffic * blocked / (agents + traffic * blocked)


def _staffing(demand: Demand, agents: int, target: Target, blocked: float) -> Staffing:
    """Build the figures for N agents from Erlang B at N."""
    traffic = demand.traffic
    if traffic == 0:
        return Staffing(agents, 0.0, 0.0, 1.0, 0.0, 0.0)
    waits = _c_from_b(agents, traffic, blocked)
    if agents <= traffic:
        # The queue only grows: nobody is answered in time on average, the wait has no end.
        return Staffing(agents, traffic, 1.0, 0.0, math.inf, 1.0)
    spare = agents - traffic
    level = 1 - waits * math.exp(-spare * target.answer_s / demand.aht_s)
    asa = waits * demand.aht_s / spare
    return Staffing(agents, traffic, waits, max(0.0, level), asa, traffic / agents)


def _c_from_b(agents: int, traffic: float, blocked: float) -> float:
    """Erlang C from Erlang B at the same N and traffic."""
    if agents <= traffic:
        return 1.0
    return agents * blocked / (agents - traffic * (1 - blocked))
