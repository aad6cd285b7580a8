"""The emotion thermometer's levels: on the stand-in's voices, against a caller's own baseline,
through silences, and the level event it makes."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from routing import prosody
from routing.thermometer import Bounds, Thermometer, level_for

VOICES = Path(__file__).resolve().parents[2] / "carrier" / "voices"
# One Twilio media message: 20 ms of 8 kHz mu-law.
CHUNK = 160
SILENCE = b"\xff" * 2 * prosody.RATE_HZ


def voice(name: str, gain_db: float = 0.0) -> bytes:
    """A stand-in voice as a stream carries it (mu-law), optionally louder or quieter."""
    with wave.open(str(VOICES / f"{name}.wav"), "rb") as source:
        pcm = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    return prosody.encode_mulaw(pcm * 10 ** (gain_db / 20))


def stream(thermometer: Thermometer, audio: bytes) -> list:
    """Feed audio as Twilio sends it, 20 ms a message; every reading it gives."""
    readings = []
    for start in range(0, len(audio), CHUNK):
        readings += thermometer.feed(audio[start : start + CHUNK])
    return readings


@pytest.mark.parametrize("name", ["agitated_zh", "agitated_en"])
def test_an_agitated_caller_reads_4_or_5_from_the_first_windows(name):
    readings = stream(Thermometer(), voice(name))

    assert len(readings) >= 2
    assert [r.silent for r in readings[:2]] == [False, False]
    assert all(r.level >= 4 for r in readings[:2]), [r.level for r in readings]


@pytest.mark.parametrize("name", ["calm_zh", "calm_en", "crisis_calm_zh"])
def test_a_calm_caller_reads_1_or_2(name):
    readings = stream(Thermometer(), voice(name))

    assert readings and all(r.level <= 2 for r in readings), [r.level for r in readings]
    assert not any(r.silent for r in readings[:2])


# Where in a 2-s window a caller may start speaking: every 100 ms of it.
ONSETS_S = [step / 10 for step in range(20)]


@pytest.mark.parametrize("name", ["agitated_zh", "agitated_en"])
def test_an_agitated_caller_reads_4_or_5_within_3_s_of_starting_wherever_the_window_falls(name):
    # The window that holds the first words is read with the rate counted from them: without
    # it, a start 0.5-1 s into a window read 3 and waited for the next, up to 3.6 s.
    for onset in ONSETS_S:
        silence = b"\xff" * round(onset * prosody.RATE_HZ)
        readings = stream(Thermometer(), silence + voice(name))
        first = next(r for r in readings if r.level >= 4)
        assert first.t - onset <= 3.0, (onset, [(r.t, r.level) for r in readings])


@pytest.mark.parametrize("name", ["calm_zh", "calm_en"])
def test_a_calm_caller_reads_1_or_2_wherever_the_window_falls(name):
    for onset in ONSETS_S:
        silence = b"\xff" * round(onset * prosody.RATE_HZ)
        readings = stream(Thermometer(), silence + voice(name))
        assert all(r.level <= 2 for r in readings), (onset, [r.level for r in readings])


def test_louder_than_their_own_baseline_reads_higher_than_the_same_voice_from_a_stranger():
    calm = voice("calm_zh")
    louder = voice("calm_zh", gain_db=6)
    heard = Thermometer(baseline_s=10)
    # A thermometer that never completes a baseline judges by the absolute bounds alone.
    stranger = Thermometer(baseline_s=300)

    before = stream(heard, calm)
    assert heard.baseline is not None
    after = stream(heard, louder)
    unknown = stream(stranger, louder)

    assert max(r.level for r in before) <= 2
    assert len(after) == len(unknown) >= 4
    # Window by window the same speech scores higher from the caller heard calm before.
    assert all(a.score > u.score + 0.05 for a, u in zip(after, unknown, strict=True))
    assert sum(r.level for r in after) > sum(r.level for r in unknown)
    assert max(r.level for r in after) >= 3


def test_the_baseline_is_the_first_spoken_seconds_and_silence_does_not_count():
    thermometer = Thermometer(baseline_s=6)

    stream(thermometer, SILENCE * 3 + voice("calm_en")[: 4 * prosody.RATE_HZ])
    assert thermometer.baseline is None  # 4 s of speech, 6 s of silence
    stream(thermometer, voice("calm_en")[4 * prosody.RATE_HZ : 6 * prosody.RATE_HZ])
    assert thermometer.baseline is not None
    assert thermometer.baseline["loudness_db"] == pytest.approx(-23, abs=3)


def test_a_silent_window_keeps_the_last_level_and_says_so():
    thermometer = Thermometer()

    start = stream(thermometer, SILENCE)
    spoken = stream(thermometer, voice("agitated_zh")[: 2 * prosody.RATE_HZ])
    pause = stream(thermometer, SILENCE)

    assert [(r.t, r.level, r.silent) for r in start] == [(2.0, 1, True)]
    assert spoken[0].level >= 4 and not spoken[0].silent
    assert [(r.t, r.level, r.silent) for r in pause] == [(6.0, spoken[0].level, True)]
    assert pause[0].pitch_hz is None and pause[0].pauses == 1.0


def test_readings_do_not_depend_on_how_the_audio_is_cut():
    audio = voice("calm_en")

    whole = Thermometer().feed(audio)
    pieces = stream(Thermometer(), audio)

    assert whole == pieces
    assert [r.t for r in whole] == [2.0 * (i + 1) for i in range(len(audio) // (2 * 8000))]


def test_the_level_event_has_the_contract_fields():
    reading = stream(Thermometer(), voice("agitated_en"))[0]

    event = reading.to_event()

    assert set(event) == {
        "t",
        "level",
        "loudness_db",
        "rate",
        "pitch_hz",
        "pitch_var",
        "pauses",
        "silent",
    }
    assert event["t"] == 2.0 and 1 <= event["level"] <= 5
    assert isinstance(event["pitch_hz"], float) and 0 <= event["pauses"] <= 1
    assert event["loudness_db"] == round(reading.loudness_db, 1)


def test_levels_are_cut_from_the_score_in_fifths():
    assert [level_for(s) for s in (-0.3, 0.0, 0.19, 0.2, 0.45, 0.6, 0.79, 0.8, 1.4)] == [
        1,
        1,
        1,
        2,
        3,
        4,
        4,
        5,
        5,
    ]
    assert Bounds().loudness_db[0] < Bounds().loudness_db[1]
