"""The chaos scenarios: callers brought to every step of a call, one fault, the callers let go,
and the evidence gathered for the invariants.

The steps, each with its own agent so that they never take each other's: `talking` (a labor
caller with labor1), `waiting` (a second labor caller, waiting for labor1), `crisis` (the danger
key, talking to crisis1), `voicemail` (a family caller recording a message from the waiting
room), `ringing` (a contract caller while contract1's phone rings) and `menu` (a general caller
placed as the fault starts, so it goes through the menus during it). A fault strikes when
contract1's phone rings (or at the dispatch step it is about); afterwards the talking and crisis
callers hang up, which frees labor1 for the waiting caller, and every caller is let go.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from carrier import audio
from queues.agents import AgentBoard
from queues.waiting import WaitingRoom
from tests.chaos.invariants import AgentStart, Cell, Evidence, Window, judge, rings_by_reservation
from tests.chaos.world import (
    AGENTS,
    COOL_DOWN_S,
    REPO,
    STEP_DEADLINE_S,
    TIME_SCALE,
    WRAP_UP_S,
    World,
    chaos_config,
    chaos_policy,
    poll,
    quiet,
)

STEPS = ("menu", "waiting", "ringing", "talking", "voicemail", "crisis")
# Call seconds of the message the voicemail caller speaks (4 real seconds at 0.02): it is
# still being recorded when a fault strikes.
MESSAGE_S = 200
# How long a fault lasts, in real seconds, where it is a stretch of time.
OUTAGE_S = 6.0
# Longer than the gateway's 10 s timeout: a REST request held this long times out.
REST_HANG_S = 11.0
# Three failures in a row raise carrier_unreachable; a ring held to the timeout, then tried
# again 1 s and 2 s later, takes about 33 s to fail three times.
HANG_OUTAGE_S = 40.0


def press(keys_: str) -> dict[str, str]:
    """A caller's step: press keys at the next prompt."""
    return {"press": keys_}


# The keys to each step's area, in Mandarin (1).
TO_LABOR = (press("1"), press("2"), press("1"), press("1"))
TO_CONTRACT = (press("1"), press("3"), press("1"))
TO_GENERAL = (press("1"), press("0"))
# Family, no children, no violence, then 2 in the waiting room: leave a message.
TO_VOICEMAIL = (press("1"), press("1"), press("2"), press("2"), press("2"))
DANGER = (press("9"),)


@dataclass
class Fault:
    """What a fault did: when offering was impossible, what it must raise, how it went."""

    windows: list[Window] = field(default_factory=list)
    expected_conditions: set[str] = field(default_factory=set)
    # The fault itself: applied, and the hotline came back (parts restarted, refusals said).
    recovered: Cell = field(default_factory=Cell)
    # Callers on another hotline (a second serve) judged with this scenario's outcomes.
    elsewhere: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Scenario:
    """One row of the table: a fault applied while callers are at every step."""

    name: str
    kind: str
    strike: Callable[[Stage], Fault]
    short: bool = False
    # Carrier faults on from the first caller to the last (callbacks repeated or reordered).
    standing_faults: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """A scenario's cells, how long it took, and the notes worth printing."""

    scenario: Scenario
    cells: dict[str, Cell]
    seconds: float
    notes: list[str] = field(default_factory=list)


