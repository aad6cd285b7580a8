"""`hotline bench crisis`: time to a human on the crisis path, through the carrier.

Real processes on free ports: an embedded Redis, the web app (gunicorn), an RQ worker, and the
carrier with a small set of phones (crisis-trained agents, supervisors, crisis lines). A caller
presses the danger key at the greeting; the carrier's transcripts say, on its call-second clock,
when the key was pressed, when each phone rang and answered, and when the caller was bridged.

Three figures: a crisis-trained agent free (answers after 3 s), nobody free (the external line
is dialled after CRISIS_ROLLOVER_S), and Redis stopped (the line is dialled at once).
The e2e crisis tests drive the same rig at a faster clock.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from redis import Redis

from queues.agents import AgentBoard
from queues.connection import redis_client
from queues.embedded import EmbeddedRedis
from routing.config import load_config
from routing.roster import parse_roster
from tools import REPO, SHIPPED_CONFIG

ACCOUNT_SID = "AC" + "c" * 32
AUTH_TOKEN = "crisis-bench-token"
# The rig's hotline secret: what its processes seal in Redis opens with it.
SECRET_KEY = "crisis-bench-secret"
HOTLINE_NUMBER = "+861012348000"
CALLER = "+8613912345678"
# Real seconds per call second in the tests: 0.1 keeps them short, though a 10 ms webhook
# then counts as 0.1 call seconds. The bench runs in real time, so its figures are the
# caller's own seconds.
TIME_SCALE = 0.1
BENCH_TIME_SCALE = 1.0
# The targets: a free agent answers within this plus their ring time; with Redis down
# the crisis line is dialled within this.
AGENT_TARGET_S = 5.0
REDIS_DOWN_TARGET_S = 1.0
STARTUP_S = 60.0
CALL_WAIT_S = 60.0

LINE_ZH, LINE_EN, LINE_FALLBACK = "+8612356", "+8612357", "+86110"
PHONES: dict[str, dict[str, Any]] = {
    # The crisis-trained agent who answers after 3 s and takes the call.
    "+8613900000201": {
        "name": "Agent Lin",
        "role": "agent",
        "answer_after": 3,
        "press": ["1"],
        "stay": 15,
    },  # fmt: skip
    # One who answers and declines, and one who never answers.
    "+8613900000202": {"name": "Agent Ma", "role": "agent", "answer_after": 2, "press": ["2"]},
    "+8613900000203": {"name": "Agent Hu", "role": "agent", "answer_after": "never"},
    "+8613900000301": {
        "name": "Supervisor Li",
        "role": "supervisor",
        "answer_after": 2,
        "press": ["1"],
        "stay": 15,
    },  # fmt: skip
    LINE_ZH: {"name": "crisis line", "role": "crisis-line", "answer_after": 2, "stay": 5},
    LINE_EN: {"name": "crisis line (en)", "role": "crisis-line", "busy": True},
    LINE_FALLBACK: {"name": "fallback line", "role": "crisis-line", "busy": True},
}
AGENT_PHONES = {"taker": "+8613900000201", "decliner": "+8613900000202", "silent": "+8613900000203"}
ROSTER = """
timezone: Asia/Shanghai
agents:
  - {id: taker, name: Lin, phone: "+8613900000201", languages: [zh], skills: {general: 1},
     crisis_trained: true, shifts: [{days: daily, hours: "00:00-24:00"}]}
  - {id: decliner, name: Ma, phone: "+8613900000202", languages: [zh, en], skills: {general: 1},
     crisis_trained: true, shifts: [{days: daily, hours: "00:00-24:00"}]}
  - {id: silent, name: Hu, phone: "+8613900000203", languages: [zh, en], skills: {general: 1},
     crisis_trained: true, shifts: [{days: daily, hours: "00:00-24:00"}]}
supervisors:
  - {id: s1, name: Li, phone: "+8613900000301", on_call: [{days: daily, hours: "00:00-24:00"}]}
