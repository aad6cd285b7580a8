"""The thermometer's features on signals whose answers are known: pitch, rate, loudness, pauses."""

from __future__ import annotations

import numpy as np
import pytest

from routing import prosody

RATE = prosody.RATE_HZ
SECONDS = np.arange(2 * RATE) / RATE


def voiced(f0: float, t: np.ndarray = SECONDS, harmonics: range = range(1, 12)) -> np.ndarray:
    """A vowel-like tone: a fundamental with falling harmonics, peak about -6 dBFS."""
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in harmonics)
    return 16000 * wave / np.max(np.abs(wave))


def on_the_line(samples: np.ndarray) -> np.ndarray:
    """What arrives from a Twilio stream: the signal through mu-law."""
    return prosody.decode_mulaw(prosody.encode_mulaw(samples))


def test_mulaw_decodes_g711_codes_and_encodes_them_back():
    codes = bytes(range(256))
    decoded = prosody.decode_mulaw(codes)

    assert decoded[0xFF] == 0 and decoded[0x00] == -32124 and decoded[0x80] == 32124
    # The smallest step: 0xFE is exponent 0, mantissa 1 (inverted), +8; 0x7E the same, negative.
    assert (decoded[0xFE], decoded[0x7E]) == (8, -8)
    back = prosody.encode_mulaw(decoded)
    # Every code survives the round trip but minus zero (0x7F), which is plus zero (0xFF).
    assert [code for code in range(256) if back[code] != code] == [0x7F]
    assert back[0x7F] == 0xFF


def test_mulaw_keeps_a_signal_within_its_step_size():
    signal = np.linspace(-30000, 30000, 4001)
    error = np.abs(on_the_line(signal) - signal)
    # The companding step is about 1/16 of the value's octave: relative error below 3.5 %.
    assert np.all(error <= 0.035 * np.abs(signal) + 8)


@pytest.mark.parametrize("f0", [80.0, 150.0, 220.0, 350.0])
def test_a_voiced_tone_has_its_pitch(f0):
    found = prosody.features(on_the_line(voiced(f0)))

    assert found.pitch_hz == pytest.approx(f0, rel=0.01)
    assert found.pitch_var < 0.2
    assert found.pauses == 0


def test_a_telephone_voice_without_its_fundamental_still_has_its_pitch():
    # Below 300 Hz a telephone line carries nothing: a 100 Hz voice arrives as harmonics 3-30.
    found = prosody.features(on_the_line(voiced(100.0, harmonics=range(3, 31))))

    assert found.pitch_hz == pytest.approx(100.0, rel=0.01)


def test_a_glide_over_an_octave_varies_by_its_semitones():
    # 120 to 240 Hz evenly in semitones over 2 s: 12 semitones, standard deviation 12/sqrt(12).
    frequency = 120 * 2 ** (SECONDS / 2)
    glide = 16000 * np.sin(2 * np.pi * np.cumsum(frequency) / RATE)

    found = prosody.features(on_the_line(glide))

    assert found.pitch_hz == pytest.approx(120 * 2**0.5, rel=0.03)
    assert found.pitch_var == pytest.approx(12 / 12**0.5, abs=0.3)


@pytest.mark.parametrize("per_second", [2, 4, 6])
def test_a_burst_train_has_a_syllable_per_burst(per_second):
    period = 1 / per_second
    bursts = voiced(140.0) * ((SECONDS % period) < period / 2)

    found = prosody.features(on_the_line(bursts))

    assert found.rate == pytest.approx(per_second, abs=0.5)
    assert found.pauses == pytest.approx(0.5, abs=0.1)


def test_silence_is_all_pause():
    found = prosody.features(prosody.decode_mulaw(b"\xff" * 2 * RATE))

    assert found.pauses == 1.0
    assert (found.rate, found.pitch_hz, found.speech_s) == (0.0, None, 0.0)
    assert found.loudness_db == prosody.FLOOR_DB


def test_loudness_is_of_the_speech_not_diluted_by_pauses():
    # A sine at RMS -20 dBFS for half of the window, then silence.
    amplitude = 32768 * 10 ** (-20 / 20) * 2**0.5
    half = amplitude * np.sin(2 * np.pi * 200 * SECONDS) * (SECONDS < 1)

    found = prosody.features(on_the_line(half))

    assert found.loudness_db == pytest.approx(-20.0, abs=0.3)
    assert found.pauses == pytest.approx(0.5, abs=0.02)
    assert found.speech_s == pytest.approx(1.0, abs=0.05)


def test_noise_is_neither_pitched_nor_syllables():
    hiss = np.random.default_rng(3).normal(0, 3000, 2 * RATE)

    found = prosody.features(on_the_line(hiss))

    assert found.pitch_hz is None
    assert found.rate == 0.0
    assert found.pauses == 0.0
