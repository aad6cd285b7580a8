"""The number's Voice Fallback URL on the stand-in: when a TwiML fetch of a call fails, the caller
hears what the fallback answers; only when the fallback fails too, Twilio's application error.

The fallback is the app's /voice/fallback, or, as in production and in the demo, a static
document the carrier hosts itself (a TwiML Bin) that no fault of the app's webhooks reaches."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from carrier import bins
from carrier.leg import APPLICATION_ERROR
from hotline.serve import shipped_fallback_twiml
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, CRISIS_LINE, Rig, build_rig
from tests.fixtures.waits import poll


@pytest.fixture
def rig() -> Iterator[Rig]:
    """The carrier and the small hotline, its number's fallback at /voice/fallback."""
    yield from build_rig()


def set_faults(rig: Rig, plan: dict[str, Any]) -> None:
    """Replace the carrier's fault plan through its control API."""
    reply = requests.put(
        f"{rig.carrier_url}/carrier/faults", json=plan, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )
    reply.raise_for_status()


def entries(transcript: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Return a transcript's entries of one kind."""
    return [e for e in transcript["entries"] if e["kind"] == kind]


def heard(transcript: dict[str, Any]) -> list[str]:
    """Return what the caller heard, in order."""
    return [e["text"] for e in entries(transcript, "heard")]


def test_the_health_check_names_the_numbers_fallback(rig: Rig) -> None:
    health = requests.get(f"{rig.carrier_url}/carrier/health", timeout=5).json()

    assert health["fallback_url"] == rig.app_url + "/voice/fallback"


def test_a_caller_whose_voice_webhook_timed_out_hears_the_fallback(rig: Rig) -> None:
    set_faults(rig, {"webhook_timeout": 1.0, "limits": {"webhook_timeout": 1}})
    transcript = rig.call()

    assert heard(transcript) == ["Sorry, error 11205."]
    (fallback,) = entries(transcript, "fallback")
    assert (fallback["code"], fallback["failed"], fallback["url"]) == (
        11205,
        "/voice",
        "/voice/fallback",
    )
    (asked,) = rig.seen.at("/voice/fallback")
    assert asked["ErrorCode"] == "11205" and asked["ErrorUrl"] == rig.app_url + "/voice"
    assert asked["CallSid"] == transcript["call_sid"]
    assert transcript["outcome"]["errors"] == [11205]
    # The fallback's <Hangup> ended the call, not the carrier's application error.
    assert transcript["outcome"]["ended_by"] == "app"


def test_an_action_url_that_times_out_falls_back_too(rig: Rig) -> None:
    set_faults(
        rig,
        {"webhook_timeout": 1.0, "webhook_match": "/language", "limits": {"webhook_timeout": 1}},
    )
    transcript = rig.call("press:2")

    paths = [(w["path"], w["purpose"]) for w in entries(transcript, "webhook")]
    assert paths[:3] == [
        ("/voice", "voice"),
        ("/language", "gather"),
        ("/voice/fallback", "fallback"),
    ]
    (asked,) = rig.seen.at("/voice/fallback")
    assert asked["ErrorCode"] == "11205" and asked["ErrorUrl"] == rig.app_url + "/language"
    assert asked["Digits"] == "2"  # the action's own parameters come along
    assert heard(transcript)[-1] == "Sorry, error 11205."
    assert APPLICATION_ERROR not in heard(transcript)


def test_when_the_fallback_fails_too_the_caller_hears_the_application_error(rig: Rig) -> None:
    set_faults(rig, {"webhook_timeout": 1.0, "limits": {"webhook_timeout": 2}})
    transcript = rig.call()

    failures = [(w["path"], w.get("failure")) for w in entries(transcript, "webhook")]
    assert failures[:2] == [("/voice", "timeout"), ("/voice/fallback", "timeout")]
    assert [e["url"] for e in entries(transcript, "error")] == ["/voice", "/voice/fallback"]
    assert len(entries(transcript, "fallback")) == 1  # the fallback is not asked for itself
    assert heard(transcript) == [APPLICATION_ERROR]
    assert transcript["outcome"]["ended_by"] == "carrier"


# The number's fallback as a bin: the static crisis fallback production hosts apart from the app.

SHIPPED = shipped_fallback_twiml()
RUN_HOTLINE = "import sys\nfrom hotline.cli import main\nsys.exit(main(sys.argv[1:]))\n"


def says(twiml: str) -> list[str]:
    """Return the words of a TwiML document's <Say> verbs, in order."""
    return [(verb.text or "").strip() for verb in ET.fromstring(twiml).iter("Say")]


@pytest.fixture
def bin_rig() -> Iterator[Rig]:
    """The carrier and the small hotline, the number's fallback the shipped file in a bin."""
    for rig in build_rig():
        bins.host_fallback(rig.hub.settings, bins.read_twiml(SHIPPED))
        yield rig


def test_a_bin_answers_get_and_post_with_its_twiml(bin_rig: Rig) -> None:
    url = f"{bin_rig.carrier_url}/carrier/bins/fallback"
    shipped = SHIPPED.read_text(encoding="utf-8")

    got = requests.get(url, timeout=5)
    posted = requests.post(url, data={"CallSid": "CA" + "1" * 32, "ErrorCode": "11205"}, timeout=5)

    for reply in (got, posted):
        assert reply.status_code == 200
        assert reply.headers["Content-Type"].startswith("text/xml")
        assert reply.text == shipped
        assert ET.fromstring(reply.text).tag == "Response"
    assert [n.text for n in ET.fromstring(posted.text).iter("Number")] == [CRISIS_LINE, "+86110"]
    assert requests.get(f"{bin_rig.carrier_url}/carrier/bins/other", timeout=5).status_code == 404
    health = requests.get(f"{bin_rig.carrier_url}/carrier/health", timeout=5).json()
    assert (health["fallback_url"], health["bins"]) == (url, ["fallback"])


def test_with_every_webhook_timing_out_a_caller_hears_the_bin_and_reaches_the_crisis_line(
    bin_rig: Rig,
) -> None:
    set_faults(bin_rig, {"webhook_timeout": 1.0, "webhook_delay": 1.0, "webhook_delay_s": 1})
    # The caller stays on the line through the apology and hangs up while talking to the line.
    transcript = bin_rig.call(hangup_after=60)

    hooks = entries(transcript, "webhook")
    assert [(w["path"], w.get("failure")) for w in hooks[:2]] == [
        ("/voice", "timeout"),
        ("/carrier/bins/fallback", None),
    ]
    (from_bin,) = [w for w in hooks if w["path"] == "/carrier/bins/fallback"]
    assert (from_bin["status"], from_bin["purpose"]) == (200, "fallback")
    assert "delayed_s" not in from_bin  # no fault of the app's webhooks reaches the bin
    (fallback,) = entries(transcript, "fallback")
    assert (fallback["code"], fallback["url"]) == (11205, "/carrier/bins/fallback")
    assert bin_rig.seen.at("/voice/fallback") == []  # the app's own route is not asked
    assert heard(transcript)[:2] == says(SHIPPED.read_text(encoding="utf-8"))[:2]
    assert APPLICATION_ERROR not in heard(transcript)
    outcome = transcript["outcome"]
    assert [(b["number"], b["role"]) for b in outcome["bridged_to"]] == [
        (CRISIS_LINE, "crisis-line")
    ]
    assert (outcome["crisis"], outcome["ended_by"], outcome["errors"]) == (True, "caller", [11205])
    # Every timeout injected fell on the app: none on the bin.
    injected = requests.get(
        f"{bin_rig.carrier_url}/carrier/faults", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    ).json()["injected"]
    timed_out = [w for w in hooks if w.get("failure") == "timeout"]
    assert injected["webhook_timeout"] == len(timed_out) >= 1
    assert all(not w["path"].startswith("/carrier/") for w in timed_out)


def test_a_forged_call_is_refused_by_the_app_and_answered_by_the_bin(bin_rig: Rig) -> None:
    transcript = bin_rig.call(forge=True, hangup_after=60)

    statuses = [(w["path"], w["status"]) for w in entries(transcript, "webhook")]
    assert statuses[:2] == [("/voice", 403), ("/carrier/bins/fallback", 200)]
    assert APPLICATION_ERROR not in heard(transcript)
    assert transcript["outcome"]["crisis"] is True


def run_carrier(*args: str) -> subprocess.Popen:
    """Start `hotline carrier` with arguments, its output captured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "HOTLINE_"))}
    return subprocess.Popen(
        [sys.executable, "-c", RUN_HOTLINE, "carrier", "--app-url", "http://127.0.0.1:9", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def free_port() -> int:
    """Return a port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_carrier_command_hosts_a_fallback_file_in_a_bin() -> None:
    port = free_port()
    process = run_carrier("--port", str(port), "--fallback-twiml", str(SHIPPED))
    try:
        base = f"http://127.0.0.1:{port}"

        def health() -> dict[str, Any] | None:
            assert process.poll() is None, process.communicate()[0]
            try:
                return requests.get(f"{base}/carrier/health", timeout=1).json()
            except requests.ConnectionError:
                return None

        assert poll(health, 30, "the carrier to answer")["fallback_url"] == (
            f"{base}/carrier/bins/fallback"
        )
        served = requests.post(f"{base}/carrier/bins/fallback", timeout=5)
        assert served.text == SHIPPED.read_text(encoding="utf-8")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert f"fallback {base}/carrier/bins/fallback" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=5)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--fallback-twiml", "{missing}"), "No such file"),
        (("--fallback-twiml", "{not_twiml}"), "is not TwiML a call can run"),
        (("--fallback-twiml", "{shipped}", "--fallback-path", "/voice/fallback"), "not allowed"),
    ],
    ids=["missing file", "not TwiML", "both fallbacks"],
)
def test_the_carrier_command_refuses_a_fallback_it_cannot_host(
    tmp_path: Path, args: tuple[str, ...], said: str
) -> None:
    not_twiml = tmp_path / "page.xml"
    not_twiml.write_text("<html><body>Sorry</body></html>", encoding="utf-8")
    paths = {"missing": tmp_path / "none.xml", "not_twiml": not_twiml, "shipped": SHIPPED}
    process = run_carrier("--port", "9", *(arg.format(**paths) for arg in args))
    output, _ = process.communicate(timeout=30)

    assert process.returncode == 2
    assert said in output
    assert "Traceback" not in output
