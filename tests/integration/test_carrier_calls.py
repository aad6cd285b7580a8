"""Whole calls through the carrier against a small TwiML hotline, over real HTTP."""

from __future__ import annotations

import wave
from io import BytesIO

import pytest
import requests

from carrier.faults import FaultPlan
from tests.fixtures.carrier import (
    ACCOUNT_SID,
    AGENTS,
    AUTH_TOKEN,
    CRISIS_LINE,
    Rig,
    build_rig,
    rig_fixture,  # noqa: F401 - provides the rig fixture
)


def heard(transcript: dict) -> list[str]:
    """Return what the caller heard, in order."""
    return [e["text"] for e in transcript["entries"] if e["kind"] == "heard"]


def webhooks(transcript: dict, purpose: str | None = None) -> list[dict]:
    """Return the webhook entries of a transcript, optionally of one purpose."""
    return [
        e
        for e in transcript["entries"]
        if e["kind"] == "webhook" and (purpose is None or e["purpose"] == purpose)
    ]


def test_silence_at_the_language_menu_defaults_to_mandarin(rig: Rig) -> None:
    transcript = rig.call("wait", "press:3", "press:1", hangup_after=60)

    assert heard(transcript)[0].startswith("您好")
    assert "请选择咨询类别。" in heard(transcript)
    language = [w for w in webhooks(transcript) if w["path"] == "/language"]
    assert rig.seen.at("/language", Digits="") and language[0]["status"] == 200


def test_english_labor_call_is_bridged_to_the_agent_who_accepts(rig: Rig) -> None:
    transcript = rig.call("press:2", "press:2", "press:1")

    outcome = transcript["outcome"]
    assert [b["name"] for b in outcome["bridged_to"]] == ["Agent Li"]
    assert outcome["queues"] == ["labor"]
    assert "Choose an area." in heard(transcript)
    assert any(e["kind"] == "conference" and e["action"] == "joined" for e in transcript["entries"])
    # The agent heard the whisper and pressed 1; their leave ended the conference.
    (agent,) = rig.legs_to(AGENTS["labor"])
    assert "A caller is waiting for labor. Press 1 to accept, 2 to decline." in heard(agent)
    assert {"kind": "pressed", "keys": "1"}.items() <= next(
        e for e in agent["entries"] if e["kind"] == "pressed"
    ).items()
    assert "Thank you for calling." in heard(transcript)
    assert outcome["ended_by"] == "app"


def test_agent_status_callbacks_follow_the_call(rig: Rig) -> None:
    rig.call("press:2", "press:2", "press:1")
    (agent,) = rig.legs_to(AGENTS["labor"])
    statuses = [
        form["CallStatus"] for form in rig.seen.at("/agent-status", CallSid=agent["call_sid"])
    ]

    assert statuses == ["queued", "ringing", "in-progress", "completed"]


def test_bad_key_is_refused_and_the_menu_repeats(rig: Rig) -> None:
    transcript = rig.call("press:2", "press:7", "press:2", "press:1")

    said = heard(transcript)
    assert said.count("That key is not a choice.") == 1
    assert said.count("Choose an area.") == 2
    assert transcript["outcome"]["bridged_to"][0]["name"] == "Agent Li"


def test_invalid_language_key_replays_the_greeting(rig: Rig) -> None:
    transcript = rig.call("press:5", "press:2", "press:2", "press:1")

    assert heard(transcript).count("For English, press 2.") == 2
    assert "按键无效。 That key is not a choice." in heard(transcript)


def test_speech_chooses_the_area(rig: Rig) -> None:
    transcript = rig.call("press:2", "say:my boss did not pay my wages", "press:1")

    area = rig.seen.at("/area", SpeechResult="my boss did not pay my wages")
    assert area and area[0]["Confidence"] == "0.92"
    assert transcript["outcome"]["queues"] == ["labor"]


def test_keys_said_to_a_speech_only_prompt_are_not_heard(rig: Rig) -> None:
    transcript = rig.call("say:hello", hangup_after=30)

    note = next(e for e in transcript["entries"] if e["kind"] == "said")
    assert note["note"] == "not heard: keys only"
    assert rig.seen.at("/language", Digits="")


