"""Agents in Redis: the roster imported atomically, presence set by people, shifts kept current.

Presence (`available`, `on_break`, `offline`) is what a person says; activity (`idle`,
`reserved`, `talking`, `wrap_up`) is what routing derives. An agent sits in the pools the
matcher draws from exactly while they are available, idle, on shift and cooled down.

PINs are stored only as salted scrypt hashes: in the agent hash's `pin` field and, as
`pin_hash`, in the stored roster text. Plain PINs left in Redis by a version before hashing are
handled as they are met: a matching plain PIN in an agent hash is hashed at that agent's first
login, and the stored roster's are hashed (with the agents' own) the first time it is read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import yaml
from redis import Redis

from queues import events, keys
from queues.script import RoutingScript
from routing.matching import CAPPED, OPEN, RoutingPolicy, agent_pools
from routing.pins import hash_pin, is_pin_hash, is_plain_pin, pin_matches
from routing.roster import (
    Agent,
    DatedException,
    Roster,
    Shift,
    export_roster,
    hash_pins,
    next_shift_change,
    on_shift,
)
from routing.yamldoc import dump_yaml

PRESENCES = ("available", "on_break", "offline")
# Shift changes handled per sweep; more wait for the next one.
SHIFT_BATCH = 200
# A crisis call whose end is never reported frees its agent after this long.
CRISIS_CALL_LIMIT_S = 2 * 3600
# A crisis taker's legs are first looked up this long after they take the call, then as often as
# any call's (`queues.sweep.LegChecks`): soon, since a lost end keeps them out of routing.
CRISIS_LEG_CHECK_AFTER_S = 15.0
# A stored roster line with a plain PIN, as versions before hashing wrote it.
_PLAIN_PIN_LINE = re.compile(r"^[ -]*pin:", re.MULTILINE)
# Replace a plain PIN by its hash only if it is still the one read (a new login or import wins).
_REHASH_PIN = """
if redis.call('HGET', KEYS[1], 'pin') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'pin', ARGV[2])
end
return 1
"""
# Store the roster with its PINs hashed only if nobody imported another meanwhile, and hash the
# same plain PINs in the agents' hashes. ARGV: old text, new text, then a plain PIN and its hash
# for each agent key after the first key.
_HASH_STORED_PINS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
for i = 2, #KEYS do
  if redis.call('HGET', KEYS[i], 'pin') == ARGV[2 * i - 1] then
    redis.call('HSET', KEYS[i], 'pin', ARGV[2 * i])
  end
end
return 1
"""


@dataclass(frozen=True)
class AgentStatus:
    """An agent as ops see them: presence, routing activity, shift and recovery state."""

    id: str
    name: str
    presence: str
    activity: str
    on_shift: bool
    free: bool
    tier: str
    languages: tuple[str, ...]
    skills: dict[str, int]
    crisis_trained: bool
    misses: int
    paused: str
    reservation: str
    idle_since: float
    wrap_until: float
    cool_until: float

    @property
    def status(self) -> str:
        """One word for a wallboard: the routing activity wins over presence when busy."""
        return self.activity if self.activity != "idle" else self.presence


@dataclass(frozen=True)
class ImportReport:
    """What a roster import changed: agents added and removed, and the total."""

    added: list[str]
    removed: list[str]
    total: int


@dataclass(frozen=True)
class PresenceChange:
    """A presence change and what it undid (a pause after missed calls)."""

    agent_id: str
    before: str
    after: str
    was_paused: bool


class UnknownAgent(LookupError):
    """Raised for an agent id that is not on the current roster."""


def utc(now: float) -> datetime:
    """An epoch instant as an aware datetime, for shift checks."""
    return datetime.fromtimestamp(now, UTC)