"""


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def poll(check: Callable[[], Any], deadline_s: float, what: str) -> Any:
    """Call check until it returns something truthy, or fail at the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class CrisisRig:
    """The hotline's processes and the carrier, with helpers to run crisis calls."""

    home: Path
    time_scale: float = TIME_SCALE
    redis: EmbeddedRedis | None = None
    redis_url: str = ""
    app_url: str = ""
    carrier_url: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    _log: Any = None

    def start(self) -> CrisisRig:
        """Start Redis, the carrier, the web app and the worker; wait until they answer."""
        self.config = self._write_config()
        self.redis = EmbeddedRedis(self.home / "redis")
        self.redis_url = self.redis.start()
        port, carrier_port = free_port(), free_port()
        self.app_url = f"http://127.0.0.1:{port}"
        self.carrier_url = f"http://127.0.0.1:{carrier_port}"
        phones = self.home / "phones.yaml"
        phones.write_text(yaml.safe_dump(PHONES, allow_unicode=True), encoding="utf-8")
        env = self._env()
        python = [sys.executable, "-m", "hotline.cli"]
        logs = self._log = (self.home / "processes.log").open("w")
        self.processes["carrier"] = subprocess.Popen(
            [
                *python,
                "carrier",
                "--host",
                "127.0.0.1",
                "--port",
                str(carrier_port),
                "--app-url",
                self.app_url,
                "--agents",
                str(phones),
                "--time-scale",
                str(self.time_scale),
            ],  # fmt: skip
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        self.processes["web"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "16",
                "--worker-class",
                "gthread",
                "--log-level",
                "warning",
                "hotline.app:create_app()",
            ],  # fmt: skip
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        self.processes["worker"] = subprocess.Popen(
            [*python, "worker"], env=env, stdout=logs, stderr=subprocess.STDOUT
        )
        poll(self._up, STARTUP_S, "the app and the carrier")
        self.import_roster()
        return self

    def _write_config(self) -> dict[str, Any]:
        """The shipped config with the bench's crisis lines."""
        config = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
        config["crisis"]["numbers"] = {"zh": LINE_ZH, "en": LINE_EN, "fallback": LINE_FALLBACK}
        path = self.home / "hotline.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
        return config

    def _env(self) -> dict[str, str]:
        """The environment of every process: a Twilio account pointed at the carrier."""
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL", "CARRIER_", "REDIS"))
        }
        env.update(
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_API_BASE_URL=self.carrier_url,
            HOTLINE_NUMBER=HOTLINE_NUMBER,
            HOTLINE_APP_URL=self.app_url,
            HOTLINE_CONFIG=str(self.home / "hotline.yaml"),
            HOTLINE_VAR_DIR=str(self.home / "var"),
            HOTLINE_SECRET_KEY=SECRET_KEY,
            VOICEMAIL_KEY="Y3Jpc2lzLWJlbmNoLXZvaWNlbWFpbC1rZXktMzItYnl0ZXM=",
            REDIS_URL=self.redis_url,
            PYTHONPATH=str(REPO),
        )
        return env

    def _up(self) -> bool:
        """Whether the app and the carrier answer; a process that died stops the wait."""
        for name, process in self.processes.items():
            if process.poll() is not None:
                log = (self.home / "processes.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{log}")
        try:
            app = requests.get(f"{self.app_url}/healthz", timeout=2).status_code == 200
            auth = (ACCOUNT_SID, AUTH_TOKEN)
            return (
                app and requests.get(f"{self.carrier_url}/carrier/health", auth=auth, timeout=2).ok
            )
        except requests.RequestException:
            return False

    def client(self) -> Redis:
        """A Redis client on the hotline's Redis."""
        return redis_client(self.redis_url)

    def import_roster(self) -> None:
        """Put the bench's agents and supervisor on the roster, everyone offline."""
        settings = load_config(
            (self.home / "hotline.yaml").read_text(encoding="utf-8"), "hotline.yaml"
        )
        roster = parse_roster(
            ROSTER,
            source="roster.yaml",
            area_ids=list(settings.areas),
            languages=list(settings.languages),
        )
        with self.client() as redis:
            AgentBoard(redis, settings.routing).import_roster(roster, time.time())

    def available(self, *agent_ids: str) -> None:
        """Make exactly these agents available (in this order: the first has rested longest)."""
        settings = load_config(
            (self.home / "hotline.yaml").read_text(encoding="utf-8"), "hotline.yaml"
        )
        with self.client() as redis:
            board = AgentBoard(redis, settings.routing)
            for agent_id in AGENT_PHONES:
                board.set_presence(agent_id, "offline", time.time())
            for agent_id in agent_ids:
                board.set_presence(agent_id, "available", time.time())

    def call(self, *steps: dict[str, Any], hangup_after: float = 90) -> dict[str, Any]:
        """Place a call, wait for it to end, and return its transcript."""
        body = {"from": CALLER, "script": {"steps": list(steps), "hangup_after": hangup_after}}
        auth = (ACCOUNT_SID, AUTH_TOKEN)
        reply = requests.post(f"{self.carrier_url}/carrier/calls", json=body, auth=auth, timeout=5)
        reply.raise_for_status()
        call_sid = reply.json()["call_sid"]
        # bandit reads the "timeout" query parameter as the call's; its timeout is below.
        done = requests.get(  # nosec B113
            f"{self.carrier_url}/carrier/calls/{call_sid}/wait",
            params={"timeout": CALL_WAIT_S},
            auth=auth,
            timeout=CALL_WAIT_S + 10,
        )
        done.raise_for_status()
        return done.json()

    def leg(self, call_sid: str) -> dict[str, Any]:
        """The transcript of another leg (a rung agent's phone, a crisis line)."""
        auth = (ACCOUNT_SID, AUTH_TOKEN)
        reply = requests.get(f"{self.carrier_url}/carrier/calls/{call_sid}", auth=auth, timeout=5)
        reply.raise_for_status()
        return reply.json()

    def messages(self) -> list[dict[str, str]]:
        """The SMS the carrier has kept."""
        auth = (ACCOUNT_SID, AUTH_TOKEN)
        return requests.get(f"{self.carrier_url}/carrier/messages", auth=auth, timeout=5).json()

    def stop_redis(self) -> None:
        """Stop the hotline's Redis while everything else runs on."""
        if self.redis is not None:
            self.redis.stop()

    def stop(self) -> None:
        """Stop every process and Redis; safe to call twice."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        self.stop_redis()
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass(frozen=True)
class Timing:
    """When things happened on a crisis call, in call seconds after the trigger (the key)."""

    answered_in_s: float
    first_ring_s: float | None
    answered_s: float | None
    bridged_s: float | None
    bridged_to: str
    dialled: dict[str, float]

    @property
    def calm_s(self) -> float:
        """The calm words between the app's answer and the first ring."""
        return round((self.first_ring_s or 0.0) - self.answered_in_s, 2)


