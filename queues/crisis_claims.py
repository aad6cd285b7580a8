"""Who took a crisis call: the claim, owner of the `crisis-taker` key.

Every free crisis-trained agent is rung at once, then perhaps the supervisors; the first to
press 1 wins the call atomically (SET NX), and everyone after them hears it was taken. The
winner is written on the call's record (with the leg they talk on, for the leg check) and, for
an agent, taken out of routing until the call ends; the call's end, or a leg check that finds
a leg gone, releases them into the long wrap-up of a heavy call.
"""

from __future__ import annotations

from redis import Redis

from queues import keys
from queues.agents import AgentBoard
from queues.calls import CallStore
from queues.script import RoutingScript
from routing.matching import RoutingPolicy

# How long who took a crisis call is remembered (longer than any call).
CLAIM_TTL_S = 2 * 3600


class CrisisClaims:
    """The claims on crisis calls, and the agents they take out of routing."""

    def __init__(
        self,
        redis: Redis,
        policy: RoutingPolicy,
        *,
        script: RoutingScript | None = None,
        calls: CallStore | None = None,
    ):
        self.redis = redis
        # The call records the winner is written on (the app shares one store per process).
        self.calls = CallStore(redis) if calls is None else calls
        self.board = AgentBoard(redis, policy, script=script)

    def claim(self, call_sid: str, taker_id: str) -> bool:
        """Make `taker_id` the one who took the call; False when someone else was first."""
        return bool(self.redis.set(keys.crisis_taker(call_sid), taker_id, nx=True, ex=CLAIM_TTL_S))

    def taker(self, call_sid: str) -> str | None:
        """Who took the call, if anyone did."""
        value = self.redis.get(keys.crisis_taker(call_sid))
        return value.decode() if value else None

    def engage(self, call_sid: str, taker_id: str, role: str, taker_leg: str, now: float) -> None:
        """Record the winner on the call, and take an agent out of routing while they talk."""
        self.calls.update(
            call_sid, heavy="1", crisis_taker=taker_id, crisis_taker_leg=taker_leg or None
        )
        if role == "agent":
            # Routing must not offer them a call, nor another crisis ring them, meanwhile.
            self.board.engage_crisis(taker_id, call_sid, now)

    def release(self, call_sid: str, taker_id: str, now: float) -> float | None:
        """The call ended: free its taker into heavy wrap-up; its end, or None if not theirs."""
        # A crisis call is heavy: the agent gets the long wrap-up and it counts to the cap.
        return self.board.release_crisis(taker_id, call_sid, now)