class AgentBoard:
    """Reads and writes agents in Redis; the only owner of the agent and pool keys."""

    def __init__(self, redis: Redis, policy: RoutingPolicy, *, script: RoutingScript | None = None):
        self.redis = redis
        self.policy = policy
        self.script = script or RoutingScript(redis, policy)

    def import_roster(
        self, roster: Roster, now: float, *, presence: str = "offline"
    ) -> ImportReport:
        """Replace the set of agents with a roster in one step; new agents start in `presence`."""
        if presence not in PRESENCES:
            raise ValueError(f"unknown presence {presence!r}")
        roster = hash_pins(roster)
        payload = {
            "agents": [self._entry(agent, now) for agent in roster.agents],
            "presence": presence,
            "roster": export_roster(roster),
        }
        answer = self.script.run("import", now, json.dumps(payload, ensure_ascii=False))
        added, removed = _json_list(answer[1]), _json_list(answer[2])
        events.append(
            self.redis,
            "roster-imported",
            at=f"{now:.3f}",
            agents=len(roster.agents),
            added=len(added),
            removed=len(removed),
        )
        return ImportReport(added, removed, len(roster.agents))

    def _entry(self, agent: Agent, now: float) -> dict[str, str]:
        """The fields of one agent for the import step, pools and shift state included."""
        pools = agent_pools(agent.skills)
        change = next_shift_change(agent, utc(now))
        return {
            "id": agent.id,
            "name": agent.name,
            "phone": agent.phone,
            "languages": " ".join(agent.languages),
            "skills": " ".join(f"{area}:{level}" for area, level in sorted(agent.skills.items())),
            "crisis_trained": "1" if agent.crisis_trained else "0",
            "pin": agent.pin_hash or "",
            "schedule": json.dumps(_schedule(agent)),
            "pools": _pool_keys(pools, agent.languages, OPEN),
            "capped_pools": _pool_keys(pools, agent.languages, CAPPED),
            "crisis_pools": " ".join(keys.crisis_pool(lang) for lang in agent.languages)
            if agent.crisis_trained
            else "",
            "queues": " ".join(
                f"{area} {keys.waiting(area, language)}"
                for area in self.policy.areas
                for language in agent.languages
            ),
            "on_shift": "1" if on_shift(agent, utc(now)) else "0",
            "next_change": repr(change.timestamp()) if change else "",
        }

    def roster_text(self) -> str | None:
        """The current roster as YAML (as export_roster wrote it at import), or None."""
        raw = self.redis.get(keys.roster())
        if raw is None:
            return None
        text = raw.decode()
        return self._hash_stored_pins(text) if _PLAIN_PIN_LINE.search(text) else text

    def _hash_stored_pins(self, text: str) -> str | None:
        """Hash plain PINs stored before hashing, in the roster text and the agents, once."""
        hashed, pins = _hash_plain_pins(text)
        store = self.redis.register_script(_HASH_STORED_PINS)
        args = [text, hashed, *(value for pair in pins.values() for value in pair)]
        if store(keys=[keys.roster(), *map(keys.agent, pins)], args=args):
            events.append(self.redis, "roster-pins-hashed", agents=len(pins))
            return hashed
        # Another import came first, and wrote hashes of its own: that roster is the current one.
        raw = self.redis.get(keys.roster())
        if raw is None:
            return None
        current = raw.decode()
        return _hash_plain_pins(current)[0] if _PLAIN_PIN_LINE.search(current) else current

    def set_presence(self, agent_id: str, presence: str, now: float) -> PresenceChange:
        """Set what an agent says they are: available, on_break or offline."""
        if presence not in PRESENCES:
            raise ValueError(f"unknown presence {presence!r}; use {', '.join(PRESENCES)}")
        answer = self.script.run("presence", now, agent_id, presence)
        if answer[0] == "unknown":
            raise UnknownAgent(agent_id)
        before, paused = answer[1], answer[3]
        if before != presence:
            events.append(
                self.redis,
                "presence",
                at=f"{now:.3f}",
                agent=agent_id,
                presence=presence,
                before=before,
            )
        return PresenceChange(agent_id, before, presence, bool(paused))

    def engage_crisis(self, agent_id: str, call_sid: str, now: float) -> bool:
        """Take an agent out of routing while they talk to a crisis caller; False if busy."""
        stale_at = now + CRISIS_CALL_LIMIT_S
        check_at = now + CRISIS_LEG_CHECK_AFTER_S
        answer = self.script.run(
            "crisis_engage", now, agent_id, call_sid, repr(stale_at), repr(check_at)
        )
        return answer[0] == "engaged"

    def crisis_call(self, agent_id: str) -> str:
        """The crisis call an agent is talking on, or "" when none."""
        value = self.redis.hget(keys.agent(agent_id), "crisis_call")
        return value.decode() if value else ""

    def release_crisis(self, agent_id: str, call_sid: str, now: float) -> float | None:
        """End an agent's crisis call: it counts as heavy; return when their wrap-up ends."""
        answer = self.script.run(
            "crisis_release", now, agent_id, call_sid, self.policy.crisis_wrap_up_s
        )
        return float(answer[1]) if answer[0] == "released" else None

    def refresh_shifts(self, now: float, *, limit: int = SHIFT_BATCH) -> list[str]:
        """Apply shift starts and ends that came due; return agents who became free."""
        due = self.redis.zrangebyscore(keys.due_shift_changes(), "-inf", now, start=0, num=limit)
        freed = []
        for raw in due:
            agent_id = raw.decode()
            schedule = self.redis.hget(keys.agent(agent_id), "schedule")
            if schedule is None:
                self.redis.zrem(keys.due_shift_changes(), agent_id)
                continue
            agent = _agent_from_schedule(agent_id, json.loads(schedule))
            working = on_shift(agent, utc(now))
            change = next_shift_change(agent, utc(now))
            answer = self.script.run(
                "shift",
                now,
                agent_id,
                "1" if working else "0",
                repr(change.timestamp()) if change else "",
            )
            if answer[0] == "changed":
                events.append(
                    self.redis,
                    "shift-start" if working else "shift-end",
                    at=f"{now:.3f}",
                    agent=agent_id,
                )
            if answer[0] != "unknown" and answer[1] == "1":
                freed.append(agent_id)
        return freed

    def get(self, agent_id: str) -> AgentStatus | None:
        """Return an agent's status, or None when not on the roster."""
        raw = self.redis.hgetall(keys.agent(agent_id))
        if not raw or raw.get(b"removed") == b"1":
            return None
        return _status(agent_id, {k.decode(): v.decode() for k, v in raw.items()})

    def ids(self) -> list[str]:
        """Every agent id on the current roster, sorted."""
        return sorted(member.decode() for member in self.redis.smembers(keys.agents()))

    def all(self) -> list[AgentStatus]:
        """Every agent's status, sorted by id."""
        statuses = [self.get(agent_id) for agent_id in self.ids()]
        return [status for status in statuses if status is not None]

    def phone(self, agent_id: str) -> str | None:
        """The number to ring an agent on, or None when unknown."""
        value = self.redis.hget(keys.agent(agent_id), "phone")
        return value.decode() if value is not None else None

    def free_crisis_agents(self, language: str, *, limit: int = 20) -> list[str]:
        """Free crisis-trained agents who speak a language, longest idle first."""
        members = self.redis.zrange(keys.crisis_pool(language), 0, limit - 1)
        return [member.decode() for member in members]

    def free_count(self, area: str, language: str) -> int:
        """How many agents could take a call in an area and language right now, at any level."""
        pipe = self.redis.pipeline(transaction=False)
        for pool in self.free_pools(area, language):
            pipe.zcard(pool)
        return sum(pipe.execute())

    @staticmethod
    def free_pools(area: str, language: str) -> list[str]:
        """The sorted sets whose sizes add up to `free_count`, for a reader batching its reads."""
        return [
            keys.agent_pool(area, language, level, tier)
            for level in (1, 2, 3)
            for tier in (OPEN, CAPPED)
        ]


