"""`hotline bench routing`: match decisions per second and latency on a real Redis.

`run(url)` fills the database with agents across 7 areas x 3 levels x 2 languages and a crowd
of waiting callers, then times match decisions (a call queued or re-polled, an agent freed)
among random presence changes, at 10,000 waiting and again at 100 waiting. A decision must
not slow down as the queue grows, so the ratio between the two is printed as well.

It then times dispatch with the processes of production: the carrier (Twilio's stand-in) and
a `hotline worker` RQ worker. An agent becomes available, the match reserves the one waiting
caller for them and queues `ring_agent`; the figure is the time until the ring's REST call
reaches the carrier. Rings go one at a time, so the latency is the path itself, not a queue.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType
from typing import Any

import requests
import yaml
from redis import Redis
from rq import Worker

from queues import dispatch, keys
from queues.agents import AgentBoard
from queues.calls import CallStore
from queues.connection import redis_client
from queues.matcher import Match, Matcher
from queues.reservations import Reservations
from queues.script import RoutingScript
from queues.waiting import WaitingRoom
from routing.config import load_config
from routing.matching import RoutingPolicy, default_policy
from routing.roster import Agent, Roster, Shift
from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from tools import REPO, SHIPPED_CONFIG

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
# Rounds of decisions at the full queue; the figures are the fastest round's.
ROUNDS = 3

# Dispatch: rings timed one at a time, after a few untimed ones that warm the processes up.
RINGS = 200
WARM_UP_RINGS = 5
# The account's calls per second in the bench's copy of the config. Twilio's default of one
# would hold the rings a second apart; at this rate, with rings one at a time and spaced by
# RING_SPACING_S, the limiter is still consulted on every ring but never makes one wait.
BENCH_CALLS_PER_SECOND = 100
RING_SPACING_S = 0.05
DISPATCH_AREA, DISPATCH_LANGUAGE = "family", "zh"
START_DEADLINE_S = 60.0
RING_DEADLINE_S = 10.0
STOP_DEADLINE_S = 15.0
# Real seconds per call second in the carrier: rung phones finish their calls quickly.
CARRIER_TIME_SCALE = "0.05"


def run(
    redis_url: str,
    *,
    waiting: int = 10_000,
    agents: int = 2_000,
    decisions: int = DECISIONS,
    processes: int = PROCESSES,
    seed: int = 7,
    rings: int = RINGS,
    rounds: int = ROUNDS,
    out: Callable[[str], None] = print,
) -> dict[str, float]:
    """Run the routing benchmark on an empty database and print its figures."""
    redis = redis_client(redis_url)
    if redis.dbsize():
        raise RuntimeError(f"the benchmark needs an empty database; {redis_url} has keys")
    small_size = min(SMALL_QUEUE, waiting)
    # Other work on the machine skews every figure: say how busy it was.
    load = os.getloadavg()[0]
    try:
        bench = _Bench(redis, random.Random(seed))
        bench.load_agents(agents)
        rates = []
        best: tuple[list[float], float] | None = None
        for round_ in range(rounds):
            timings, wall = bench.measure(redis_url, waiting, decisions, processes, seed + round_)
            rates.append(round(len(timings) / wall))
            if best is None or wall < best[1]:
                best = (timings, wall)
        assert best is not None
        large, large_wall = best
        small, _ = bench.measure(redis_url, small_size, decisions, processes, seed + rounds)
        redis.flushdb()
        latencies = measure_dispatch(redis_url, rings) if rings else []
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
    out(f"machine: {os.cpu_count()} CPUs, load average {load:.2f} at the start")
    out(f"agents: {agents}, waiting: {waiting}, decisions: {decisions} from {processes} processes")
    # Other work on a shared machine only ever slows a round down, so the best round is the
    # code's own speed (as timeit takes the minimum); every round is printed as well.
    out(f"rounds at {waiting} waiting, decisions/s: {', '.join(str(r) for r in rates)}")
    for name, value in figures.items():
        out(f"{name}: {value}")
    if latencies:
        dispatch_figures = {
            "dispatch p50 ms": round(_percentile(latencies, 50) * 1000, 1),
            "dispatch p99 ms": round(_percentile(latencies, 99) * 1000, 1),
            "dispatch max ms": round(max(latencies) * 1000, 1),
        }
        out(
            f"dispatch: {len(latencies)} rings, one at a time, from agent available to the "
            f"carrier receiving the REST call; production RQ worker; calls_per_second raised "
            f"to {BENCH_CALLS_PER_SECOND} so no ring waits for the rate limiter"
        )
        for name, value in dispatch_figures.items():
            out(f"{name}: {value}")
        figures.update(dispatch_figures)
    return figures


def measure_dispatch(
    redis_url: str, rings: int = RINGS, *, config_path: Path = SHIPPED_CONFIG
) -> list[float]:
    """Seconds from an agent becoming available to their ring reaching the carrier, per ring."""
    redis = redis_client(redis_url)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="hotline-bench-") as home,
            _dispatch_rig(Path(home), redis_url, config_path) as rig,
        ):
            return rig.time_rings(redis, rings)
    finally:
        redis.close()


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
    redis = redis_client(redis_url)
    try:
        bench = _Bench(redis, random.Random(seed), prefix=f"CA{seed:04d}")
        bench.agent_ids = agent_ids
        bench.now = now
        results.put(bench.decide(decisions, barrier))
    finally:
        redis.close()


@dataclass
class _DispatchRig:
    """The carrier and an RQ worker running as processes, and the policy both sides share."""

    policy: RoutingPolicy
    carrier_url: str
    worker: subprocess.Popen
    worker_log: Path

    def time_rings(self, redis: Redis, rings: int) -> list[float]:
        """Make agents available one at a time, each matched to one waiting caller; time rings."""
        board = AgentBoard(redis, self.policy)
        room = WaitingRoom(redis, self.policy)
        total = WARM_UP_RINGS + rings
        always = tuple(Shift(day, 0, 1440) for day in range(7))
        roster = Roster(
            tuple(
                Agent(
                    id=f"ring{index:04d}",
                    name=f"Agent {index}",
                    phone=f"+86137{index:08d}",
                    languages=(DISPATCH_LANGUAGE,),
                    skills={DISPATCH_AREA: 3},
                    shifts=always,
                )
                for index in range(total)
            )
        )
        board.import_roster(roster, time.time(), presence="offline")
        self._forget_exchanges()
        latencies = []
        for index, agent in enumerate(roster.agents):
            call_sid = f"CA{index:032d}"
            room.enqueue(call_sid, area=DISPATCH_AREA, language=DISPATCH_LANGUAGE, now=time.time())
            became_available = time.time()
            dispatch.set_presence(redis, self.policy, agent.id, "available", became_available)
            received = self._ring_received(redis, call_sid, agent.phone)
            if index >= WARM_UP_RINGS:
                latencies.append(received - became_available)
            # Done with this caller and agent: nothing is left for the next ring to meet.
            room.leave(call_sid, time.time(), outcome="left")
            board.set_presence(agent.id, "offline", time.time())
            self._forget_exchanges()
            time.sleep(RING_SPACING_S)
        return latencies

    def _ring_received(self, redis: Redis, call_sid: str, phone: str) -> float:
        """When the carrier received the ring for a call (the worker notes the leg it placed)."""
        calls = CallStore(redis)
        deadline = time.monotonic() + RING_DEADLINE_S
        while True:
            record = calls.get(call_sid)
            if record is not None and record.agent_leg:
                break
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"no ring for {call_sid} within {RING_DEADLINE_S:.0f} s; worker log:\n"
                    + _tail(self.worker_log)
                )
            time.sleep(0.001)
        reply = requests.get(f"{self.carrier_url}/carrier/requests", auth=_CARRIER_AUTH, timeout=5)
        reply.raise_for_status()
        for exchange in reply.json():
            form = dict(exchange["form"])
            if (
                exchange["method"] == "POST"
                and exchange["path"].endswith("/Calls.json")
                and form.get("To") == phone
            ):
                return float(exchange["received_at"])
        raise RuntimeError(f"the carrier has no ring to {phone}")

    def _forget_exchanges(self) -> None:
        """Clear the carrier's record of REST requests, so each look-up stays small."""
        requests.delete(
            f"{self.carrier_url}/carrier/requests", auth=_CARRIER_AUTH, timeout=5
        ).raise_for_status()


