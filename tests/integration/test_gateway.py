"""The REST gateway against the carrier: twilio-python over real HTTP, errors as GatewayError."""

from __future__ import annotations

import pytest
import requests

from telephony.gateway import QUEUE_LIST_LIMIT, Gateway, GatewayError
from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AGENTS,
    AUTH_TOKEN,
    HOTLINE,
    Rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)


def set_faults(rig: Rig, plan: dict) -> None:
    """Replace the carrier's fault plan through its control API."""
    reply = requests.put(
        f"{rig.carrier_url}/carrier/faults", json=plan, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    )
    reply.raise_for_status()


def test_wrong_token_is_refused_with_twilio_error_20003(rig: Rig) -> None:
    stranger = Gateway(ACCOUNT_SID, "wrong-token", rig.carrier_url, HOTLINE)

    with pytest.raises(GatewayError) as caught:
        stranger.ensure_queue("labor", 10)

    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert not caught.value.retryable


def test_ensure_queue_creates_once_and_fixes_max_size(rig: Rig) -> None:
    first = rig.gateway.ensure_queue("labor", 10)
    again = rig.gateway.ensure_queue("labor", 25)

    assert first == again and first.startswith("QU")
    info = rig.gateway.fetch_queue(first)
    assert (info.friendly_name, info.max_size, info.current_size) == ("labor", 25, 0)


def test_queue_set_up_reads_one_page_however_many_queues_the_account_has(rig: Rig) -> None:
    for index in range(QUEUE_LIST_LIMIT + 200):
        rig.hub.network.add_queue(f"other-{index:05d}", 10)

    known = rig.gateway.list_queues()
    made = [rig.gateway.ensure_queue(area, 10, known=known) for area in ("labor", "family")]

    assert len(known) == QUEUE_LIST_LIMIT
    with rig.hub.network.cond:
        listings = [
            e for e in rig.hub.network.exchanges if e["method"] == "GET" and "Queues" in e["path"]
        ]
    assert len(listings) == 1
    assert [rig.gateway.fetch_queue(sid).friendly_name for sid in made] == ["labor", "family"]


def test_injected_server_errors_and_throttling_are_retryable(rig: Rig) -> None:
    set_faults(rig, {"rest_500": 1.0, "limits": {"rest_500": 1}})
    with pytest.raises(GatewayError) as caught:
        rig.gateway.ensure_queue("family", 10)
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (500, 20500, True)
    assert rig.gateway.ensure_queue("family", 10).startswith("QU")

    set_faults(rig, {"rest_429": 1.0, "rest_match": "Messages", "limits": {"rest_429": 1}})
    with pytest.raises(GatewayError) as throttled:
        rig.gateway.send_sms("+8613912345678", "Your callback is booked.")
    assert (throttled.value.status, throttled.value.code) == (429, 20429)
    assert rig.gateway.send_sms("+8613912345678", "Your callback is booked.").sid.startswith("SM")


def test_sms_is_kept_by_the_carrier(rig: Rig) -> None:
    sent = rig.gateway.send_sms("+8613912345678", "您的回电已预约。")

    kept = requests.get(
        f"{rig.carrier_url}/carrier/messages", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
    ).json()
    assert kept == [
        {"sid": sent.sid, "to": "+8613912345678", "from": HOTLINE, "body": "您的回电已预约。"}
    ]


def test_calling_an_agent_and_following_the_call(rig: Rig) -> None:
    queue = rig.gateway.ensure_queue("labor", 10)
    call = rig.gateway.create_call(
        AGENTS["traffic"],
        f"{rig.app_url}/agent?area=labor&queue={queue}",
        status_callback=f"{rig.app_url}/agent-status",
        timeout=15,
    )
    assert (call.status, call.direction, call.called) == (
        "queued",
        "outbound-api",
        AGENTS["traffic"],
    )

    rig.finish(call.sid)
    assert rig.gateway.fetch_call(call.sid).status == "no-answer"


def test_redirecting_and_hanging_up_a_live_call(rig: Rig) -> None:
    sid = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=sid), what="the caller to wait")

    rig.gateway.update_call(sid, twiml="<Response><Say>Moved by the app.</Say></Response>")
    transcript = rig.finish(sid)
    said = [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]
    assert said[-1] == "Moved by the app."
    assert transcript["outcome"]["queues"] == ["traffic"]

    with pytest.raises(GatewayError) as caught:
        rig.gateway.update_call(sid, url=f"{rig.app_url}/voice")
    assert (caught.value.status, caught.value.code) == (400, 21220)

    other = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=other), what="the caller to wait")
    assert rig.gateway.update_call(other, status="completed").sid == other
    assert rig.finish(other)["outcome"]["ended_by"] == "api"


def test_queue_members_and_dequeue(rig: Rig) -> None:
    sid = rig.start("press:2", "press:4", "press:1", hangup_after=2000)
    rig.wait_until(lambda: rig.seen.at("/wait", CallSid=sid), what="the caller to wait")
    queue = rig.gateway.ensure_queue("traffic", 10)

    (member,) = rig.gateway.queue_members(queue)
    assert (member.call_sid, member.position) == (sid, 1)
    rig.gateway.dequeue(queue, sid, f"{rig.app_url}/after-consult")
    transcript = rig.finish(sid)
    assert [e["text"] for e in transcript["entries"] if e["kind"] == "heard"][-1] == (
        "Thank you for calling."
    )
    with pytest.raises(GatewayError) as caught:
        rig.gateway.dequeue(queue, sid, f"{rig.app_url}/after-consult")
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_conference_participants(rig: Rig) -> None:
    first = rig.gateway.add_participant(
        "case-42", "+8613700000001", label="agent", end_conference_on_exit=True
    )
    second = rig.gateway.add_participant("case-42", "+8613700000002", label="caller")
    conference = rig.wait_until(lambda: rig.gateway.find_conference("case-42"), what="a room")
    rig.wait_until(
        lambda: len(rig.gateway.list_participants(conference)) == 2, what="both participants"
    )

    muted = rig.gateway.update_participant(conference, second.call_sid, muted=True)
    assert (muted.muted, muted.label, muted.conference_sid) == (True, "caller", conference)
    rig.gateway.remove_participant(conference, second.call_sid)
    rig.finish(second.call_sid)
    assert [p.call_sid for p in rig.gateway.list_participants(conference)] == [first.call_sid]
    rig.gateway.end_conference(conference)
    rig.finish(first.call_sid)
    assert rig.gateway.find_conference("case-42") is None


def test_recordings_download_only_from_the_api_host_and_delete(rig: Rig) -> None:
    rig.hub.settings.voice_url = rig.app_url + "/voicemail"
    rig.call(voicemail="speech")
    (done,) = rig.seen.at("/voicemail-done")

    assert rig.gateway.fetch_recording_wav(done["RecordingSid"])[:4] == b"RIFF"
    with pytest.raises(GatewayError, match="refusing to send credentials"):
        rig.gateway.fetch_recording_wav("http://elsewhere.example/Recordings/RE1.wav")
    rig.gateway.delete_recording(done["RecordingSid"])
    with pytest.raises(GatewayError) as caught:
        rig.gateway.fetch_recording_wav(done["RecordingUrl"])
    assert (caught.value.status, caught.value.code) == (404, 20404)
