"""Eligibility: which agent may take which call, written once for routing, estimates and rosters.

An agent may take a call of an area in a language when they speak the language and take the
area (at the level a widening step asks for), or, when the step allows it, take the general
area at any level: general agents take anything. Routing asks it of a free agent at the call's
current step; the waiting room's estimate asks it of every agent on duty; roster coverage asks
it of every agent on the roster. Pure: no clock, no Redis.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol


class Skilled(Protocol):
    """An agent as eligibility sees them: the languages they speak, their level in each area."""

    @property
    def languages(self) -> Collection[str]: ...

    @property
    def skills(self) -> Mapping[str, int]: ...


class OnDuty(Skilled, Protocol):
    """An agent whose shift and presence are known (routing's live view of them)."""

    @property
    def on_shift(self) -> bool: ...

    @property
    def presence(self) -> str: ...


def may_take(
    agent: Skilled,
    area: str,
    language: str,
    *,
    general_area: str,
    min_level: int = 1,
    general: bool = True,
) -> bool:
    """Tell whether an agent may take a call of an area in a language, at a step's level."""
    if language not in agent.languages:
        return False
    if agent.skills.get(area, 0) >= min_level:
        return True
    return general and agent.skills.get(general_area, 0) > 0


def is_staffing(agent: OnDuty, area: str, language: str, *, general_area: str) -> bool:
    """Tell whether an agent on shift and not offline could take such a call, busy or not."""
    return (
        agent.on_shift
        and agent.presence != "offline"
        and may_take(agent, area, language, general_area=general_area)
    )