_CARRIER_AUTH = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)


@contextmanager
def _dispatch_rig(home: Path, redis_url: str, config_path: Path) -> Iterator[_DispatchRig]:
    """Run the carrier and a worker in demo mode on a copy of the config; stop both on exit."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["queue"]["calls_per_second"] = BENCH_CALLS_PER_SECOND
    bench_config = home / "hotline.yaml"
    bench_config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    policy = load_config(bench_config.read_text(encoding="utf-8"), str(bench_config)).routing
    with ExitStack() as stack:
        stack.enter_context(_stop_on_sigterm())
        # The app's address is a port held but not listening: the rung phones' webhooks are
        # refused at once and change nothing; the measure ends when the ring is received.
        app_port = stack.enter_context(socket.socket())
        app_port.bind(("127.0.0.1", 0))
        app_url = f"http://127.0.0.1:{app_port.getsockname()[1]}"
        carrier_port = _free_port()
        carrier_url = f"http://127.0.0.1:{carrier_port}"
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL", "CARRIER_"))
        }
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
            REDIS_URL=redis_url,
            TWILIO_API_BASE_URL=carrier_url,
            HOTLINE_CONFIG=str(bench_config),
            HOTLINE_VAR_DIR=str(home / "var"),
            HOTLINE_SECRET_KEY=secrets.token_urlsafe(16),
            HOTLINE_APP_URL=app_url,
        )
        hotline = [sys.executable, "-m", "hotline.cli"]
        carrier_log = home / "carrier.log"
        carrier_command = [*hotline, "carrier", "--port", str(carrier_port)]
        carrier_command += ["--app-url", app_url, "--time-scale", CARRIER_TIME_SCALE]
        carrier = stack.enter_context(_process(carrier_command, env, home, carrier_log))
        _wait_until(lambda: _answers(f"{carrier_url}/carrier/health"), carrier, carrier_log)
        worker_log = home / "worker.log"
        worker = stack.enter_context(_process([*hotline, "worker"], env, home, worker_log))
        redis = stack.enter_context(redis_client(redis_url))
        _wait_until(lambda: Worker.all(connection=redis), worker, worker_log)
        yield _DispatchRig(policy, carrier_url, worker, worker_log)


@contextmanager
def _process(
    command: list[str], env: dict[str, str], cwd: Path, log_path: Path
) -> Iterator[subprocess.Popen]:
    """Run a process with its output in a log file; stop it on exit, killed if it lingers."""
    with log_path.open("w") as log:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_DEADLINE_S)


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into SystemExit meanwhile, so the processes started are stopped too."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _exit(number: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + number)

    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait_until(ready: Callable[[], Any], process: subprocess.Popen, log_path: Path) -> None:
    """Poll until a started process is ready; fail with its log if it exits or takes too long."""
    deadline = time.monotonic() + START_DEADLINE_S
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{' '.join(process.args[2:4])} did not start:\n{_tail(log_path)}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    """Tell whether a URL answers with success."""
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def _free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _percentile(values: list[float], percent: float) -> float:
    """The value below which `percent` of the values fall."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]
