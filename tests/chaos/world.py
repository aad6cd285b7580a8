"""The hotline the chaos suite breaks: `hotline serve` in demo mode with one agent per step of a
call, a supervisor's API token for the consoles' JSON API, and handles on each of its parts.

Times: the app's clock is the wall clock (reservation timeouts, wrap-up, the sweep, events'
`at`); the carrier's call legs run on its accelerated clock (`TIME_SCALE` real seconds per call
second), so rings, prompts and talk last call seconds in transcripts and a fiftieth of that in
real time.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis as redis_lib
import requests
import yaml

from queues import keys
from queues.embedded import _alive
from routing.config import load_config
from routing.matching import RoutingPolicy
from tests.e2e.harness import (
    AUTH,
    REPO,
    Hotline,
    free_port,
    poll,
    ready_state,
    serve_pids,
    shipped_config,
    write_yaml,
)

# Real seconds per call second on the carrier: a 110 s menu takes about 2 s.
TIME_SCALE = 0.02
# A loaded 2-core machine can take most of a minute to start every part.
STARTUP_DEADLINE_S = 120.0
# Longest a step (a caller reaching an agent, a process coming back) is waited for.
STEP_DEADLINE_S = 45.0
ALWAYS = "00:00-24:00"
SUPERVISOR = "chaos"
# The ring timeout given to Twilio is the reservation's less 2 s, in call seconds: 58 call
# seconds ring for about 1.2 real seconds, long enough to catch an agent's phone ringing.
RESERVATION_TIMEOUT_S = 60
COOL_DOWN_S = 5
WRAP_UP_S = 1
# The contract agent's phone rings this many call seconds (0.8 s real) before they answer.
RING_FOR_S = 40
# Call seconds an agent stays on a call: longer than any scenario, which hangs callers up.
STAY_S = 3000


@dataclass(frozen=True)
class Agent:
    """A consultant of the chaos roster: the area they take and their phone."""

    id: str
    area: str
    phone: str
    crisis_trained: bool = False
    answer_after: float = 2


# One agent per step, so that callers at different steps never take each other's agents:
# labor talks (and a second labor caller waits for them), contract rings, general takes the
# callers still in the menu when a fault starts, crisis takes the danger-key callers. Family has
# nobody: its callers wait until they ask to leave a message.
AGENTS = (
    Agent("labor1", "labor", "+8613900000301"),
    Agent("contract1", "contract", "+8613900000302", answer_after=RING_FOR_S),
    Agent("general1", "general", "+8613900000303"),
    Agent("general2", "general", "+8613900000304"),
    Agent("crisis1", "corporate", "+8613900000305", crisis_trained=True),
)
SUPERVISOR_PHONE = "+8613900000399"
CRISIS_LINES = ("+8612356", "+86110")


def chaos_config() -> dict[str, Any]:
    """The shipped config with every area open, short timers and no widening to general."""
    config = shipped_config()
    for area in config["areas"].values():
        area["hours"] = config["hours"]["always"]
    routing = config["routing"]
    routing["reservation_timeout_s"] = RESERVATION_TIMEOUT_S
    routing["misses"] = {"cool_down_s": COOL_DOWN_S, "pause_after": 2}
    routing["wellbeing"] = {"heavy_cap": 50, "window_s": 14400}
    routing["defaults"] = {
        "steps": [{"after_s": 0, "min_level": 1}],
        "wrap_up_s": WRAP_UP_S,
        "heavy_wrap_up_s": WRAP_UP_S,
    }
    routing["areas"] = {area: {} for area in config["areas"]}
    # Long enough a message that callers are still recording when a fault strikes.
    config["voicemail"]["max_length_s"] = 600
    return config


@functools.cache
def chaos_policy() -> RoutingPolicy:
    """The routing policy of the chaos config, for reading routing state from Redis."""
    return load_config(yaml.safe_dump(chaos_config(), allow_unicode=True), "chaos").routing


def chaos_roster() -> dict[str, Any]:
    """The roster: the agents above around the clock, and a supervisor always on call."""
    return {
        "timezone": "Asia/Shanghai",
        "agents": [
            {
                "id": agent.id,
                "name": agent.id,
                "phone": agent.phone,
                "languages": ["zh"],
                "skills": {agent.area: 2},
                "crisis_trained": agent.crisis_trained,
                "shifts": [{"days": "mon-sun", "hours": ALWAYS}],
            }
            for agent in AGENTS
        ],
        "supervisors": [
            {
                "id": "sup1",
                "name": "sup1",
                "phone": SUPERVISOR_PHONE,
                "on_call": [{"days": "mon-sun", "hours": "00:00-00:00"}],
            }
        ],
    }


def chaos_phones() -> dict[str, Any]:
    """How the carrier answers each phone: agents accept with 1 and stay; lines answer."""
    phones: dict[str, Any] = {
        agent.phone: {
            "name": agent.id,
            "role": "agent",
            "answer_after": agent.answer_after,
            "press": ["1"],
            "stay": STAY_S,
        }
        for agent in AGENTS
    }
    phones[SUPERVISOR_PHONE] = {"name": "sup1", "role": "supervisor", "answer_after": 2,
                                "press": ["1"], "stay": STAY_S}  # fmt: skip
    for number in CRISIS_LINES:
        phones[number] = {"name": "crisis line", "role": "crisis-line", "answer_after": 2,
                          "stay": STAY_S}  # fmt: skip
    return phones


_callers = itertools.count(1)


def new_caller() -> str:
    """A caller's number nobody has used in this run (a returning caller would go first)."""
    return f"+86139{os.getpid() % 1000:03d}{next(_callers):05d}"


