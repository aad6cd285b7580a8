"""Voicemail audio: decoding, speech measures, trimming, normalising and the MP3 round trip."""

from __future__ import annotations

import random

import pytest

from tools import voicemail_samples as samples
from voicemail import audio


def measure(wav: bytes) -> audio.Analysis:
    """Decode and analyse a WAV recording."""
    return audio.analyse(audio.decode_wav(wav))


def test_digital_silence_is_empty():
    analysis = measure(samples.silence_wav(5))
    assert analysis.measures.empty
    assert analysis.measures.duration_s == pytest.approx(5.0)
    assert analysis.measures.speech_s == 0
    assert len(analysis.audio) == 0


def test_steady_line_noise_is_empty_however_loud():
    analysis = measure(samples.silence_wav(5, noise_dbfs=-25))
    assert analysis.measures.empty
    assert analysis.measures.noise_dbfs == pytest.approx(-25, abs=2)


def test_zero_second_recording_is_empty():
    analysis = measure(samples.wav(b""))
    assert analysis.measures.empty
    assert analysis.measures.duration_s == 0


def test_a_breath_of_sound_is_too_little_to_be_speech():
    pcm = samples.speech_pcm(0.2, samples.CALM) + b"\x00\x00" * 8000 * 3
    assert measure(samples.wav(pcm)).measures.empty


def test_calm_speech_measures():
    m = measure(samples.speech_wav(60, "calm")).measures
    assert not m.empty
    assert 0.45 <= m.speech_share <= 0.75
    # Three syllables a second inside phrases, with pauses between phrases.
    assert 100 <= m.bursts_per_min <= 170
    assert -30 <= m.loudness_dbfs <= -22
    assert m.loudness_spread_db < 6


def test_agitated_speech_is_louder_faster_and_more_uneven():
    calm = measure(samples.speech_wav(60, "calm")).measures
    agitated = measure(samples.speech_wav(60, "agitated")).measures
    assert agitated.loudness_dbfs > calm.loudness_dbfs + 8
    assert agitated.bursts_per_min > calm.bursts_per_min * 1.8
    assert agitated.loudness_spread_db > calm.loudness_spread_db + 1.5
    assert agitated.speech_share > 0.8


def test_bursts_count_rises_out_of_valleys():
    rules = audio.Detection()
    quiet, loud = -60.0, -20.0
    # Three syllables of 100 ms separated by 60 ms dips, then one 20 ms click (too short).
    levels = [quiet] * 5
    for _ in range(3):
        levels += [loud] * 5 + [quiet] * 3
    levels += [quiet] * 5 + [loud] + [quiet] * 5
    assert audio.count_bursts(levels, -45.0, rules) == 3


def test_leading_and_trailing_silence_are_trimmed():
    speech = samples.speech_pcm(10, samples.CALM, seed=3)
    silence = b"\x00\x00" * 8000 * 4
    analysis = measure(samples.wav(silence + speech + silence))
    m = analysis.measures
    assert m.duration_s == pytest.approx(18.0)
    # Speech starts 0.4 s into the synthetic speech; padding keeps a quarter second each side.
    assert 8.5 <= m.trimmed_s <= 10.5
    assert len(analysis.audio) == pytest.approx(m.trimmed_s * 1000, abs=1)


def test_normalising_brings_quiet_speech_up_without_clipping():
    quiet = measure(samples.speech_wav(20, "calm"))
    assert quiet.measures.gain_db > 3
    again = audio.analyse(quiet.audio).measures
    assert again.loudness_dbfs == pytest.approx(-20.0, abs=1.0)
    assert again.peak_dbfs <= -0.9


def test_normalising_loud_speech_respects_the_peak_ceiling():
    loud = measure(samples.speech_wav(20, "agitated"))
    again = audio.analyse(loud.audio).measures
    assert again.peak_dbfs <= -0.9
    assert again.loudness_dbfs <= -19.0


def test_stereo_and_8_bit_input_are_read_as_16_bit_mono():
    segment = audio.decode_wav(samples.speech_wav(2, "calm"))
    stereo = segment.set_channels(2).set_sample_width(1)
    decoded = audio.decode_wav(audio.to_wav(stereo))
    assert (decoded.channels, decoded.sample_width) == (1, 2)


def test_mp3_round_trip_keeps_duration_and_rate():
    segment = audio.decode_wav(samples.speech_wav(12, "calm"))
    encoded = audio.encode(segment)
    # 32 kbps for 12 s is about 48 KB: far smaller than the 192 KB of WAV.
    assert 40_000 <= len(encoded) <= 56_000
    decoded = audio.decode_stored(encoded)
    assert decoded.frame_rate == 8000
    # MP3 pads the last frames (72 ms each at 8 kHz): a little longer, never shorter.
    assert len(segment) <= len(decoded) <= len(segment) + 250
    # The voice survives encoding: the decoded audio still measures as the same speech.
    before = audio.analyse(segment).measures
    after = audio.analyse(decoded).measures
    assert after.loudness_dbfs == pytest.approx(before.loudness_dbfs, abs=1.5)
    assert after.bursts_per_min == pytest.approx(before.bursts_per_min, rel=0.15)


def test_garbage_is_corrupt():
    with pytest.raises(audio.CorruptAudio):
        audio.decode_wav(b"RIFF\x00\x00garbage that is not a wave file")


def test_damaged_recordings_are_corrupt_or_readable_never_a_crash():
    original = samples.speech_wav(1, "calm")
    rng = random.Random(11)
    outcomes = set()
    for attempt in range(600):
        damaged = bytearray(original[: rng.randint(0, 120)] if attempt % 3 == 0 else original)
        for _ in range(rng.randint(1, 4)):
            if damaged:
                damaged[rng.randrange(min(len(damaged), 60))] = rng.randrange(256)
        try:
            audio.analyse(audio.decode_wav(bytes(damaged)))
            outcomes.add("read")
        except audio.CorruptAudio:
            outcomes.add("corrupt")
    assert outcomes == {"read", "corrupt"}


def test_recording_cut_mid_sample_keeps_its_whole_frames():
    original = samples.speech_wav(2, "calm")
    segment = audio.decode_wav(original[:-1])
    assert len(segment.raw_data) == len(audio.decode_wav(original).raw_data) - 2


def test_zero_bytes_are_corrupt():
    with pytest.raises(audio.CorruptAudio):
        audio.decode_wav(b"")


def test_stored_audio_that_is_not_mp3_fails_clearly():
    with pytest.raises(audio.AudioError):
        audio.decode_stored(b"not an mp3 at all" * 10)


def test_measures_survive_a_round_trip_through_hash_fields():
    m = measure(samples.speech_wav(5, "calm")).measures
    assert audio.Measures.from_fields(m.as_fields()) == m
    assert audio.Measures.from_fields({}) is None
