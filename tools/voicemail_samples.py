"""Synthetic speech-like recordings, shaped like Twilio's WAV, for the voicemail bench and tests.

A "syllable" is a short voiced tone (a fundamental with falling harmonics, like a vowel) under a
smooth envelope. Syllables come in phrases separated by pauses, over a faint line noise. A calm
caller speaks about three syllables a second at an even, moderate level with real pauses; an
agitated one speaks twice as fast, louder, with the level jumping between syllables and hardly
a pause. Templates are built once and assembled with audioop, so ten minutes take milliseconds.
"""

from __future__ import annotations

import array
import io
import math
import random
import wave
from dataclasses import dataclass

from voicemail.audio import audioop

RATE = 8000


@dataclass(frozen=True)
class Voice:
    """How a synthetic caller speaks."""

    syllables_per_s: float
    level_dbfs: float
    level_jitter_db: float
    phrase_syllables: tuple[int, int]
    pause_s: tuple[float, float]


CALM = Voice(
    syllables_per_s=3.0,
    level_dbfs=-26.0,
    level_jitter_db=1.5,
    phrase_syllables=(5, 10),
    pause_s=(0.6, 1.2),
)
AGITATED = Voice(
    syllables_per_s=6.0,
    level_dbfs=-13.0,
    level_jitter_db=7.0,
    phrase_syllables=(12, 24),
    pause_s=(0.1, 0.25),
)
VOICES = {"calm": CALM, "agitated": AGITATED}


def _syllable(duration_s: float, f0: float, rate: int) -> bytes:
    """Return one vowel-like tone at full scale (peak about -1 dBFS) with a smooth envelope."""
    count = int(duration_s * rate)
    samples = []
    for index in range(count):
        t = index / rate
        envelope = math.sin(math.pi * index / count) ** 0.6
        value = sum(math.sin(2 * math.pi * f0 * k * t) / k for k in (1, 2, 3, 4, 5))
        samples.append(int(max(-1.0, min(1.0, 0.45 * envelope * value)) * 29000))
    return _pack(samples)


def _pack(samples: list[int]) -> bytes:
    """Pack 16-bit samples as little-endian bytes."""
    return array.array("h", samples).tobytes()


def _noise(seconds: float, level_dbfs: float, rate: int, rng: random.Random) -> bytes:
    """Return a faint noise bed: one random second repeated (cheap, and steady like a line)."""
    amplitude = 32768 * 10 ** (level_dbfs / 20)
    second = _pack([int(rng.gauss(0.0, amplitude)) for _ in range(rate)])
    whole = second * (int(seconds) + 1)
    return whole[: int(seconds * rate) * 2]


def _gain(data: bytes, db: float) -> bytes:
    """Scale 16-bit audio by a gain in dB."""
    return audioop.mul(data, 2, 10 ** (db / 20))


def speech_pcm(seconds: float, voice: Voice, *, rate: int = RATE, seed: int = 0) -> bytes:
    """Return raw 16-bit mono samples of speech-like audio lasting the given time."""
    rng = random.Random(seed)
    syllable_s = 0.8 / voice.syllables_per_s
    templates = [
        _syllable(syllable_s * rng.uniform(0.8, 1.2), rng.uniform(110, 230), rate) for _ in range(8)
    ]
    gap = b"\x00\x00" * int((1 / voice.syllables_per_s - syllable_s) * rate)
    total = int(seconds * rate) * 2
    parts: list[bytes] = [b"\x00\x00" * int(0.4 * rate)]
    size = len(parts[0])
    # A template's speech level (energy over its envelope) sits about 11 dB below full scale.
    base_gain = voice.level_dbfs + 11.0
    while size < total:
        for _ in range(rng.randint(*voice.phrase_syllables)):
            level = base_gain + rng.uniform(-voice.level_jitter_db, voice.level_jitter_db)
            chunk = _gain(rng.choice(templates), min(level, 0.0)) + gap
            parts.append(chunk)
            size += len(chunk)
        pause = b"\x00\x00" * int(rng.uniform(*voice.pause_s) * rate)
        parts.append(pause)
        size += len(pause)
    speech = b"".join(parts)[:total]
    return audioop.add(speech, _noise(seconds, -62.0, rate, rng)[: len(speech)], 2)


def wav(pcm: bytes, *, rate: int = RATE) -> bytes:
    """Wrap 16-bit mono samples in a WAV header, as Twilio serves recordings."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm)
    return out.getvalue()


def speech_wav(seconds: float, style: str = "calm", *, rate: int = RATE, seed: int = 0) -> bytes:
    """Return a WAV recording of a synthetic caller speaking calmly or agitatedly."""
    return wav(speech_pcm(seconds, VOICES[style], rate=rate, seed=seed), rate=rate)


def silence_wav(seconds: float, *, noise_dbfs: float | None = None, rate: int = RATE) -> bytes:
    """Return a WAV recording with no speech: digital silence or a steady line noise."""
    if noise_dbfs is None:
        return wav(b"\x00\x00" * int(seconds * rate), rate=rate)
    return wav(_noise(seconds, noise_dbfs, rate, random.Random(1)), rate=rate)