class LegWatch:
    """Samples the carrier's legs to each agent's phone: never two answered at once."""

    def __init__(self, carrier_url: str, phones: dict[str, str], every_s: float = 0.2):
        self.carrier_url = carrier_url
        self.phones = phones
        self.every_s = every_s
        self.overlaps: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LegWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        """Look every few tenths of a second until stopped."""
        while not self._stop.wait(self.every_s):
            try:
                calls = requests.get(
                    f"{self.carrier_url}/carrier/calls", auth=AUTH, timeout=5
                ).json()
            except (requests.RequestException, ValueError):
                continue
            live: dict[str, list[str]] = {}
            for call in calls:
                agent = self.phones.get(call["to"])
                if agent and call["status"] == "in-progress" and call["direction"] != "inbound":
                    live.setdefault(agent, []).append(call["call_sid"])
            for agent, legs in live.items():
                if len(legs) > 1:
                    self.overlaps.append(f"{agent} on {len(legs)} answered legs at once")


@dataclass
class World:
    """A running hotline with its carrier, a supervisor's token, and its parts' handles."""

    hotline: Hotline
    token: str = ""
    # Names of the agents by phone, for the carrier's legs.
    phones: dict[str, str] = field(default_factory=dict)
    # An external Redis this world was started on (REDIS_URL), to stop and start again.
    external_redis: Any = None

    @property
    def app_url(self) -> str:
        return self.hotline.app_url

    @property
    def carrier_url(self) -> str:
        return self.hotline.carrier_url

    def redis(self) -> redis_lib.Redis:
        """A client on the hotline's Redis that gives up quickly while Redis is away."""
        return redis_lib.Redis.from_url(
            self.hotline.redis_url, socket_timeout=5, socket_connect_timeout=5
        )

    # The consoles' JSON API, as a supervisor

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the ops API with the supervisor's bearer token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(
            method, f"{self.app_url}/api/v1{path}", headers=headers, timeout=10, **kwargs
        )

    def presence(self, agent_id: str, presence: str) -> None:
        """Set an agent's presence through the ops API."""
        reply = self.api("POST", f"/agents/{agent_id}/presence", json={"presence": presence})
        assert reply.status_code == 200, reply.text

    def agents(self) -> dict[str, dict[str, Any]]:
        """Every agent as the ops API lists them, by id."""
        reply = self.api("GET", "/agents")
        reply.raise_for_status()
        return {agent["id"]: agent for agent in reply.json()["agents"]}

    def alert_feed(self, after: str) -> list[dict[str, Any]]:
        """Every alert in the supervisors' feed after a stream id, paging to the end."""
        found: list[dict[str, Any]] = []
        while True:
            reply = self.api("GET", "/alerts", params={"after": after})
            reply.raise_for_status()
            page = reply.json()
            found += page["alerts"]
            if not page["last_id"] or page["last_id"] == after:
                return found
            after = page["last_id"]

    # The carrier

    def carrier(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the carrier's control or REST API."""
        return requests.request(
            method, f"{self.carrier_url}{path}", auth=AUTH, timeout=10, **kwargs
        )

    def place(self, *steps: dict[str, Any], caller: str | None = None, **script: Any) -> str:
        """Place a simulated call from a fresh number and return its SID.

        A caller who never presses the danger key is not in danger: told by the number's
        fallback to call again later, they hang up, as a person would. One in danger stays on
        the line for the crisis line the fallback promises.
        """
        if not any("9" in str(step.get("press", "")) for step in steps):
            script.setdefault("hangup_on", self.fallback_apology())
        body = {
            "from": caller or new_caller(),
            "script": {"steps": list(steps), "hangup_after": script.pop("hangup_after", 6000),
                       **script},
        }  # fmt: skip
        reply = self.carrier("POST", "/carrier/calls", json=body)
        assert reply.status_code == 201, reply.text
        return reply.json()["call_sid"]

    def fallback_apology(self) -> list[str]:
        """What the number's fallback says before it dials the crisis line, each language."""
        assert self.hotline.home is not None
        served = self.hotline.home / "var" / "crisis-fallback.xml"
        said: list[str] = []
        for verb in ET.fromstring(served.read_text(encoding="utf-8")):
            if verb.tag == "Dial":
                break
            if verb.tag == "Say" and verb.text:
                said.append(verb.text)
        return said

    def transcript(self, call_sid: str) -> dict[str, Any]:
        """A call's transcript so far."""
        reply = self.carrier("GET", f"/carrier/calls/{call_sid}")
        reply.raise_for_status()
        return reply.json()

    def calls(self) -> list[dict[str, Any]]:
        """Every leg the carrier has seen."""
        reply = self.carrier("GET", "/carrier/calls")
        reply.raise_for_status()
        return reply.json()

    def hang_up(self, call_sid: str) -> None:
        """Hang up a call as its caller (nothing happens to a call already over)."""
        if not self.transcript(call_sid)["finished"]:
            self.carrier("POST", f"/carrier/calls/{call_sid}/hangup")

    def finished(self, call_sid: str, deadline_s: float = STEP_DEADLINE_S) -> dict[str, Any]:
        """Wait until a call has ended and return its transcript."""
        return poll(
            lambda: (t := self.transcript(call_sid))["finished"] and t, deadline_s, "a call to end"
        )

    def faults(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Set the carrier's fault plan (an empty one clears it)."""
        reply = self.carrier("PUT", "/carrier/faults", json=plan)
        reply.raise_for_status()
        return reply.json()

    def exchanges(self) -> list[dict[str, Any]]:
        """The REST requests the carrier answered, oldest first."""
        reply = self.carrier("GET", "/carrier/requests")
        reply.raise_for_status()
        return reply.json()

    def forget_exchanges(self) -> None:
        """Start the carrier's record of REST requests afresh."""
        self.carrier("DELETE", "/carrier/requests")

    def leg_watch(self) -> LegWatch:
        """Start sampling agents' legs for overlaps."""
        return LegWatch(self.carrier_url, self.phones)

    # The event stream

    def last_event_id(self) -> str:
        """The id of the newest event, or 0-0 on an empty stream."""
        newest = self.redis().xrevrange(keys.events(), count=1)
        return newest[0][0].decode() if newest else "0-0"

    def events_after(self, after: str) -> list[dict[str, str]]:
        """Every event after a stream id, oldest first, each with its id."""
        found = []
        for entry_id, fields in self.redis().xrange(keys.events(), min=f"({after}", max="+"):
            event = {k.decode(): v.decode() for k, v in fields.items()}
            found.append({"id": entry_id.decode(), **event})
        return found

    # The processes

    def state(self) -> dict[str, Any]:
        """Serve's state file: its children's pids and Redis's."""
        assert self.hotline.home is not None
        return json.loads((self.hotline.home / "var" / "serve.json").read_text())

    def pid(self, part: str) -> int:
        """The pid of a part: web, worker, carrier or redis (embedded or external)."""
        if part == "redis":
            if self.external_redis is not None:
                return int(self.external_redis.pid)
            return int(self.state()["redis"])
        return int(self.state()["children"][part])

    def signal(self, part: str, signum: int) -> int:
        """Send a signal to a part; return the pid it went to."""
        pid = self.pid(part)
        os.kill(pid, signum)
        return pid

    def back(self, part: str, old_pid: int, deadline_s: float = STEP_DEADLINE_S) -> float:
        """Wait until serve has started a part again and it answers; return how long it took."""
        started = time.monotonic()

        def answering() -> bool:
            state = ready_state(self.hotline.home / "var" / "serve.json") or {}
            new = state.get("redis") if part == "redis" else state.get("children", {}).get(part)
            if new in (None, old_pid) or not _alive(int(new)):
                return False
            if part == "worker":
                return int(new) in worker_pids(self.redis())
            if part == "redis":
                return bool(self.redis().ping())
            return True

        poll(quiet(answering), deadline_s, f"the {part} to come back")
        return time.monotonic() - started

    def serve_alive(self) -> bool:
        """Whether the `hotline serve` process is still running."""
        return self.hotline.serve is not None and self.hotline.serve.poll() is None

    def log(self) -> str:
        """What serve and its children printed."""
        return self.hotline.log()


def worker_pids(redis: redis_lib.Redis) -> set[int]:
    """The pids of the RQ workers registered on Redis."""
    from rq import Worker

    return {worker.pid for worker in Worker.all(connection=redis) if worker.pid}


def quiet(check: Callable[[], bool]) -> Callable[[], bool]:
    """A poll check that counts a connection error as not yet."""

    def wrapped() -> bool:
        try:
            return check()
        except (redis_lib.RedisError, OSError, ValueError, requests.RequestException):
            return False

    return wrapped


def serve_env(home: Path, *, redis_url: str | None, port: int | None = None) -> dict[str, str]:
    """The environment of a chaos serve: demo mode, its own config, roster, phones and var dir."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL", "CARRIER_", "REDIS_URL"))
    }
    env.update(
        HOTLINE_CONFIG=str(write_yaml(home / "hotline.yaml", chaos_config())),
        HOTLINE_VAR_DIR=str(home / "var"),
        HOTLINE_SECRET_KEY="chaos-secret",
        HOTLINE_DEMO_ROSTER=str(write_yaml(home / "roster.yaml", chaos_roster())),
        CARRIER_TIME_SCALE=str(TIME_SCALE),
        CARRIER_AGENTS=str(write_yaml(home / "phones.yaml", chaos_phones())),
        PYTHONPATH=str(REPO),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    if port is not None:
        env["PORT"] = str(port)
    return env


def wait_ready(
    home: Path, serve: subprocess.Popen, app_url: str, carrier_url: str
) -> dict[str, Any]:
    """Wait until serve says every part answers, and the web and carrier do."""

    def up() -> dict[str, Any] | None:
        assert serve.poll() is None, (home / "serve.log").read_text()[-3000:]
        state = ready_state(home / "var" / "serve.json")
        if state is None:
            return None
        try:
            ok = requests.get(f"{app_url}/healthz", timeout=5).status_code == 200
            return state if ok and requests.get(f"{carrier_url}/carrier/health", timeout=5).ok \
                else None  # fmt: skip
        except requests.RequestException:
            return None

    return poll(up, STARTUP_DEADLINE_S, "hotline serve to be ready")


def stop_serve(home: Path, serve: subprocess.Popen, pids: list[int]) -> list[int]:
    """Stop a serve with Ctrl-C and return any of its processes still alive afterwards."""
    pids = pids + serve_pids(ready_state(home / "var" / "serve.json") or {})
    if serve.poll() is None:
        serve.send_signal(signal.SIGINT)
    try:
        serve.wait(timeout=30)
    except subprocess.TimeoutExpired:
        serve.kill()
        serve.wait(5)
    left = [pid for pid in set(pids) if _alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def add_supervisor(env: dict[str, str], redis_url: str) -> str:
    """Create the supervisor console user with `hotline user add` and return an API token."""
    env = {**env, "REDIS_URL": redis_url}
    hotline = [sys.executable, "-m", "hotline.cli"]
    added = subprocess.run(
        [*hotline, "user", "add", SUPERVISOR, "--role", "supervisor", "--password-stdin"],
        input="chaos supervisor password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    token = subprocess.run(
        [*hotline, "user", "token", "add", SUPERVISOR, "--name", "chaos"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert token.returncode == 0, token.stderr
    return token.stdout.split()[0]


@contextmanager
def running(
    home: Path, *, redis_url: str | None = None, external_redis: Any = None
) -> Iterator[World]:
    """Run `hotline serve` for chaos in a folder; stop it and check nothing is left behind."""
    home.mkdir(parents=True, exist_ok=True)
    port, carrier_port = free_port(), free_port()
    env = serve_env(home, redis_url=redis_url)
    log = (home / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve", "--port", str(port),
         "--carrier-port", str(carrier_port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    pids: list[int] = []
    try:
        app_url, carrier_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{carrier_port}"
        state = wait_ready(home, serve, app_url, carrier_url)
        pids = serve_pids(state)
        hotline = Hotline(
            app_url, carrier_url, chaos_config(), state["redis_url"], serve, home, env
        )
        world = World(
            hotline,
            token=add_supervisor(env, state["redis_url"]),
            phones={agent.phone: agent.id for agent in AGENTS},
            external_redis=external_redis,
        )
        yield world
    finally:
        left = stop_serve(home, serve, pids)
        log.close()
        assert left == [], f"processes left running after hotline serve stopped: {left}"


@contextmanager
def running_make(home: Path) -> Iterator[World]:
    """A second hotline started as `make run` is, with its own var dir and PORT."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = serve_env(home, redis_url=None, port=port)
    log = (home / "serve.log").open("w")
    # Its own session, so that Ctrl-C reaches make and serve as it does in a terminal.
    make = subprocess.Popen(
        ["make", "-s", "-C", str(REPO), "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pids: list[int] = []
    try:
        state = poll(
            lambda: _checked(make, home) and ready_state(home / "var" / "serve.json"),
            STARTUP_DEADLINE_S,
            "the second make run to be ready",
        )
        pids = serve_pids(state) + [state["supervisor"]]
        app_url = f"http://127.0.0.1:{port}"
        carrier_url = f"http://127.0.0.1:{state['carrier_port']}"
        wait_ready(home, make, app_url, carrier_url)
        hotline = Hotline(app_url, carrier_url, chaos_config(), state["redis_url"], make, home, env)
        yield World(hotline, phones={agent.phone: agent.id for agent in AGENTS})
    finally:
        pids += serve_pids(ready_state(home / "var" / "serve.json") or {})
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(5)
        log.close()
        left = [pid for pid in set(pids) if _alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == [], f"processes left running after the second make run stopped: {left}"


def _checked(process: subprocess.Popen, home: Path) -> bool:
    """True while a process runs; fails with its log once it has stopped."""
    assert process.poll() is None, (home / "serve.log").read_text()[-3000:]
    return True
