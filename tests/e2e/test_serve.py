"""`hotline serve` as a real process: it answers signed webhooks, rejects unsigned ones, and
Ctrl-C stops every process it started, the embedded Redis included."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from queues.embedded import _alive
from telephony.demo import DEMO_AUTH_TOKEN
from telephony.signature import SIGNATURE_HEADER, sign
from tests.e2e.harness import free_port, poll

pytestmark = pytest.mark.e2e

STARTUP_DEADLINE_S = 60.0


def post(url: str, form: dict[str, str], signature: str | None) -> tuple[int, bytes]:
    """POST a form, returning status and body (errors included)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    request = urllib.request.Request(
        url, data=urllib.parse.urlencode(form).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def health(base: str) -> int | None:
    """The /healthz status code, or None while nothing answers."""
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@pytest.fixture
def served(tmp_path: Path):
    """A running `hotline serve` in demo mode on free ports, stopped with SIGINT afterwards."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TWILIO_", "HOTLINE_", "PUBLIC_BASE_URL"))
    }
    port = free_port()
    env.update(PORT=str(port), CARRIER_PORT=str(free_port()), HOTLINE_VAR_DIR=str(tmp_path / "var"))
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ivr.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    state_file = tmp_path / "var" / "serve.json"
    try:
        poll(lambda: health(base) == 200, STARTUP_DEADLINE_S, "hotline serve to answer /healthz")
        state = json.loads(state_file.read_text())
        yield base, process, state
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        finally:
            log.close()


def test_serve_answers_signed_webhooks_and_stops_everything_on_ctrl_c(served, tmp_path):
    base, process, state = served
    form = {
        "CallSid": "CA" + "2" * 32,
        "From": "+8613812345678",
        "To": "+861012348000",
        "AccountSid": "AC" + "0" * 31 + "1",
        "CallStatus": "ringing",
    }
    status, body = post(f"{base}/voice", form, sign(DEMO_AUTH_TOKEN, f"{base}/voice", form))
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == "Response" and root.find("Gather") is not None
    assert post(f"{base}/voice", form, None)[0] == 403
    assert post(f"{base}/voice", form, "forged")[0] == 403

    pids = list(state["children"].values())
    if not os.environ.get("REDIS_URL"):
        # Without REDIS_URL serve embeds Redis, and must stop it too.
        assert state["redis"] is not None
        pids.append(state["redis"])
    assert all(_alive(pid) for pid in pids)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    output = (tmp_path / "serve.log").read_text()
    assert process.returncode == 0, output
    assert "/voice" in output and "hotline call" in output
    for pid in pids:
        poll(lambda pid=pid: not _alive(pid), 10, f"process {pid} to stop")
    assert not (tmp_path / "var" / "serve.json").exists()
