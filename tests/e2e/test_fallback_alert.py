"""A caller whose /voice timed out reaches the crisis line through the number's static fallback
(the carrier's bin, which `hotline serve` writes from the running config and the app's URL):
the line's leg reports to the app, and a crisis alert reaches the supervisors' console."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.e2e.harness import CALL_DEADLINE_S, Hotline, poll, serving, shipped_config

pytestmark = pytest.mark.e2e

# Crisis lines of this hotline's own config, not the shipped ones: the bin must dial these.
LINE = "+8612399"
LINE_FALLBACK = "+86119"
SUPERVISOR = "sam"


def other_lines_config() -> dict[str, Any]:
    """The shipped config with crisis lines of its own."""
    config = shipped_config()
    config["crisis"]["numbers"] = {"zh": LINE, "en": LINE, "fallback": LINE_FALLBACK}
    return config


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hotline]:
    """The hotline with crisis lines of its own, which the carrier answers as crisis lines."""
    home = tmp_path_factory.mktemp("fallback")
    phones = home / "phones.yaml"
    line = {"name": "crisis line", "role": "crisis-line", "answer_after": 2, "stay": 300}
    phones.write_text(yaml.safe_dump({LINE: line, LINE_FALLBACK: line}), encoding="utf-8")
    with serving(home, other_lines_config(), phones=phones) as running:
        yield running


def supervisor_token(hotline: Hotline) -> str:
    """A supervisor's API token, made with `hotline user` as ops would."""
    assert hotline.env is not None
    env = {**hotline.env, "REDIS_URL": hotline.redis_url}
    command = [sys.executable, "-m", "hotline.cli", "user"]
    added = subprocess.run(
        [*command, "add", SUPERVISOR, "--role", "supervisor", "--password-stdin"],
        input="a supervisor's password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    token = subprocess.run(
        [*command, "token", "add", SUPERVISOR, "--name", "fallback"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert token.returncode == 0, token.stderr
    return token.stdout.split()[0]


def crisis_alerts(hotline: Hotline, token: str) -> list[str]:
    """The calls of the crisis alerts in the supervisors' feed."""
    reply = requests.get(
        f"{hotline.app_url}/api/v1/alerts",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    reply.raise_for_status()
    return [alert.get("call", "") for alert in reply.json()["alerts"] if alert["kind"] == "crisis"]


def test_a_caller_put_through_by_the_static_fallback_is_alerted_to_the_supervisors(
    hotline: Hotline,
) -> None:
    token = supervisor_token(hotline)
    assert hotline.home is not None
    served = Path(hotline.home / "var" / "crisis-fallback.xml").read_text(encoding="utf-8")
    assert f"{hotline.app_url}/voice/fallback/crisis-status" in served

    hotline.faults({"webhook_timeout": 1.0, "limits": {"webhook_timeout": 1}})
    try:
        transcript = hotline.call(hangup_after=120)
    finally:
        hotline.faults({})

    first, fallback = [e for e in transcript["entries"] if e["kind"] == "webhook"][:2]
    assert (first["path"], first["failure"]) == ("/voice", "timeout")
    assert (fallback["path"], fallback["status"]) == ("/carrier/bins/fallback", 200)
    # The running config's crisis line, not the shipped file's.
    outcome = transcript["outcome"]
    assert [(b["number"], b["role"]) for b in outcome["bridged_to"]] == [(LINE, "crisis-line")]
    caller = transcript["call_sid"]
    alerted = poll(
        lambda: caller in crisis_alerts(hotline, token) and crisis_alerts(hotline, token),
        CALL_DEADLINE_S,
        "the crisis alert in the supervisors' feed",
    )
    assert alerted.count(caller) == 1
