"""The sweep: timers that came due and repairs after a crash, then the matches they allow.

Reservations that rang out, wrap-ups and cool-downs that ended, heavy-call caps that lifted,
shifts that started or ended, callbacks due for another try and calls whose skill requirement
widened: each is handled once however many sweeps run, since the script takes a due entry out
in the same step that acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from redis import Redis

from queues import events
from queues.agents import AgentBoard
from queues.matcher import Match, Matcher
from queues.reservations import Reservations, Transition
from queues.script import RoutingScript
from routing.matching import RoutingPolicy

# Due entries of each kind handled per sweep; a backlog is worked off by the next sweeps.
SWEEP_BATCH = 500


@dataclass
class SweepReport:
    """What one sweep did, and the reservations it made (each needs its agent rung)."""

    timeouts: list[Transition] = field(default_factory=list)
    wrap_ups_ended: list[str] = field(default_factory=list)
    freed: list[str] = field(default_factory=list)
    cap_releases: list[str] = field(default_factory=list)
    callbacks_due: list[str] = field(default_factory=list)
    widened: list[str] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)


def sweep(
    redis: Redis, policy: RoutingPolicy, now: float, *, limit: int = SWEEP_BATCH
) -> SweepReport:
    """Handle every timer due at `now` and match what they freed; return what happened."""
    script = RoutingScript(redis, policy)
    answer = script.run("tick", now, limit, policy.cool_down_s, policy.pause_after)
    report = _read_tick(answer)
    reservations = Reservations(redis, policy, script=script)
    for transition in report.timeouts:
        reservations.record_miss(transition, now)
    for agent_id in report.wrap_ups_ended:
        events.append(redis, "wrap-up-end", at=f"{now:.3f}", agent=agent_id)
    report.freed.extend(AgentBoard(redis, policy, script=script).refresh_shifts(now, limit=limit))
    matcher = Matcher(redis, policy, script=script)
    # Freed agents first: each takes the best call waiting (priority, then the longest wait),
    # so a caller who rang out does not jump ahead of those who waited longer.
    # An agent who rang out is free again at once only when there is no cool-down.
    timed_out = [t.agent_id for t in report.timeouts] if policy.cool_down_s == 0 else []
    freed = list(dict.fromkeys(report.freed + report.cap_releases + timed_out))
    report.matches.extend(matcher.match_agents(freed, now))
    calls = [t.call_sid for t in report.timeouts] + report.callbacks_due + report.widened
    for call_sid in dict.fromkeys(calls):
        match = matcher.match_call(call_sid, now)
        if match is not None:
            report.matches.append(match)
    return report


def _read_tick(answer: list[str]) -> SweepReport:
    """Read the flat answer of the tick operation."""
    report = SweepReport()
    index = 0
    while index < len(answer):
        kind = answer[index]
        if kind == "timeout":
            rid, agent, call, misses, paused = answer[index + 1 : index + 6]
            report.timeouts.append(
                Transition(rid, "timeout", True, agent, call, int(misses), paused == "1")
            )
            index += 6
        elif kind == "wrap-up-end":
            report.wrap_ups_ended.append(answer[index + 1])
            if answer[index + 2] == "1":
                report.freed.append(answer[index + 1])
            index += 3
        else:
            target = {
                "free": report.freed,
                "cap-release": report.cap_releases,
                "callback-due": report.callbacks_due,
                "widen": report.widened,
            }[kind]
            target.append(answer[index + 1])
            index += 2
    return report
