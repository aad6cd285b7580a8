"""An interactive caller through the carrier's control API, as the demo phone page drives it."""

from __future__ import annotations

import requests

from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)

AUTH = (ACCOUNT_SID, AUTH_TOKEN)


def control(rig: Rig, method: str, path: str, body: dict | None = None) -> requests.Response:
    """Call the carrier's control API."""
    return requests.request(
        method, f"{rig.carrier_url}/carrier{path}", json=body, auth=AUTH, timeout=5
    )


def heard(transcript: dict) -> list[str]:
    return [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]


def test_an_interactive_caller_waits_for_keys_and_words_then_hangs_up(rig: Rig) -> None:
    placed = control(rig, "POST", "/calls", {"from": CALLER, "interactive": True})
    assert placed.status_code == 201 and placed.json()["interactive"] is True
    sid = placed.json()["call_sid"]
    rig.wait_until(lambda: heard(rig.transcript(sid)), what="the greeting")
    # Nothing was pressed yet: the call waits for the person rather than timing out at once.
    assert not any(e["kind"] == "silent" for e in rig.transcript(sid)["entries"])
    assert control(rig, "POST", f"/calls/{sid}/input", {"digits": "2"}).status_code == 202
    rig.wait_until(
        lambda: "Choose an area." in heard(rig.transcript(sid)), what="the English area menu"
    )
    assert control(rig, "POST", f"/calls/{sid}/input", {"speech": "my wages"}).status_code == 202
    # A key sent ahead waits for the next prompt (the area's intake question).
    assert control(rig, "POST", f"/calls/{sid}/input", {"digits": "1"}).status_code == 202
    rig.wait_until(
        lambda: "labor" in rig.transcript(sid)["outcome"].get("queues", []), what="the queue"
    )
    assert control(rig, "POST", f"/calls/{sid}/hangup").status_code == 202
    transcript = rig.finish(sid)
    kinds = [(e["kind"], e.get("keys") or e.get("text")) for e in transcript["entries"]]
    assert ("pressed", "2") in kinds and ("said", "my wages") in kinds
    assert transcript["status"] == "completed" and transcript["party"] is None
    late = control(rig, "POST", f"/calls/{sid}/input", {"digits": "1"})
    assert late.status_code == 409


def test_bad_input_and_unknown_calls_are_refused(rig: Rig) -> None:
    scripted = rig.start("press:2", hangup_after=5)
    assert control(rig, "POST", f"/calls/{scripted}/input", {"digits": "1"}).status_code == 409
    assert control(rig, "POST", f"/calls/{scripted}/input", {"digits": "x"}).status_code == 400
    assert control(rig, "POST", f"/calls/{scripted}/input", {"shout": "hi"}).status_code == 400
    assert control(rig, "POST", "/calls/CAnope/input", {"digits": "1"}).status_code == 404
    assert control(rig, "POST", "/calls/CAnope/hangup").status_code == 404
    both = {"from": CALLER, "interactive": True, "script": {"steps": ["press:1"]}}
    assert control(rig, "POST", "/calls", both).status_code == 400
    rig.finish(scripted)
