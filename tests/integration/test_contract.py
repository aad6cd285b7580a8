"""Contract test: every REST request the gateway sends and every answer the carrier gives, checked
against Twilio's own OpenAPI description of API 2010-04-01 (field names, types, enum values)."""

from __future__ import annotations

import pytest

from tests.fixtures.carrier import (
    AGENTS,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)
from tests.fixtures.twilio_spec import operation, problems_of


def every_gateway_operation(rig: Rig) -> None:
    """Use every gateway method, plus whole calls whose app uses the gateway, plus errors."""
    gateway = rig.gateway
    rig.call("press:2", "press:2", "press:1")  # queues, agent call, member list and dequeue
    queue = gateway.ensure_queue("labor", 30)
    gateway.fetch_queue(queue)
    gateway.queue_members(queue)
    call = gateway.create_call(
        AGENTS["traffic"],
        f"{rig.app_url}/agent?area=labor&queue={queue}",
        status_callback=f"{rig.app_url}/agent-status",
        machine_detection="Enable",
        fallback_url=f"{rig.app_url}/voice/fallback",
    )
    gateway.fetch_call(call.sid)
    rig.finish(call.sid)
    waiting = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=waiting), what="a waiting caller")
    # A long pause (a few real seconds at the rig's time scale): the call must still be live
    # for the redirect that follows, however busy the machine.
    gateway.update_call(waiting, twiml="<Response><Pause length='600'/></Response>")
    gateway.update_call(waiting, url=f"{rig.app_url}/after-consult")
    rig.finish(waiting)
    other = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=other), what="a waiting caller")
    gateway.update_call(other, status="completed")
    rig.finish(other)
    first = gateway.add_participant(
        "room-contract", "+8613700000001", label="agent", end_conference_on_exit=True,
        status_callback=f"{rig.app_url}/agent-status", wait_url=f"{rig.app_url}/hold",
    )  # fmt: skip
    gateway.add_participant("room-contract", "+8613700000002")
    room = rig.wait_until(lambda: gateway.find_conference("room-contract"), what="the room")
    rig.wait_until(lambda: len(gateway.list_participants(room)) == 2, what="two participants")
    gateway.update_participant(room, first.call_sid, muted=True, hold=False)
    gateway.update_participant(room, first.call_sid, end_conference_on_exit=True)
    participants = gateway.list_participants(room)
    gateway.remove_participant(room, participants[-1].call_sid)
    gateway.end_conference(room)
    rig.finish(first.call_sid)
    rig.hub.settings.voice_url = rig.app_url + "/voicemail"
    rig.call(voicemail="speech")
    (done,) = rig.seen.at("/voicemail-done")
    gateway.fetch_recording_wav(done["RecordingUrl"])
    gateway.delete_recording(done["RecordingSid"])
    gateway.send_sms("+8613912345678", "Your callback is booked for tomorrow morning.")
    for failing in (
        lambda: gateway.fetch_call("CA" + "0" * 32),
        lambda: gateway.dequeue(queue, "CA" + "0" * 32, f"{rig.app_url}/voice"),
        lambda: gateway.update_call(done["CallSid"], url=f"{rig.app_url}/voice"),
    ):
        with pytest.raises(Exception, match="status 40"):
            failing()


def test_every_request_and_answer_follows_twilios_spec(rig: Rig) -> None:
    every_gateway_operation(rig)
    exchanges = list(rig.hub.network.exchanges)

    problems = [problem for exchange in exchanges for problem in problems_of(exchange)]
    assert problems == []
    used = {(e["method"], operation(e["method"], e["path"])[0]) for e in exchanges
            if e["path"].endswith(".json")}  # fmt: skip
    account = "/2010-04-01/Accounts/{AccountSid}"
    expected = {
        ("POST", f"{account}/Calls.json"),
        ("GET", f"{account}/Calls/{{Sid}}.json"),
        ("POST", f"{account}/Calls/{{Sid}}.json"),
        ("GET", f"{account}/Queues.json"),
        ("POST", f"{account}/Queues.json"),
        ("GET", f"{account}/Queues/{{Sid}}.json"),
        ("POST", f"{account}/Queues/{{Sid}}.json"),
        ("GET", f"{account}/Queues/{{QueueSid}}/Members.json"),
        ("POST", f"{account}/Queues/{{QueueSid}}/Members/{{CallSid}}.json"),
        ("GET", f"{account}/Conferences.json"),
        ("POST", f"{account}/Conferences/{{Sid}}.json"),
        ("GET", f"{account}/Conferences/{{ConferenceSid}}/Participants.json"),
        ("POST", f"{account}/Conferences/{{ConferenceSid}}/Participants.json"),
        ("POST", f"{account}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}.json"),
        ("DELETE", f"{account}/Conferences/{{ConferenceSid}}/Participants/{{CallSid}}.json"),
        ("DELETE", f"{account}/Recordings/{{Sid}}.json"),
        ("POST", f"{account}/Messages.json"),
    }
    assert expected <= used


def test_the_checker_catches_wrong_fields_types_and_enums() -> None:
    base = "/2010-04-01/Accounts/AC" + "5" * 32
    good_call = {
        "method": "POST",
        "path": f"{base}/Calls.json",
        "query": [],
        "form": [["To", "+8613900000001"], ["From", "+861012348000"], ["Url", "http://a/b"],
                 ["StatusCallbackEvent", "initiated"], ["StatusCallbackEvent", "answered"]],
        "status": 201,
        "json": None,
    }  # fmt: skip
    bad_form = dict(good_call, form=[*good_call["form"], ["Timeout", "soon"], ["Colour", "red"]])
    problems = problems_of(dict(bad_form, status=400, json=None))
    assert any("unknown form parameter Colour" in p for p in problems)
    assert any("'soon' is not of type 'integer'" in p for p in problems)

    queue = {
        "sid": "QU" + "1" * 32,
        "friendly_name": "labor",
        "current_size": 0,
        "max_size": 10,
        "average_wait_time": 0,
        "account_sid": "AC" + "5" * 32,
        "uri": "/x",
        "date_created": "Wed, 02 Dec 2026 02:00:00 +0000",
        "date_updated": "Wed, 02 Dec 2026 02:00:00 +0000",
    }
    fetch = {"method": "GET", "path": f"{base}/Queues/{queue['sid']}.json", "query": [],
             "form": [], "status": 200}  # fmt: skip
    assert problems_of(dict(fetch, json=queue)) == []
    assert problems_of(dict(fetch, json=dict(queue, current_size="0")))
    assert problems_of(dict(fetch, json=dict(queue, colour="red")))
    call_json = {"status": "on-hold"}
    assert any("'on-hold' is not one of" in p for p in problems_of(
        {"method": "GET", "path": f"{base}/Calls/CA{'1' * 32}.json", "query": [], "form": [],
         "status": 200, "json": call_json}))  # fmt: skip