def timing(rig: CrisisRig, transcript: dict[str, Any], trigger_key: str = "9") -> Timing:
    """Read a crisis call's transcript: trigger, the app's answer, rings, answer and bridge."""
    entries = transcript["entries"]
    at = next(
        i for i, e in enumerate(entries) if e["kind"] == "pressed" and e["keys"] == trigger_key
    )
    pressed = entries[at]["t"]
    webhook = next(e for e in entries[at:] if e["kind"] == "webhook")
    dialling = [e for e in entries if e["kind"] == "dialing"]
    dialled: dict[str, float] = {}
    for entry in dialling:
        dialled.setdefault(entry["number"], round(entry["t"] - pressed, 2))
    answered = None
    bridge = next((e for e in entries if e["kind"] == "bridged"), None)
    if bridge is not None:
        leg = rig.leg(bridge["call_sid"])
        picked = next((e["t"] for e in leg["entries"] if e["kind"] == "answered"), None)
        start = next(e["t"] for e in dialling if e["call_sid"] == bridge["call_sid"])
        if picked is not None:
            answered = round(start + picked - pressed, 2)
    return Timing(
        answered_in_s=round(webhook["t"] - pressed, 2),
        first_ring_s=min(dialled.values()) if dialled else None,
        answered_s=answered,
        bridged_s=round(bridge["t"] - pressed, 2) if bridge else None,
        bridged_to=bridge.get("name", "") if bridge else "",
        dialled=dialled,
    )


def run(
    out: Callable[[str], Any] = print, *, time_scale: float = BENCH_TIME_SCALE
) -> dict[str, Any]:
    """Run the three crisis scenarios and print time to a human for each, with its target."""
    home = Path(tempfile.mkdtemp(prefix="crisis-bench-"))
    rig = CrisisRig(home, time_scale=time_scale)
    try:
        rig.start()
        rollover = rig.config["crisis"]["rollover_s"]
        press = {"press": "9"}
        out(f"call seconds run at {time_scale:g} real seconds each; figures in call seconds")

        # One call first, so the figures are a warm process's, as on a live line.
        rig.available()
        rig.call(press, hangup_after=35)

        rig.available("taker")
        agent = timing(rig, rig.call(press, hangup_after=60))
        ring = float(PHONES[AGENT_PHONES["taker"]]["answer_after"])
        out(
            f"crisis agent free: answered {agent.answered_s:.1f} s after the trigger "
            f"(target {AGENT_TARGET_S:g} s + ring {ring:g} s = {AGENT_TARGET_S + ring:g} s; "
            f"their phone rang at {agent.first_ring_s:.1f} s, after the calm words "
            f"{agent.calm_s:.1f} s); caller bridged after the whisper at {agent.bridged_s:.1f} s"
        )

        rig.available("silent")
        nobody = timing(rig, rig.call(press, hangup_after=70))
        line_at = nobody.dialled[LINE_ZH]
        out(
            f"no agent answers: crisis line dialled {line_at:.1f} s after the trigger "
            f"(target rollover {rollover} s + 1 s = {rollover + 1} s; agents rang from "
            f"{nobody.first_ring_s:.1f} s)"
        )

        rig.available("taker")
        rig.stop_redis()
        down = timing(rig, rig.call(press, hangup_after=45))
        down_at = down.dialled[LINE_ZH]
        out(
            f"Redis stopped: crisis line dialled {down_at:.1f} s after the trigger "
            f"(target {REDIS_DOWN_TARGET_S:g} s)"
        )
        return {
            "time_scale": time_scale,
            "rollover_s": rollover,
            "agent": agent,
            "nobody": nobody,
            "redis_down": down,
        }
    finally:
        rig.stop()
        with suppress(OSError):
            shutil.rmtree(home)
