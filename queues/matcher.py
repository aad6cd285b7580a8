"""The atomic match: a waiting call and a free agent become one reservation, or nothing changes.

The policy (`routing.matching`) says which pools or queues to look at, in what order (the
routing script holds its answers as tables); the script looks at the head of each (O(log n)
apiece) and reserves both sides in the same atomic step, offer event included, so no agent is
offered two calls and no call two agents, whatever the number of processes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from redis import Redis

from queues.script import RoutingScript
from routing.matching import RoutingPolicy


@dataclass(frozen=True)
class Match:
    """A reservation just made: who is offered which call, until when."""

    reservation_id: str
    call_sid: str
    agent_id: str
    area: str
    language: str
    kind: str
    over_cap: bool
    expires_at: float


def new_reservation_id() -> str:
    """A fresh reservation id; it also names the conference where both sides meet."""
    return "RS" + uuid.uuid4().hex


class Matcher:
    """Matches calls to agents in Redis, atomically, following the routing policy."""

    def __init__(self, redis: Redis, policy: RoutingPolicy, *, script: RoutingScript | None = None):
        self.redis = redis
        self.policy = policy
        self.script = script or RoutingScript(redis, policy)

    def match_call(self, call_sid: str, now: float) -> Match | None:
        """Find the best free agent for a waiting call (on queueing and every poll)."""
        answer = self.script.run(
            "match_call",
            now,
            call_sid,
            new_reservation_id(),
            repr(now + self.policy.reservation_timeout_s),
        )
        return self._matched(answer, now)

    def match_agent(self, agent_id: str, now: float) -> Match | None:
        """Find the best waiting call for an agent who just became free.

        An agent at their heavy-call cap whose best call is heavy defers to that call's own
        match, which prefers anyone under the cap: the match returned may then be another
        agent's, and is to be dispatched all the same.
        """
        answer = self.script.run(
            "match_agent",
            now,
            agent_id,
            new_reservation_id(),
            repr(now + self.policy.reservation_timeout_s),
        )
        if answer[0] == "heavy":
            return self.match_call(answer[1], now)
        return self._matched(answer, now)

    def match_agents(self, agent_ids: list[str], now: float) -> list[Match]:
        """Match each of several newly free agents, in order."""
        found = (self.match_agent(agent_id, now) for agent_id in agent_ids)
        return [match for match in found if match is not None]

    def _matched(self, answer: list[str], now: float) -> Match | None:
        """Read a match from the script's answer (the script recorded the offer event)."""
        if answer[0] != "matched":
            return None
        _, agent, call, rid, area, language, kind, over_cap = answer[:8]
        return Match(
            reservation_id=rid,
            call_sid=call,
            agent_id=agent,
            area=area,
            language=language,
            kind=kind,
            over_cap=over_cap == "1",
            expires_at=now + self.policy.reservation_timeout_s,
        )