def check_pin(redis: Redis, agent_id: str, pin: str) -> bool:
    """Tell whether a keyed PIN is a current agent's, with the same slow work either way."""
    key = keys.agent(agent_id)
    stored, removed = redis.hmget(key, ["pin", "removed"])
    text = stored.decode() if stored and removed != b"1" else None
    if not pin_matches(text, pin):
        return False
    if text is not None and not is_pin_hash(text):
        # A plain PIN from before hashing: right once, and never kept plain again.
        redis.register_script(_REHASH_PIN)(keys=[key], args=[text, hash_pin(pin)])
    return True


def _hash_plain_pins(text: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """A stored roster with its plain PINs hashed in place, and each agent's (plain PIN, hash)."""
    document = yaml.safe_load(text)
    pins: dict[str, tuple[str, str]] = {}
    agents = (document.get("agents") if isinstance(document, dict) else None) or []
    for index, entry in enumerate(agents):
        if not isinstance(entry, dict) or entry.get("pin") is None:
            continue
        plain = str(entry["pin"])
        hashed = hash_pin(plain) if is_plain_pin(plain) else ""
        if hashed:
            pins[str(entry.get("id"))] = (plain, hashed)
        # The hash takes the plain PIN's place; a value that is no PIN is dropped.
        agents[index] = {
            ("pin_hash" if name == "pin" else name): (hashed if name == "pin" else value)
            for name, value in entry.items()
            if name != "pin" or hashed
        }
    dumped = dump_yaml(document)
    return dumped, pins


def _pool_keys(pools: list[tuple[str, int]], languages: tuple[str, ...], tier: str) -> str:
    """The pool keys an agent joins, space-separated, for one tier."""
    return " ".join(
        keys.agent_pool(area, language, level, tier)
        for area, level in pools
        for language in languages
    )


def _schedule(agent: Agent) -> dict[str, Any]:
    """An agent's shifts in a compact form kept beside them in Redis."""
    return {
        "timezone": agent.timezone,
        "shifts": [[s.weekday, s.start, s.end] for s in agent.shifts],
        "exceptions": [[e.day.isoformat(), e.start, e.end] for e in agent.exceptions],
    }


def _agent_from_schedule(agent_id: str, schedule: dict[str, Any]) -> Agent:
    """Rebuild enough of an agent from its stored schedule to check shifts."""
    return Agent(
        id=agent_id,
        name="",
        phone="",
        languages=(),
        skills={},
        shifts=tuple(Shift(*item) for item in schedule["shifts"]),
        exceptions=tuple(
            DatedException(date.fromisoformat(day), start, end)
            for day, start, end in schedule["exceptions"]
        ),
        timezone=schedule["timezone"],
    )


def _status(agent_id: str, data: dict[str, str]) -> AgentStatus:
    """Build an agent's status from their hash."""
    skills = {}
    for item in data.get("skills", "").split():
        area, _, level = item.partition(":")
        skills[area] = int(level)
    return AgentStatus(
        id=agent_id,
        name=data.get("name", ""),
        presence=data.get("presence", "offline"),
        activity=data.get("activity", "idle"),
        on_shift=data.get("on_shift") == "1",
        free=bool(data.get("in_pools")),
        tier=data.get("in_pools", ""),
        languages=tuple(data.get("languages", "").split()),
        skills=skills,
        crisis_trained=data.get("crisis_trained") == "1",
        misses=int(data.get("misses") or 0),
        paused=data.get("paused", ""),
        reservation=data.get("reservation", ""),
        idle_since=float(data.get("idle_since") or 0),
        wrap_until=float(data.get("wrap_until") or 0),
        cool_until=float(data.get("cool_until") or 0),
    )


def _json_list(text: str) -> list[str]:
    """Decode a JSON list from the script (cjson renders an empty table as {})."""
    value = json.loads(text)
    return list(value) if isinstance(value, list) else []
