"""The routing benchmark: match decisions per second and latency on a real Redis.

`run(url)` fills the database with agents across 7 areas x 3 levels x 2 languages and a crowd
of waiting callers, then times match decisions (a call queued or re-polled, an agent freed)
among random presence changes, at 10,000 waiting and again at 100 waiting. A decision must
not slow down as the queue grows, so the ratio between the two is printed as well.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from redis import Redis

from queues import keys
from queues.agents import AgentBoard
from queues.matcher import Match, Matcher
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.waiting import WaitingRoom
from routing.matching import RoutingPolicy, default_policy
from routing.roster import Agent, Roster, Shift

AREAS = ("family", "labor", "contract", "traffic", "criminal", "corporate", "general")
LANGUAGES = ("zh", "en")
# A fixed instant keeps runs comparable; the bench never waits on the clock.
START = 1_796_176_800.0
DECISIONS = 8000
# Decisions come from several processes at once, as from the web and worker processes.
PROCESSES = 3
# Decisions each process makes back to back between pauses for presence changes and hang-ups.
BURST = 200
SMALL_QUEUE = 100


def run(
    redis_url: str,
    *,
    waiting: int = 10_000,
    agents: int = 2_000,
    decisions: int = DECISIONS,
    processes: int = PROCESSES,
    seed: int = 7,
    out: Callable[[str], None] = print,
) -> dict[str, float]:
    """Run the routing benchmark on an empty database and print its figures."""
    redis = Redis.from_url(redis_url)
    if redis.dbsize():
        raise RuntimeError(f"the benchmark needs an empty database; {redis_url} has keys")
    small_size = min(SMALL_QUEUE, waiting)
    try:
        bench = _Bench(redis, random.Random(seed))
        bench.load_agents(agents)
        large, large_wall = bench.measure(redis_url, waiting, decisions, processes, seed)
        small, _ = bench.measure(redis_url, small_size, decisions, processes, seed + 1)
    finally:
        redis.flushdb()
        redis.close()
    figures = {
        "decisions/s": round(len(large) / large_wall),
        "decision p50 ms": round(_percentile(large, 50) * 1000, 3),
        "decision p99 ms": round(_percentile(large, 99) * 1000, 3),
        f"ratio {waiting}/{small_size} waiting": round(
            statistics.fmean(large) / statistics.fmean(small), 2
        ),
    }
    out(f"agents: {agents}, waiting: {waiting}, decisions: {decisions} from {processes} processes")
    for name, value in figures.items():
        out(f"{name}: {value}")
    return figures


class _Bench:
    """The benchmark's state: agents, waiting calls and a clock that moves by itself."""

    def __init__(self, redis: Redis, rng: random.Random, *, prefix: str = "CA"):
        self.redis = redis
        self.prefix = prefix
        self.rng = rng
        # No wrap-up, so a matched agent is free again at once and the pools stay populated.
        base = default_policy(AREAS)
        self.policy: RoutingPolicy = replace(
            base,
            areas={
                area: replace(policy, wrap_up_s=0, heavy_wrap_up_s=0)
                for area, policy in base.areas.items()
            },
        )
        script = RoutingScript(redis, self.policy)
        self.board = AgentBoard(redis, self.policy, script=script)
        self.room = WaitingRoom(redis, self.policy, script=script)
        self.matcher = Matcher(redis, self.policy, script=script)
        self.reservations = Reservations(redis, self.policy, script=script)
        self.now = START
        self.agent_ids: list[str] = []
        self.calls: list[str] = []
        self.serial = 0

    def load_agents(self, count: int) -> None:
        """Import a roster of agents with random languages and skills, on shift all week."""
        always = tuple(Shift(day, 0, 1440) for day in range(7))
        roster_agents = []
        for index in range(count):
            languages = self.rng.choice((("zh",), ("zh",), ("en",), ("zh", "en")))
            areas = self.rng.sample(AREAS, self.rng.choice((1, 2, 3)))
            skills = {area: self.rng.choice((1, 2, 3)) for area in areas}
            roster_agents.append(
                Agent(
                    id=f"ag{index:05d}",
                    name=f"Agent {index}",
                    phone=f"+86139{index:08d}",
                    languages=languages,
                    skills=skills,
                    shifts=always,
                )
            )
        self.board.import_roster(Roster(tuple(roster_agents)), self.now, presence="on_break")
        self.agent_ids = [agent.id for agent in roster_agents]

    def measure(
        self, redis_url: str, waiting: int, decisions: int, processes: int, seed: int
    ) -> tuple[list[float], float]:
        """Hold the queue at `waiting` calls; time decisions made by several processes at once."""
        self._fill(waiting)
        # Half the agents present, so decisions both succeed and come up empty.
        for agent_id in self.agent_ids:
            presence = "available" if self.rng.random() < 0.5 else "on_break"
            self.board.set_presence(agent_id, presence, self.now)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(processes)
        results = context.Queue()
        share = decisions // processes
        # Spawned, not forked: each process opens its own connection like a web worker does.
        workers = [
            context.Process(
                target=_decide,
                args=(redis_url, self.agent_ids, share, seed * 100 + n, self.now, barrier, results),
            )
            for n in range(processes)
        ]
        for process in workers:
            process.start()
        gathered = [results.get(timeout=600) for _ in workers]
        for process in workers:
            process.join(timeout=60)
        timings = [t for result in gathered for t in result[0]]
        # Bursts are aligned by the barrier: each burst lasts from the first start to the last end.
        bursts = zip(*(result[1] for result in gathered), strict=True)
        wall = sum(
            max(end for _, end in burst) - min(start for start, _ in burst) for burst in bursts
        )
        self.calls = [m.decode() for m in self._waiting_members()]
        return timings, wall

    def _waiting_members(self) -> list[bytes]:
        """Every call id still waiting, across all queues."""
        members: list[bytes] = []
        for area in AREAS:
            for language in LANGUAGES:
                members.extend(self.redis.zrange(keys.waiting(area, language), 0, -1))
        return members

    def decide(self, decisions: int, barrier: Any) -> tuple[list[float], list[tuple[float, float]]]:
        """Make and time decisions in bursts; churn (presence, calls ending) between bursts."""
        timings: list[float] = []
        spans: list[tuple[float, float]] = []
        matches: list[Match] = []
        for _ in range(decisions // BURST):
            for match in matches:
                self._complete(match.reservation_id)
            for _ in range(BURST // 4):
                self._flip_presence()
            plan = [self._next_decision() for _ in range(BURST)]
            matches = []
            barrier.wait()
            burst_start = time.perf_counter()
            for kind, target in plan:
                self.now += 0.01
                started = time.perf_counter()
                if kind == "call":
                    match = self.matcher.match_call(target, self.now)
                else:
                    match = self.matcher.match_agent(target, self.now)
                timings.append(time.perf_counter() - started)
                if match is not None:
                    matches.append(match)
            spans.append((burst_start, time.perf_counter()))
        return timings, spans

    def _next_decision(self) -> tuple[str, str]:
        """A decision to time: a waiting call re-polled, or an agent freed."""
        if self.rng.random() < 0.5:
            return "call", self._random_waiting_call()
        return "agent", self.rng.choice(self.agent_ids)

    def _random_waiting_call(self) -> str:
        """A call that is waiting right now, from a random queue."""
        for _ in range(20):
            queue = keys.waiting(self.rng.choice(AREAS), self.rng.choice(LANGUAGES))
            member = self.redis.zrandmember(queue)
            if member is not None:
                return member.decode()
        return "none"

    def _fill(self, waiting: int) -> None:
        """Add or drop waiting calls until exactly `waiting` wait."""
        while len(self.calls) > waiting:
            self.room.leave(self.calls.pop(), self.now, outcome="left")
        while len(self.calls) < waiting:
            self._arrive()

    def _arrive(self) -> None:
        """Queue one new caller with a random area, language, wait so far and priority."""
        self.serial += 1
        call_sid = f"{self.prefix}{self.serial:030d}"
        self.room.enqueue(
            call_sid,
            area=self.rng.choice(AREAS),
            language=self.rng.choice(("zh", "zh", "en")),
            now=self.now - self.rng.uniform(0, 240),
            vulnerable=self.rng.random() < 0.05,
            heavy=self.rng.random() < 0.1,
        )
        self.calls.append(call_sid)

    def _flip_presence(self) -> None:
        """Move one random agent between available and on break, as people do."""
        agent_id = self.rng.choice(self.agent_ids)
        presence = "available" if self.rng.random() < 0.5 else "on_break"
        self.board.set_presence(agent_id, presence, self.now)

    def _complete(self, reservation_id: str) -> None:
        """Accept and finish a matched call, and replace its caller with a new one."""
        self.reservations.accept(reservation_id, self.now)
        self.reservations.finish(reservation_id, self.now)
        self._arrive()


def _decide(
    redis_url: str,
    agent_ids: list[str],
    decisions: int,
    seed: int,
    now: float,
    barrier: Any,
    results: Any,
) -> None:
    """One benchmark process: make its share of decisions; report timings and burst spans."""
    redis = Redis.from_url(redis_url)
    try:
        bench = _Bench(redis, random.Random(seed), prefix=f"CA{seed:04d}")
        bench.agent_ids = agent_ids
        bench.now = now
        results.put(bench.decide(decisions, barrier))
    finally:
        redis.close()


def _percentile(values: list[float], percent: float) -> float:
    """The value below which `percent` of the values fall."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]
