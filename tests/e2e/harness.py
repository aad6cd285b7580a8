"""Running the real hotline for whole-call tests: `hotline serve` in demo mode on free ports,
with a chosen config, roster and carrier phones; stopped with SIGINT, nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis as redis_lib
import requests
import yaml

from queues.embedded import _alive
from routing.yamldoc import dump_yaml
from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN
from tests.fixtures import waits
from tests.fixtures.app import REPO, TEST_SECRET

STARTUP_DEADLINE_S = 60.0
CALL_DEADLINE_S = 60.0
AUTH = (DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN)
CALLER = "+8613912345678"

# A roster whose only consultant is never on shift: calls wait in their queues.
NOBODY_ON_SHIFT = {
    "timezone": "Asia/Shanghai",
    "agents": [
        {
            "id": "idle",
            "name": "Nobody On Shift",
            "phone": "+8613900000099",
            "languages": ["zh"],
            "skills": {"general": 1},
            "crisis_trained": False,
            "shifts": [],
        }
    ],
}


def poll(check: Any, deadline_s: float, what: str) -> Any:
    """Poll a served hotline's processes until check holds, with growing gaps: each look asks
    them over HTTP or reads their files, and a start or a call takes seconds."""
    return waits.poll(check, deadline_s, what, growing=True)


def webhooks(transcript: dict[str, Any], path: str | None = None) -> list[dict[str, Any]]:
    """Return the transcript's webhook entries, optionally for one path."""
    return [
        e
        for e in transcript["entries"]
        if e["kind"] == "webhook" and (path is None or e["path"] == path)
    ]


def ready_state(state_file: Path) -> dict[str, Any] | None:
    """Serve's state file once it says every part answers, else None."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    return state if state.get("ready") else None


def serve_pids(state: dict[str, Any]) -> list[int]:
    """The processes a serve state lists: its children and its embedded Redis."""
    return [*state.get("children", {}).values(), *([state["redis"]] if state.get("redis") else [])]


def free_port() -> int:
    """Return a port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def shipped_config() -> dict[str, Any]:
    """The shipped hotline config as data, to edit for a test."""
    return yaml.safe_load((REPO / "hotline" / "hotline.yaml").read_text(encoding="utf-8"))


def write_yaml(path: Path, data: Any) -> Path:
    """Write data as YAML and return the path."""
    # No anchors or aliases: a roster file refuses them, and tests share shift lists.
    path.write_text(dump_yaml(data), encoding="utf-8")
    return path


@dataclass
class Hotline:
    """The running hotline and its carrier."""

    app_url: str
    carrier_url: str
    config: dict[str, Any]
    redis_url: str
    # The `hotline serve` process and its folder, for tests of serve itself.
    serve: subprocess.Popen | None = None
    home: Path | None = None
    env: dict[str, str] | None = None

    def state(self) -> dict[str, Any]:
        """What serve lists in var/serve.json now: its pid, its children's and Redis's."""
        assert self.home is not None
        return json.loads((self.home / "var" / "serve.json").read_text())

    def log(self) -> str:
        """Everything serve and its children have printed so far."""
        assert self.home is not None
        return (self.home / "serve.log").read_text()

    def start(self, *steps: dict[str, Any], hangup_after: float | None = 600, **script: Any) -> str:
        """Place a simulated call and return its SID."""
        body = {
            "from": script.pop("caller", CALLER),
            "script": {"steps": list(steps), "hangup_after": hangup_after, **script},
        }
        reply = requests.post(f"{self.carrier_url}/carrier/calls", json=body, auth=AUTH, timeout=5)
        assert reply.status_code == 201, reply.text
        return reply.json()["call_sid"]

    def finish(self, call_sid: str) -> dict[str, Any]:
        """Wait for a call to end and return its transcript."""
        reply = requests.get(
            f"{self.carrier_url}/carrier/calls/{call_sid}/wait",
            params={"timeout": CALL_DEADLINE_S},
            auth=AUTH,
            timeout=CALL_DEADLINE_S + 10,
        )
        assert reply.status_code == 200, f"call {call_sid} did not end: {reply.text[:2000]}"
        return reply.json()

    def transcript(self, call_sid: str) -> dict[str, Any]:
        """The transcript of a call so far."""
        reply = requests.get(f"{self.carrier_url}/carrier/calls/{call_sid}", auth=AUTH, timeout=5)
        reply.raise_for_status()
        return reply.json()

    def calls(self) -> list[dict[str, Any]]:
        """Every call the carrier has seen, agents' legs included."""
        reply = requests.get(f"{self.carrier_url}/carrier/calls", auth=AUTH, timeout=5)
        reply.raise_for_status()
        return reply.json()

    def call(self, *steps: dict[str, Any], **script: Any) -> dict[str, Any]:
        """Place a call and return its transcript once it has ended."""
        return self.finish(self.start(*steps, **script))

    def faults(self, plan: dict[str, Any]) -> dict[str, Any]:
        """Set the carrier's fault plan for the next calls."""
        reply = requests.put(f"{self.carrier_url}/carrier/faults", json=plan, auth=AUTH, timeout=5)
        reply.raise_for_status()
        return reply.json()

    def prompt(self, prompt: str, language: str, /, **fields: str) -> str:
        """Return a configured prompt as the caller hears it."""
        return " ".join(self.config["prompts"][prompt][language].format(**fields).split())

    def redis(self) -> redis_lib.Redis:
        """A client on the hotline's Redis."""
        return redis_lib.Redis.from_url(self.redis_url)


