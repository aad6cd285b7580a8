"""The number's Voice Fallback URL on the stand-in: when a TwiML fetch of a call fails, the caller
hears what the fallback answers; only when the fallback fails too, Twilio's application error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from carrier.leg import APPLICATION_ERROR
from tests.fixtures.carrier import ACCOUNT_SID, AUTH_TOKEN, Rig, build_rig


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
