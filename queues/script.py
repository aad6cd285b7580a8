"""The routing script: every change to agents, waiting calls and reservations, run atomically.

One Lua script (queues/routing.lua) holds every transition, so no two processes ever see or
make a half-done change: an agent leaves every pool in the same step that reserves them, a call
leaves its queue in the same step that reserves it. Keys are built from prefixes that
`queues.keys` returns for an empty id, so key formats still live in one module.
"""

from __future__ import annotations

import hashlib
from importlib import resources

from redis import Redis
from redis.exceptions import NoScriptError

from queues import events, keys
from routing.matching import (
    CLASS_SPAN,
    LEVELS,
    PRIORITY_CLASSES,
    RoutingPolicy,
    WaitingCall,
    call_sources,
    search_order,
)

# Finished reservations and calls are kept this long for reports, then expire.
FINISHED_TTL_S = 7 * 24 * 3600
# Talk times kept per area for wait estimates.
HANDLE_TIMES_KEPT = 100

# The script itself is routing.lua beside this module, shipped as package data; the Python
# here only fills in its placeholders and runs it.
_LUA = resources.files("queues").joinpath("routing.lua").read_text(encoding="utf-8")


def _source(policy: RoutingPolicy) -> str:
    """The script with every key prefix filled in from queues.keys, and the policy's tables."""
    fills = {
        "EVENTS": keys.events(),
        "AGENT": keys.agent(""),
        "HEAVY": keys.agent_heavy_calls(""),
        "QUEUED": keys.queued_call(""),
        "RES": keys.reservation(""),
        "HANDLE": keys.handle_times(""),
        "AGENTS": keys.agents(),
        "ROSTER": keys.roster(),
        "DUE_RES": keys.due_reservations(),
        "DUE_WRAP": keys.due_wrap_ups(),
        "DUE_COOL": keys.due_cool_downs(),
        "DUE_CAP": keys.due_cap_releases(),
        "DUE_SHIFT": keys.due_shift_changes(),
        "DUE_WIDEN": keys.due_widenings(),
        "DUE_CALLBACK": keys.due_callbacks(),
        "DUE_LEGS": keys.due_leg_checks(),
        "DUE_HELD": keys.due_held_calls(),
        "TRANSFER": keys.transfer(""),
        "PARKED": keys.transfer_parking(),
    }
    text = _LUA
    for name, value in fills.items():
        text = text.replace(f"'@{name}@'", f"'{value}'")
    numbers = {
        "SPAN": repr(CLASS_SPAN),
        "CLASSES": str(len(PRIORITY_CLASSES)),
        "TTL": str(FINISHED_TTL_S),
        "KEPT": str(HANDLE_TIMES_KEPT),
        "MAX_EVENTS": str(events.MAX_EVENTS),
        **_policy_tables(policy),
    }
    for name, value in numbers.items():
        text = text.replace(f"@{name}@", value)
    return text


def _policy_tables(policy: RoutingPolicy) -> dict[str, str]:
    """The policy's decisions for every area, step and level, as Lua for the script."""
    plans: dict[str, dict[str, list[dict[str, object]]]] = {}
    for area, area_policy in policy.areas.items():
        plans[area] = {}
        for language in policy.languages:
            steps = []
            for step in area_policy.steps:
                # search_order only looks at the wait, so a call that arrived `after_s` ago
                # stands for every call at this step.
                steps.append(
                    {
                        "after": step.after_s,
                        "normal": _groups(policy, area, language, step.after_s, heavy=False),
                        "heavy": _groups(policy, area, language, step.after_s, heavy=True),
                    }
                )
            plans[area][language] = steps
    qualify = {
        area: {
            level: -source.latest_arrival
            for level in LEVELS
            for source in call_sources(policy, {area: level}, ["-"], 0.0)
            if source.area == area
        }
        for area in policy.areas
    }
    general = {
        policy.general_area: {
            source.area: -source.latest_arrival
            for source in call_sources(policy, {policy.general_area: 1}, ["-"], 0.0)
            if source.area != policy.general_area
        }
    }
    branches = [
        f"  if area == {_lua(area)} and language == {_lua(language)} then return {_lua(steps)} end"
        for area, by_language in plans.items()
        for language, steps in by_language.items()
    ]
    return {"PLANS": "\n".join(branches), "QUALIFY": _lua(qualify), "GENERAL": _lua(general)}


def _groups(
    policy: RoutingPolicy, area: str, language: str, waited: float, *, heavy: bool
) -> list[dict[str, object]]:
    """The pool groups for a call at a wait, with each group's pool keys."""
    call = WaitingCall("-", area, language, 0.0, heavy=heavy)
    return [
        {
            "over_cap": "1" if heavy and group.over_cap else "0",
            "pools": [
                keys.agent_pool(pool_area, language, level, tier)
                for pool_area, level in group.pools
                for tier in group.tiers
            ],
        }
        for group in search_order(policy, call, waited)
    ]


def _lua(value: object) -> str:
    """Render plain data (dicts, lists, strings, numbers) as a Lua table constructor."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "{" + ", ".join(_lua(item) for item in value) + "}"
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class RoutingScript:
    """Runs routing operations in Redis; each call is one atomic step."""

    def __init__(self, redis: Redis, policy: RoutingPolicy):
        self.redis = redis
        self.policy = policy
        self.source = _source(policy)
        # Redis names scripts by SHA-1 (EVALSHA): an identifier, not a security digest.
        self.sha = hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    def run(self, op: str, now: float, *args: object) -> list[str]:
        """Run one operation at an instant and return its answer as strings."""
        argv = [op, repr(float(now)), self.policy.heavy_cap, self.policy.heavy_window_s]
        argv.extend("" if arg is None else arg for arg in args)
        try:
            answer = self.redis.evalsha(self.sha, 0, *argv)
        except NoScriptError:
            # First use on this server (or after a restart): load it, then run it.
            self.redis.script_load(self.source)
            answer = self.redis.evalsha(self.sha, 0, *argv)
        return [_text(item) for item in answer]


def _text(value: object) -> str:
    """Decode one item of a script's answer."""
    if isinstance(value, bytes):
        return value.decode()
    return "" if value is None else str(value)
