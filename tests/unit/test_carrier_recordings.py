"""The stand-in's recordings on a clock the test turns: what a recording keeps while it runs,
pauses and resumes, how long its audio lasts, when it comes out absent, and its callback."""

from __future__ import annotations

from datetime import UTC, datetime

from carrier import audio, recordings
from carrier.clock import Clock
from carrier.network import Conference, Network, Participant, Recording

NOW = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
ACCOUNT = "AC" + "5" * 32
CALLER, AGENT, COACH = ("CA" + digit * 32 for digit in "123")


class TurnedClock(Clock):
    """A clock whose virtual time moves only when the test says."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.at = 100.0

    def now(self) -> float:
        return self.at


def conference_recording() -> tuple[Network, TurnedClock, Conference, Recording]:
    """A conference in progress with caller and agent, recording since now."""
    clock = TurnedClock()
    network = Network(clock, ACCOUNT)
    conference = Conference("CF" + "1" * 32, "room", NOW, NOW, status="in-progress")
    for sid in (CALLER, AGENT):
        conference.participants[sid] = Participant(sid, NOW, NOW)
    network.conferences[conference.sid] = conference
    recording = Recording(
        sid="RE" + "2" * 32,
        account_sid=ACCOUNT,
        call_sid=AGENT,
        created=NOW,
        pcm=b"",
        duration=0,
        source="Conference",
        conference_sid=conference.sid,
        status="in-progress",
        timeline=[["audio", clock.at, None]],
    )
    network.recordings[recording.sid] = recording
    conference.recording_sid = recording.sid
    return network, clock, conference, recording


def test_lines_are_kept_where_they_fall_in_the_recording_and_not_while_paused() -> None:
    network, clock, conference, recording = conference_recording()
    caller, agent = conference.participants[CALLER], conference.participants[AGENT]
    clock.at += 10
    recordings.hear(network, conference, caller, "My employer has not paid me.")
    recordings.change(network, recording, "paused", "skip")
    clock.at += 30
    recordings.hear(network, conference, agent, "Said while paused.")
    recordings.change(network, recording, "in-progress", "silence")
    clock.at += 5
    recordings.hear(network, conference, agent, "Do you have a contract?")
    clock.at += 5
    recordings.conference_ended(network, conference)
    clock.at += 3  # the watcher wakes a little later; the audio ended with the conference
    recordings.complete(network, recording)

    assert [(line["t"], line["from"], line["text"]) for line in recording.lines] == [
        (10.0, CALLER, "My employer has not paid me."),
        (15.0, AGENT, "Do you have a contract?"),
    ]
    # Skipped while paused: 10 s before and 10 s after.
    assert (recording.status, recording.duration) == ("completed", 20)
    assert audio.duration(recording.pcm) == 20
    assert conference.recording_sid is None


def test_a_pause_with_silence_keeps_its_length_in_silence() -> None:
    network, clock, conference, recording = conference_recording()
    clock.at += 2
    recordings.change(network, recording, "paused", "silence")
    clock.at += 3
    recordings.change(network, recording, "stopped", "silence")
    recordings.complete(network, recording)
    assert recording.duration == 5
    sound, quiet = recording.pcm[: 2 * audio.RATE * 2], recording.pcm[2 * audio.RATE * 2 :]
    assert max(sound) > 0 and set(quiet) == {0}


def test_nobody_muted_held_or_coaching_is_recorded() -> None:
    network, clock, conference, recording = conference_recording()
    for sid, state in ((CALLER, {"muted": True}), (AGENT, {"hold": True})):
        for name, value in state.items():
            setattr(conference.participants[sid], name, value)
    conference.participants[COACH] = Participant(
        COACH, NOW, NOW, coaching=True, call_sid_to_coach=AGENT
    )
    for sid in (CALLER, AGENT, COACH):
        recordings.hear(network, conference, conference.participants[sid], "unheard")
    assert recording.lines == []


def test_a_recording_under_a_second_is_absent_with_twilios_error() -> None:
    network, clock, conference, recording = conference_recording()
    clock.at += 0.4
    recordings.change(network, recording, "stopped", "silence")
    recordings.complete(network, recording)
    assert (recording.status, recording.error_code, recording.pcm) == ("absent", 16101, b"")
    params = recordings.status_params("http://carrier", recording, "absent")
    assert (params["RecordingStatus"], params["ErrorCode"]) == ("absent", "16101")
    assert params["RecordingDuration"] == "0" and params["ConferenceSid"] == conference.sid


def test_the_callback_names_the_conference_or_the_call_and_the_duration_once_done() -> None:
    network, clock, conference, recording = conference_recording()
    started = recordings.status_params("http://carrier/", recording, "in-progress")
    assert (
        started["RecordingUrl"]
        == f"http://carrier/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording.sid}"
    )
    assert "RecordingDuration" not in started and "CallSid" not in started
    recording.conference_sid = None
    resumed = recordings.status_params("http://carrier", recording, "resumed")
    assert (resumed["RecordingStatus"], resumed["CallSid"]) == ("in-progress", AGENT)
    assert "ConferenceSid" not in resumed
