"""`hotline carrier` as a real process: it serves Twilio's paths and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from telephony.demo import DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN

RUN_CARRIER = "import sys\nfrom hotline.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def free_port() -> int:
    """Return a port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_carrier_process_serves_and_stops_on_sigterm() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "HOTLINE_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RUN_CARRIER,
            "carrier",
            "--port",
            str(port),
            "--app-url",
            "http://127.0.0.1:9",
            "--faults",
            '{"rest_429": 0.0}',
        ],  # fmt: skip
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                health = requests.get(f"{base}/carrier/health", timeout=1).json()
            except requests.ConnectionError:
                time.sleep(0.05)
        assert health is not None and health["hotline_number"] == "+861012348000"
        unauthorised = requests.get(
            f"{base}/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/Queues.json", timeout=5
        )
        assert unauthorised.status_code == 401 and unauthorised.json()["code"] == 20003
        listed = requests.get(
            f"{base}/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/Queues.json",
            auth=(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN),
            timeout=5,
        )
        assert listed.status_code == 200 and listed.json()["queues"] == []
        missing = requests.get(
            f"{base}/2010-04-01/Accounts/{DEMO_ACCOUNT_SID}/Nothing.json",
            auth=(DEMO_ACCOUNT_SID, DEMO_AUTH_TOKEN),
            timeout=5,
        )
        assert missing.status_code == 404 and missing.json()["code"] == 20404
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert "carrier on" in output and "+86******8000" in output
        assert "+861012348000" not in output
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)