def test_danger_key_dials_the_crisis_line(rig: Rig) -> None:
    transcript = rig.call("press:2", "press:9")

    outcome = transcript["outcome"]
    assert outcome["crisis"] is True
    assert outcome["bridged_to"] == [
        {"number": CRISIS_LINE, "name": "crisis line", "role": "crisis-line"}
    ]
    assert outcome["summary"].startswith("crisis line: bridged to crisis line")
    (done,) = rig.seen.at("/crisis-done")
    assert done["DialCallStatus"] == "completed" and done["DialBridged"] == "true"
    assert int(done["DialCallDuration"]) >= 25


def test_crisis_words_dial_the_crisis_line(rig: Rig) -> None:
    transcript = rig.call("press:1", "say:我不想活了")

    assert transcript["outcome"]["crisis"] is True


def test_caller_hanging_up_in_the_queue_is_reported_to_the_enqueue_action(rig: Rig) -> None:
    # The family agent declines, so the caller waits until they give up.
    transcript = rig.call("press:2", "press:1", "press:1", hangup_after=70)

    outcome = transcript["outcome"]
    assert outcome["ended_by"] == "caller" and outcome["hung_up_in"] == "queue family"
    assert outcome["bridged_to"] == []
    (result,) = rig.seen.at("/queue-result")
    assert result["QueueResult"] == "hangup" and int(result["QueueTime"]) > 0
    (agent,) = rig.legs_to(AGENTS["family"])
    assert "Declined." in heard(agent)


def test_a_caller_hangs_up_once_they_hear_the_words_they_hang_up_on(rig: Rig) -> None:
    place = "You are number 1 in line."
    transcript = rig.call("press:2", "press:1", "press:2", hangup_after=300, hangup_on=(place,))

    outcome = transcript["outcome"]
    assert (outcome["ended_by"], outcome["hung_up_in"]) == ("caller", "queue family")
    # Heard in full once, then gone: not the 300 s they would otherwise have waited.
    assert heard(transcript).count(place) == 1
    (result,) = rig.seen.at("/queue-result")
    assert result["QueueResult"] == "hangup" and int(result["QueueTime"]) < 60


def test_wait_music_gets_queue_parameters_and_is_refetched(rig: Rig) -> None:
    # 3 s of the rig's time: the menu's webhooks and three looks at the wait music fit, even on a
    # busy machine.
    rig.call("press:2", "press:1", "press:2", hangup_after=600)

    waits = rig.seen.at("/wait")
    assert len(waits) >= 3
    assert {w["QueuePosition"] for w in waits} == {"1"}
    assert {w["MaxQueueSize"] for w in waits} == {"10"}
    times = [int(w["QueueTime"]) for w in waits]
    assert times == sorted(times) and times[-1] > times[0]
    assert all(w["CurrentQueueSize"] == "1" for w in waits)


def test_callers_waiting_together_get_their_positions(rig: Rig) -> None:
    # The traffic agent never answers, so everyone stays in the queue until they hang up.
    sids = [rig.start("press:2", "press:4", "press:1", hangup_after=200) for _ in range(4)]
    transcripts = [rig.finish(sid) for sid in sids]

    positions = {w["QueuePosition"] for w in rig.seen.at("/wait")}
    assert {"1", "2", "3", "4"} <= positions
    assert all(t["outcome"]["hung_up_in"] == "queue traffic" for t in transcripts)
    sizes = {w["CurrentQueueSize"] for w in rig.seen.at("/wait")}
    assert "4" in sizes


def test_busy_and_unanswered_agents(rig: Rig) -> None:
    rig.call("press:2", "press:3", "press:1", hangup_after=40)
    rig.call("press:2", "press:4", "press:1", hangup_after=40)

    (busy,) = rig.legs_to(AGENTS["contract"])
    (silent,) = rig.legs_to(AGENTS["traffic"])
    assert rig.finish(busy["call_sid"])["status"] == "busy"
    assert rig.finish(silent["call_sid"])["status"] == "no-answer"
    assert [f["CallStatus"] for f in rig.seen.at("/agent-status", CallSid=busy["call_sid"])][
        -1
    ] == "busy"