@contextmanager
def serving(
    home: Path,
    config: dict[str, Any],
    *,
    roster: dict[str, Any] = NOBODY_ON_SHIFT,
    phones: Path | None = None,
    time_scale: str = "0.01",
    embedded: bool = False,
) -> Iterator[Hotline]:
    """Run `hotline serve` in demo mode with a config, roster and carrier phones.

    With embedded, serve starts its own Redis even when the tests run on the machine's.
    """
    config_path = write_yaml(home / "hotline.yaml", config)
    roster_path = write_yaml(home / "roster.yaml", roster)
    port, carrier_port = free_port(), free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL", "CARRIER_"))
    }
    env.update(
        HOTLINE_CONFIG=str(config_path),
        HOTLINE_VAR_DIR=str(home / "var"),
        # The tests' own sealer opens what the hotline sealed in Redis.
        HOTLINE_SECRET_KEY=TEST_SECRET,
        HOTLINE_DEMO_ROSTER=str(roster_path),
        CARRIER_TIME_SCALE=time_scale,
        PYTHONPATH=str(REPO),
    )
    if phones is not None:
        env["CARRIER_AGENTS"] = str(phones)
    if embedded:
        env.pop("REDIS_URL", None)
    elif os.environ.get("REDIS_URL"):
        # On a shared Redis, each serve starts from an empty database.
        redis_lib.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    log = (home / "serve.log").open("w")
    serve = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve", "--port", str(port),
         "--carrier-port", str(carrier_port)],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    state_file = home / "var" / "serve.json"
    pids: list[int] = []
    try:
        app_url, carrier_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{carrier_port}"

        def ready() -> dict[str, Any] | None:
            assert serve.poll() is None, (home / "serve.log").read_text()
            return ready_state(state_file)

        # Serve marks itself ready once the app and carrier answer and the worker is registered:
        # its state file is read while it starts, and the two are asked once it says so.
        state = poll(ready, STARTUP_DEADLINE_S, "serve to be ready")
        assert requests.get(f"{app_url}/healthz", timeout=5).status_code == 200
        assert requests.get(f"{carrier_url}/carrier/health", timeout=5).ok
        pids = serve_pids(state)
        yield Hotline(app_url, carrier_url, config, state["redis_url"], serve, home, env)
    finally:
        # Children restarted during the test have new pids: check the latest ones too.
        pids += serve_pids(ready_state(state_file) or {})
        if serve.poll() is None:
            serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(5)
        log.close()
        left = [pid for pid in pids if _alive(pid)]
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        assert left == [], f"processes left running after hotline serve stopped: {left}"
        assert not state_file.exists()