class Stage:
    """The callers of one scenario, brought to their steps on a running world."""

    def __init__(self, world: World, home: Path):
        self.world = world
        self.home = home
        self.callers: dict[str, str] = {}
        self.notes: list[str] = []
        self._message = home / "message.wav"
        if not self._message.exists():
            # Ten seconds of speech said over and over: making it whole takes a while.
            words = audio.speech_like(10, seed=7)
            self._message.write_bytes(audio.to_wav(words * (MESSAGE_S // 10)))

    def sid(self, step: str) -> str:
        """The call SID of the caller at a step."""
        return next(sid for sid, at in self.callers.items() if at == step)

    def place(self, step: str, *steps: dict[str, Any], **script: Any) -> str:
        """Place a caller for a step."""
        call_sid = self.world.place(*steps, **script)
        self.callers[call_sid] = step
        return call_sid

    def until(self, call_sid: str, what: str, check: Callable[[dict[str, Any]], bool]) -> None:
        """Wait until a caller's transcript shows they reached their step."""
        poll(lambda: check(self.world.transcript(call_sid)), STEP_DEADLINE_S, what)

    # Bringing callers to their steps

    def talking(self) -> str:
        """A labor caller talking to labor1."""
        call_sid = self.place("talking", *TO_LABOR)
        self.until(call_sid, "the labor caller to be bridged", _bridged)
        return call_sid

    def waiting(self) -> str:
        """A second labor caller, waiting while labor1 talks."""
        call_sid = self.place("waiting", *TO_LABOR)
        self.until(call_sid, "the second labor caller to queue", lambda t: _has(t, "queued"))
        return call_sid

    def voicemail(self) -> str:
        """A family caller recording a message."""
        call_sid = self.place(
            "voicemail", *TO_VOICEMAIL, voicemail=str(self._message), voicemail_seconds=MESSAGE_S
        )
        self.until(call_sid, "the message to be recording", _recording)
        return call_sid

    def ringing(self) -> str:
        """A contract caller; returns once contract1's phone rings for them."""
        call_sid = self.place("ringing", *TO_CONTRACT)
        self.wait_agent_leg("contract1", ("ringing",))
        return call_sid

    def menu(self) -> str:
        """A general caller just placed: the fault meets them in the menus."""
        return self.place("menu", *TO_GENERAL)

    def arrive(self, *, moved_on: tuple[str, ...] = ()) -> None:
        """As the fault strikes: note where everyone is, a caller enters the menus, another
        presses the danger key (crisis1 is busy: the crisis line takes them)."""
        self.check_steps(moved_on)
        self.menu()
        self.place("crisis trigger", *DANGER)

    def check_steps(self, moved_on: tuple[str, ...] = ()) -> None:
        """Note any caller not at their step as the fault strikes (but those `moved_on`)."""
        expected = {
            "talking": ("talking", _bridged),
            "waiting": ("waiting", lambda t: _has(t, "queued") and not _has(t, "dequeued")),
            "crisis": ("talking to crisis1", _bridged),
            "voicemail": ("recording", _recording),
        }
        for call_sid, step in self.callers.items():
            if step not in expected or step in moved_on:
                continue
            transcript = self.world.transcript(call_sid)
            what, check = expected[step]
            if transcript["finished"] or not check(transcript):
                last = transcript["entries"][-1]["kind"] if transcript["entries"] else "nothing"
                self.notes.append(f"the {step} caller was not {what} as the fault struck ({last})")

    def set(self, *, ring: bool = True) -> None:
        """Bring callers to every step but the menu; with `ring`, contract1 rings at the end.

        Two labor callers, the crisis caller and the message caller go through the menus side
        by side: whichever labor caller labor1 takes is the talking one, the other waits. The
        contract caller comes once everyone is in place.
        """
        first = self.place("labor", *TO_LABOR)
        second = self.place("labor", *TO_LABOR)
        crisis = self.place("crisis", *DANGER)
        message = self.place(
            "voicemail", *TO_VOICEMAIL, voicemail=str(self._message), voicemail_seconds=MESSAGE_S
        )
        talking = poll(
            lambda: next(
                (sid for sid in (first, second) if _bridged(self.world.transcript(sid))), 0
            ),
            STEP_DEADLINE_S,
            "a labor caller to be bridged",
        )
        waiting = second if talking == first else first
        self.callers[talking], self.callers[waiting] = "talking", "waiting"
        self.until(waiting, "the second labor caller to queue", lambda t: _has(t, "queued"))
        self.until(crisis, "the crisis caller to reach crisis1", _bridged)
        self.until(message, "the message to be recording", _recording)
        if ring:
            self.ringing()

    def wait_agent_leg(self, agent_id: str, statuses: tuple[str, ...]) -> str:
        """Wait until a leg to an agent's phone is in one of the statuses; return its SID."""
        phone = next(a.phone for a in AGENTS if a.id == agent_id)

        def leg() -> str | None:
            for call in self.world.calls():
                if call["to"] == phone and call["status"] in statuses and not call["finished"]:
                    return call["call_sid"]
            return None

        return poll(leg, STEP_DEADLINE_S, f"{agent_id}'s phone to be {'/'.join(statuses)}")

    def wait_event(self, kind: str, after: str, **fields: str) -> dict[str, str]:
        """Wait until an event of a kind with these fields is in the stream after an id."""

        def found() -> dict[str, str] | None:
            for event in self.world.events_after(after):
                if event["kind"] == kind and all(event.get(k) == v for k, v in fields.items()):
                    return event
            return None

        return poll(found, STEP_DEADLINE_S, f"a {kind} event {fields}")

    # Letting callers go

    def let_go(self) -> None:
        """Hang up the talking and crisis callers, then each other caller once they are served."""
        for step in ("talking", "crisis"):
            if step in self.callers.values():
                self.world.hang_up(self.sid(step))
        for call_sid, step in self.callers.items():
            try:
                poll(
                    lambda sid=call_sid: _served(self.world.transcript(sid)),
                    STEP_DEADLINE_S,
                    f"the {step} caller to be served",
                )
            except AssertionError:
                self.notes.append(f"{step} caller still unserved after {STEP_DEADLINE_S:.0f} s")
            self.world.hang_up(call_sid)
        for call_sid in self.callers:
            self.world.finished(call_sid)


def _has(transcript: dict[str, Any], kind: str) -> bool:
    """Whether a transcript has an entry of a kind."""
    return any(entry["kind"] == kind for entry in transcript["entries"])


def _bridged(transcript: dict[str, Any]) -> bool:
    """Whether the caller has met someone."""
    return bool(transcript["outcome"]["bridged_to"])


def _recording(transcript: dict[str, Any]) -> bool:
    """Whether the caller is recording a message now."""
    kinds = [entry.get("name") or entry["kind"] for entry in transcript["entries"]]
    return "beep" in kinds and "recorded" not in kinds


def _served(transcript: dict[str, Any]) -> bool:
    """Whether the call has ended or reached someone (then the suite may hang it up)."""
    if transcript["finished"]:
        return True
    return _bridged(transcript) and transcript["entries"][-1]["kind"] != "dialing"


# Running one scenario ---------------------------------------------------------------------


def settle(world: World) -> dict[str, AgentStart]:
    """Clear faults, make every agent available and wait until they are all free."""
    world.faults({})
    board = AgentBoard(world.redis(), chaos_policy())
    for agent in AGENTS:
        status = board.get(agent.id)
        if status is None or status.presence != "available" or status.paused:
            world.presence(agent.id, "available")

    def all_free() -> bool:
        return all((s := board.get(a.id)) is not None and s.free for a in AGENTS)

    poll(all_free, STEP_DEADLINE_S, "every agent to be free")
    return agent_starts(world)


def agent_starts(world: World) -> dict[str, AgentStart]:
    """Each agent's routing state now."""
    board = AgentBoard(world.redis(), chaos_policy())
    starts = {}
    for agent in AGENTS:
        status = board.get(agent.id)
        assert status is not None
        starts[agent.id] = AgentStart(
            present=status.presence == "available",
            paused=bool(status.paused),
            reservation=status.reservation if status.activity in ("reserved", "talking") else "",
            crisis=status.activity == "crisis_call",
            wrap_until=status.wrap_until,
            cool_until=status.cool_until,
        )
    return starts


def stranded(world: World, callers: dict[str, str]) -> dict[str, str]:
    """Callers whose call ended that routing still holds as waiting, ringing or held."""
    room = WaitingRoom(world.redis(), chaos_policy())
    found = {}
    for call_sid in callers:
        queued = room.get(call_sid)
        if queued and queued.kind != "callback" and queued.state in ("waiting", "reserved", "held"):
            found[call_sid] = queued.state
    return found


def run(world: World, scenario: Scenario, home: Path) -> Result:
    """Run one scenario on a world and judge it."""
    laps = Laps()
    starts = settle(world)
    laps.lap("settle")
    start_id, start = world.last_event_id(), time.time()
    stage = Stage(world, home)
    with world.leg_watch() as watch:
        if scenario.standing_faults:
            world.faults(scenario.standing_faults)
        fault = scenario.strike(stage)
        laps.lap("callers and fault")
        stage.let_go()
        world.faults({})
        # Routing catches up with the last hang-ups (status callbacks, wrap-up starting); what
        # it still holds after that is judged by (a).
        with contextlib.suppress(AssertionError):
            poll(quiet(lambda: not stranded(world, stage.callers)), 10, "routing to catch up")
        laps.lap("letting go")
    end = time.time()
    evidence = gather(world, stage, fault, starts, start_id, start, end)
    evidence.leg_overlaps = list(watch.overlaps)
    cells = {"fault": fault.recovered, **judge(evidence)}
    for name, transcript in fault.elsewhere.items():
        if not transcript.get("outcome", {}).get("bridged_to"):
            cells["a"].fail(f"{name}: {transcript.get('outcome', {}).get('summary')}")
    keep(home, scenario, evidence, cells)
    laps.lap("judging")
    return Result(scenario, cells, laps.total(), [*stage.notes, laps.said()])


class Laps:
    """Where a scenario's time went, for the notes under the table."""

    def __init__(self) -> None:
        self.began = self.last = time.monotonic()
        self.laps: list[tuple[str, float]] = []

    def lap(self, what: str) -> None:
        """End a lap."""
        now = time.monotonic()
        self.laps.append((what, now - self.last))
        self.last = now

    def total(self) -> float:
        """Seconds since the start."""
        return time.monotonic() - self.began

    def said(self) -> str:
        """The laps in one line."""
        return "time: " + ", ".join(f"{what} {seconds:.1f} s" for what, seconds in self.laps)


def keep(home: Path, scenario: Scenario, evidence: Evidence, cells: dict[str, Cell]) -> Path:
    """Write a scenario's evidence and verdicts as JSON beside the logs, for reading a failure."""
    folder = home / "evidence"
    folder.mkdir(exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", scenario.name.lower()).strip("-")[:60]
    path = folder / f"{len(list(folder.iterdir())) + 1:02d}-{slug}.json"
    data = {
        "scenario": scenario.name,
        "cells": {name: dataclasses.asdict(cell) for name, cell in cells.items()},
        "evidence": dataclasses.asdict(evidence),
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=_plain))
    return path


def gather(
    world: World,
    stage: Stage,
    fault: Fault,
    starts: dict[str, AgentStart],
    start_id: str,
    start: float,
    end: float,
) -> Evidence:
    """Collect what the invariants need from Redis, the carrier and the consoles' API."""
    events = world.events_after(start_id)
    exchanges = world.exchanges()
    transcripts = {sid: world.transcript(sid) for sid in stage.callers}
    reservations = {e.get("reservation") for e in events if e.get("reservation")}
    for reservation, leg in rings_by_reservation(exchanges).items():
        if reservation in reservations and leg:
            transcripts[leg] = world.transcript(leg)
    try:
        feed = world.alert_feed(start_id)
    except Exception:  # noqa: BLE001 - a feed that does not answer fails (d)
        feed = None
    config = chaos_config()
    return Evidence(
        callers=dict(stage.callers),
        transcripts=transcripts,
        events=events,
        exchanges=exchanges,
        alert_feed=feed,
        eligible={agent.id: ({agent.area}, {"zh"}) for agent in AGENTS},
        agents_at_start=starts,
        start=start,
        end=end,
        cool_down_s=COOL_DOWN_S,
        windows=fault.windows,
        expected_conditions=fault.expected_conditions,
        stranded=stranded(world, stage.callers),
        callback_prompt=" ".join(config["prompts"]["callback_set"]["zh"].split()),
        time_scale=TIME_SCALE,
        wrap_up_s=WRAP_UP_S,
    )


def _plain(value: Any) -> Any:
    """JSON for what json cannot write itself: sets as sorted lists."""
    return sorted(value) if isinstance(value, set) else str(value)


# The faults --------------------------------------------------------------------------------


def no_fault(stage: Stage) -> Fault:
    """Callers at every step and nothing broken: the baseline."""
    stage.set()
    stage.arrive()
    return Fault()


def redis_killed(stage: Stage) -> Fault:
    """SIGKILL the embedded Redis as contract1's phone rings; serve starts it again."""
    stage.set()
    stage.arrive()
    fault = Fault()
    killed_at = time.time()
    old = stage.world.signal("redis", signal.SIGKILL)
    try:
        took = stage.world.back("redis", old)
        stage.world.back("worker", -1)
    except AssertionError as error:
        fault.recovered.fail(str(error))
        took = time.time() - killed_at
    fault.windows.append(Window(killed_at, killed_at + took, "Redis down"))
    fault.recovered.notes.append(f"Redis answered again {took:.1f} s after the kill")
    return fault


def redis_paused(stage: Stage) -> Fault:
    """SIGSTOP the embedded Redis for a while as contract1's phone rings, then SIGCONT."""
    stage.set()
    stage.arrive()
    stopped_at = time.time()
    pid = stage.world.signal("redis", signal.SIGSTOP)
    try:
        time.sleep(OUTAGE_S)  # the outage's length, not a wait for something
    finally:
        os.kill(pid, signal.SIGCONT)
    fault = Fault(windows=[Window(stopped_at, time.time(), "Redis frozen")])
    return fault


def redis_restarted(stage: Stage) -> Fault:
    """Stop the hotline's own REDIS_URL server as contract1 rings; start it on the same socket."""
    server = stage.world.external_redis
    stage.set()
    stage.arrive()
    stopped_at = time.time()
    server.stop()
    time.sleep(OUTAGE_S)  # the outage's length, not a wait for something
    server.start()
    fault = Fault(windows=[Window(stopped_at, time.time(), "Redis stopped")])
    return fault


def worker_killed(at: str) -> Callable[[Stage], Fault]:
    """SIGKILL the RQ worker at one dispatch step; serve starts it again."""

    def strike(stage: Stage) -> Fault:
        world = stage.world
        stage.set(ring=False)
        fault = Fault()
        after = world.last_event_id()
        # The worker to kill; one stopped first (SIGSTOP) is killed whatever happens next.
        pid = world.pid("worker")
        try:
            if at == "ring queued":
                # Stopped first, so the ring job waits in the queue when the worker dies.
                os.kill(pid, signal.SIGSTOP)
                stage.place("ringing", *TO_CONTRACT)
                stage.wait_event("offered", after, agent="contract1")
            elif at == "ringing":
                stage.ringing()
            elif at == "accepted":
                stage.ringing()
                # Stopped while the phone rings, so the bridge job waits for the next worker.
                os.kill(pid, signal.SIGSTOP)
                stage.wait_event("accepted", after, agent="contract1")
            else:  # wrap-up
                stage.ringing()
                world.hang_up(stage.sid("talking"))
                stage.wait_event("wrap-up", after, agent="labor1")
            stage.arrive(moved_on=("talking",) if at == "wrap-up" else ())
        finally:
            os.kill(pid, signal.SIGKILL)
        try:
            took = world.back("worker", pid)
            fault.recovered.notes.append(f"worker back after {took:.1f} s")
        except AssertionError as error:
            fault.recovered.fail(str(error))
        return fault

    return strike


def carrier_failing(plan: dict[str, Any], seconds: float = OUTAGE_S) -> Callable[[Stage], Fault]:
    """The carrier's REST API fails (500s, 429s, or hangs past the gateway's timeout)."""

    def strike(stage: Stage) -> Fault:
        stage.set()
        stage.arrive()
        began = time.time()
        stage.world.faults(plan)
        time.sleep(seconds)  # the outage's length, not a wait for something
        stage.world.faults({})
        return Fault(
            windows=[Window(began, time.time(), "REST failing")],
            expected_conditions={"carrier_unreachable"},
        )

    return strike


def webhooks_failing(plan: dict[str, Any]) -> Callable[[Stage], Fault]:
    """The carrier gives up on some webhooks (Twilio's timeout) or sends them late."""

    def strike(stage: Stage) -> Fault:
        stage.set()
        stage.arrive()
        stage.world.faults(plan)
        time.sleep(OUTAGE_S)  # the fault's length, not a wait for something
        stage.world.faults({})
        return Fault()

    return strike


def callers_hang_up(stage: Stage) -> Fault:
    """Callers hang up at each step: menu, waiting, ringing, whisper, talking, message, crisis."""
    world = stage.world
    fault = Fault()
    talking = stage.talking()
    waiting = stage.waiting()
    world.hang_up(waiting)
    after = world.last_event_id()
    ringing = stage.ringing()
    world.hang_up(ringing)
    # contract1 is free again at once (a withdrawn ring is no miss); the next one is answered.
    stage.wait_event("caller-gone", after, call=ringing)
    whisper = stage.place("whisper", *TO_CONTRACT)
    stage.wait_agent_leg("contract1", ("in-progress",))
    world.hang_up(whisper)
    world.hang_up(talking)
    message = stage.voicemail()
    world.hang_up(message)
    crisis = stage.place("crisis", *DANGER)
    stage.until(crisis, "the crisis path to start", _crisis_started)
    world.hang_up(crisis)
    menu = stage.menu()
    stage.until(menu, "the greeting", lambda t: _has(t, "heard"))
    world.hang_up(menu)
    accepted = [e for e in world.events_after(after) if e["kind"] == "accepted"
                and e.get("call") == whisper]  # fmt: skip
    if accepted:
        stage.notes.append("the whisper caller hung up after contract1 accepted (bridging)")
    return fault


def _crisis_started(transcript: dict[str, Any]) -> bool:
    """Whether the danger key has been answered by the crisis path."""
    return any(
        e["kind"] == "webhook"
        and str(e.get("path", "")).startswith("/voice/crisis")
        or e["kind"] == "dialing"
        for e in transcript["entries"]
    ) or any(e["kind"] == "pressed" and e.get("keys") == "9" for e in transcript["entries"])


def second_serve_same_var_dir(stage: Stage) -> Fault:
    """A second `make run` on the running hotline's var dir: refused; the first unharmed."""
    world = stage.world
    stage.set()
    stage.arrive()
    fault = Fault()
    before = world.state()
    assert world.hotline.env is not None
    env = {**world.hotline.env, "PORT": str(_free_port())}
    second = subprocess.run(
        ["make", "-s", "-C", str(REPO), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_DEADLINE_S,
    )
    said = (second.stdout + second.stderr).strip().splitlines()
    if second.returncode == 0:
        fault.recovered.fail("the second serve was not refused")
    elif not any("already running" in line for line in said):
        fault.recovered.fail(f"refused without saying why: {said[-1:]}")
    if world.state() != before:
        fault.recovered.fail("the first serve's state changed")
    return fault


def second_serve_elsewhere(stage: Stage) -> Fault:
    """A second `make run` with its own var dir and PORT: both hotlines answer calls."""
    from tests.chaos.world import running_make

    world = stage.world
    fault = Fault()
    stage.set()
    stage.arrive()
    with running_make(stage.home / "second") as other:
        call_sid = other.place(*TO_GENERAL)
        poll(lambda: _bridged(other.transcript(call_sid)), STEP_DEADLINE_S, "the second's call")
        other.hang_up(call_sid)
        fault.elsewhere["second hotline's caller"] = other.finished(call_sid)
    if world.serve_alive() is False:
        fault.recovered.fail("the first serve stopped")
    return fault


def _free_port() -> int:
    """A port nothing listens on."""
    from tests.e2e.harness import free_port

    return free_port()


def combined(stage: Stage) -> Fault:
    """Everything at once: REST 500s, repeated and late callbacks, the worker killed and Redis
    frozen as contract1 rings, and the message caller hanging up mid-message."""
    world = stage.world
    world.faults({"callback_duplicate": 0.5, "callback_reorder": 0.3, "seed": 11})
    stage.set()
    stage.arrive()
    fault = Fault(expected_conditions=set())
    began = time.time()
    world.faults({"rest_500": 0.5, "callback_duplicate": 0.5, "callback_reorder": 0.3,
                  "seed": 11})  # fmt: skip
    worker = world.signal("worker", signal.SIGKILL)
    redis_pid = world.signal("redis", signal.SIGSTOP)
    try:
        world.hang_up(stage.sid("voicemail"))
        time.sleep(OUTAGE_S / 2)  # the outage's length, not a wait for something
    finally:
        os.kill(redis_pid, signal.SIGCONT)
    thawed = time.time()
    try:
        world.back("worker", worker)
    except AssertionError as error:
        fault.recovered.fail(str(error))
    time.sleep(OUTAGE_S / 2)  # the REST outage's length
    world.faults({})
    fault.windows += [Window(began, thawed, "Redis frozen"), Window(began, time.time(), "REST")]
    return fault


def scenarios() -> list[Scenario]:
    """Every row of the full matrix, in the order run; `short` marks `make test`'s ones."""
    return [
        Scenario("no fault (baseline)", "none", no_fault),
        Scenario("Redis killed (SIGKILL), serve restarts it", "redis", redis_killed, short=True),
        Scenario(f"Redis frozen {OUTAGE_S:.0f} s (SIGSTOP/SIGCONT)", "redis", redis_paused),
        Scenario("worker killed: ring queued", "worker", worker_killed("ring queued")),
        Scenario("worker killed: ringing", "worker", worker_killed("ringing"), short=True),
        Scenario("worker killed: accepted, bridging", "worker", worker_killed("accepted")),
        Scenario("worker killed: wrap-up", "worker", worker_killed("wrap-up")),
        Scenario(
            f"REST 500s for {OUTAGE_S:.0f} s",
            "rest",
            carrier_failing({"rest_500": 1.0}),
            short=True,
        ),
        Scenario(f"REST 429s for {OUTAGE_S:.0f} s", "rest", carrier_failing({"rest_429": 1.0})),
        Scenario(
            f"REST hangs past the 10 s timeout for {HANG_OUTAGE_S:.0f} s",
            "rest",
            carrier_failing({"rest_hang": 1.0, "rest_hang_s": REST_HANG_S}, HANG_OUTAGE_S),
        ),
        Scenario(
            "webhooks time out (30 %)",
            "rest",
            webhooks_failing({"webhook_timeout": 0.3, "seed": 3}),
        ),  # fmt: skip
        Scenario(
            "webhooks 3 s late (50 %)",
            "rest",
            webhooks_failing({"webhook_delay": 0.5, "webhook_delay_s": 3, "seed": 5}),
        ),
        Scenario(
            "status callbacks repeated",
            "callbacks",
            no_fault,
            standing_faults={"callback_duplicate": 1.0},
        ),
        Scenario(
            "status callbacks out of order",
            "callbacks",
            no_fault,
            short=True,
            standing_faults={"callback_reorder": 0.5, "callback_duplicate": 0.3, "seed": 7},
        ),
        Scenario("callers hang up at every step", "hang-up", callers_hang_up, short=True),
        Scenario(
            "second make run, same var dir", "second-run", second_serve_same_var_dir, short=True
        ),
        Scenario("second make run, own var dir and PORT", "second-run", second_serve_elsewhere),
        Scenario("combined: REST, callbacks, worker, Redis, hang-up", "combined", combined),
    ]


def redis_url_scenarios() -> list[Scenario]:
    """Rows run on a hotline whose REDIS_URL is a server the suite starts and stops itself."""
    return [Scenario("REDIS_URL server stopped and started again", "redis", redis_restarted)]
