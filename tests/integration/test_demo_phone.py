"""The demo phone page and its forwarding to the carrier's control API."""

from __future__ import annotations

import time
from dataclasses import replace

from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)


def demo_client(app, rig: Rig):
    """The app's test client, its settings pointed at the test carrier."""
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = replace(
        settings, api_base_url=rig.carrier_url, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )
    return app.test_client()


def poll(client, sid: str, check, timeout: float = 10.0) -> dict:
    """Read the call through the page's API until a check holds, with a deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        call = client.get(f"/demo/phone/calls/{sid}").get_json()
        if check(call):
            return call
        time.sleep(0.02)
    raise AssertionError(f"timed out; last state {call}")


def heard(call: dict) -> list[str]:
    return [e["text"] for e in call["entries"] if e["kind"] == "heard"]


def test_the_page_and_its_script_are_served_without_outside_resources(app):
    client = app.test_client()
    page = client.get("/demo/phone")
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert 'src="phone/phone.js"' in text and "http" not in text.split("<body>")[1]
    js = client.get("/demo/phone/phone.js")
    assert js.status_code == 200 and "speechSynthesis" in js.get_data(as_text=True)


def test_a_visitor_calls_presses_a_key_types_words_and_hangs_up(app, rig: Rig):
    client = demo_client(app, rig)
    placed = client.post("/demo/phone/calls", json={})
    assert placed.status_code == 201
    sid = placed.get_json()["call_sid"]
    poll(client, sid, lambda call: heard(call))
    assert client.post(f"/demo/phone/calls/{sid}/input", json={"digits": "2"}).status_code == 202
    poll(client, sid, lambda call: "Choose an area." in heard(call))
    said = client.post(f"/demo/phone/calls/{sid}/input", json={"speech": "divorce"})
    assert said.status_code == 202
    poll(client, sid, lambda call: any(e["kind"] == "said" for e in call["entries"]))
    assert client.post(f"/demo/phone/calls/{sid}/hangup", json={}).status_code == 202
    call = poll(client, sid, lambda call: call["finished"])
    assert call["status"] == "completed"
    assert not any(e["kind"] == "webhook" for e in call["entries"])


def test_the_page_refuses_forms_bad_sids_and_outside_demo_mode(app, rig: Rig):
    client = demo_client(app, rig)
    assert client.post("/demo/phone/calls", data={"x": "1"}).status_code == 415
    assert client.get("/demo/phone/calls/not-a-sid").status_code == 404
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], demo=False)
    assert client.get("/demo/phone").status_code == 404


def test_a_carrier_that_is_not_running_gets_a_clear_answer(app):
    app.config["SETTINGS"] = replace(app.config["SETTINGS"], api_base_url="http://127.0.0.1:1")
    reply = app.test_client().post("/demo/phone/calls", json={})
    assert reply.status_code == 502 and "carrier" in reply.get_json()["error"]
