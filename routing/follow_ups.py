"""Who calls a follow-up's caller back: pure decisions over the roster, `now` passed in.

A follow-up (an unsatisfied rating, or an outcome code that owes the caller another call) is
called back by a callback task routed like any callback. To the area, it avoids the agent the
caller was unhappy with whenever another agent on shift could take it. To a supervisor, it is
kept to the supervisors on call who also take routed calls: the roster names them as agents too
(the same phone number), so the task rings them with the same whisper, accept key, one offer at
a time and retries as any call; a supervisor who is not also an agent has no presence the
hotline could read, and would be rung in the middle of another call. With no such supervisor
on call, the task goes to the area.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from routing.roster import Agent, Roster, on_call, on_shift

# Why a follow-up is owed: the caller's rating, or the agent's outcome code at wrap-up.
REASONS = ("rating", "outcome")
# The prefix of a follow-up's callback task in the waiting room: `fu-{call_sid}`.
TASK_PREFIX = "fu-"


@dataclass(frozen=True)
class Route:
    """Where a follow-up's callback task goes: its area and who may or may not take it."""

    target: str
    avoid: str = ""
    only: tuple[str, ...] = ()


def task_id(call_sid: str) -> str:
    """The waiting-room id of a follow-up's callback task."""
    return f"{TASK_PREFIX}{call_sid}"


def call_of(task: str) -> str | None:
    """The call a follow-up task calls back about, or None for any other call id."""
    return task[len(TASK_PREFIX) :] if task.startswith(TASK_PREFIX) else None


def supervisor_agents(roster: Roster, language: str, now: datetime) -> tuple[str, ...]:
    """Agents who are also a supervisor on call now (same phone) and speak the language."""
    phones = {supervisor.phone for supervisor in on_call(roster, now)}
    return tuple(
        agent.id
        for agent in roster.agents
        if agent.phone in phones and language in agent.languages and on_shift(agent, now)
    )


def _could_take(agent: Agent, area: str, general_area: str, language: str, now: datetime) -> bool:
    """Whether an agent could be offered a call of an area and language now (skill, shift)."""
    skilled = agent.level(area) > 0 or agent.level(general_area) > 0
    return skilled and language in agent.languages and on_shift(agent, now)


def route(
    roster: Roster | None,
    *,
    target: str,
    area: str,
    general_area: str,
    language: str,
    unhappy_with: str,
    now: datetime,
) -> Route:
    """Decide who a follow-up's callback task may be offered to."""
    if roster is None:
        return Route("area", avoid=unhappy_with)
    if target == "supervisor":
        supervisors = tuple(
            agent for agent in supervisor_agents(roster, language, now) if agent != unhappy_with
        )
        if supervisors:
            return Route("supervisor", only=supervisors)
    others = [
        agent
        for agent in roster.agents
        if agent.id != unhappy_with and _could_take(agent, area, general_area, language, now)
    ]
    # Never the same agent when another could take it; when nobody else could, the caller is
    # still called back rather than left waiting for an agent who never comes.
    return Route("area", avoid=unhappy_with if others else "")