def test_forged_signature_is_rejected_and_the_call_fails_safely(rig: Rig) -> None:
    transcript = rig.call("press:2", forge=True)

    statuses = [(w["path"], w["status"]) for w in webhooks(transcript)]
    assert ("/voice", 403) in statuses and ("/voice/fallback", 403) in statuses
    assert heard(transcript) == ["We are sorry, an application error has occurred. Goodbye."]
    assert transcript["outcome"]["errors"] == [11200]


def test_unknown_verb_is_reported_and_the_fallback_runs() -> None:
    for rig_ in build_rig(voice_path="/broken"):
        transcript = rig_.call()

        (error,) = [e for e in transcript["entries"] if e["kind"] == "error"]
        assert error["code"] == 12200 and "Sing" in error["message"]
        (fallback,) = rig_.seen.at("/voice/fallback")
        assert fallback["ErrorCode"] == "12200" and fallback["ErrorUrl"].endswith("/broken")
        assert heard(transcript) == ["Sorry, error 12200."]


def test_webhook_timeout_moves_on_to_the_fallback_url() -> None:
    plan = FaultPlan(webhook_timeout=1.0, limits={"webhook_timeout": 1})
    for rig_ in build_rig(faults=plan):
        transcript = rig_.call()

        first = webhooks(transcript)[0]
        assert first["path"] == "/voice" and first["status"] is None
        assert first["failure"] == "timeout"
        assert rig_.seen.at("/voice/fallback", ErrorCode="11205")
        assert heard(transcript) == ["Sorry, error 11205."]


def test_duplicated_and_late_status_callbacks() -> None:
    plan = FaultPlan(callback_duplicate=1.0, seed=1)
    for rig_ in build_rig(faults=plan):
        transcript = rig_.call("press:2", "press:2", "press:1")
        completed = rig_.seen.at("/voice/status", CallSid=transcript["call_sid"])
        assert [f["CallStatus"] for f in completed] == ["completed", "completed"]
        assert completed[0]["SequenceNumber"] == completed[1]["SequenceNumber"]
        assert rig_.hub.faults.snapshot()["injected"]["callback_duplicate"] >= 2

    plan = FaultPlan(callback_reorder=1.0, limits={"callback_reorder": 1})
    for rig_ in build_rig(faults=plan):
        rig_.call("press:2", "press:2", "press:1")
        (agent,) = rig_.legs_to(AGENTS["labor"])
        statuses = [
            f["CallStatus"] for f in rig_.seen.at("/agent-status", CallSid=agent["call_sid"])
        ]
        assert sorted(statuses) == sorted(["queued", "ringing", "in-progress", "completed"])
        assert statuses[0] != "queued"


def test_voicemail_is_a_real_wav_fetched_through_the_gateway(rig: Rig) -> None:
    rig.hub.settings.voice_url = rig.app_url + "/voicemail"
    transcript = rig.call(voicemail="speech")

    (done,) = rig.seen.at("/voicemail-done")
    assert int(done["RecordingDuration"]) >= 7
    assert transcript["outcome"]["voicemail"]["recording_sid"] == done["RecordingSid"]
    (status,) = rig.seen.at("/recording-status")
    assert status["RecordingStatus"] == "completed"
    data = rig.gateway.fetch_recording_wav(done["RecordingUrl"])
    with wave.open(BytesIO(data)) as recording:
        assert (recording.getframerate(), recording.getnchannels()) == (8000, 1)
        assert recording.getnframes() >= 7 * 8000
    mp3 = requests.get(done["RecordingUrl"] + ".mp3", auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
    assert mp3.headers["Content-Type"] == "audio/mpeg" and mp3.content[:1] == b"\xff"


def test_silent_voicemail_is_trimmed_away_and_skips_the_action(rig: Rig) -> None:
    rig.hub.settings.voice_url = rig.app_url + "/voicemail"
    transcript = rig.call(voicemail="silence")

    assert not rig.seen.at("/voicemail-done")
    assert transcript["outcome"]["voicemail"] is None


def test_hotline_call_command_prints_the_transcript(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hotline.cli import main

    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_API_BASE_URL", rig.carrier_url)
    assert main(["call", "--press", "2", "--say", "wages", "--press", "1"]) == 0
    out = capsys.readouterr().out
    assert "said     “wages”" in out
    assert "outcome: bridged to Agent Li (+86*******0001)" in out
    assert "+8613900000001" not in out
