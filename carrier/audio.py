"""Recorded audio: 8 kHz mono 16-bit PCM from a file, silence or speech-like tones; WAV or MP3."""

from __future__ import annotations

import io
import math
import random
import sys
import wave
from array import array
from pathlib import Path

RATE = 8000


def silence(seconds: float) -> bytes:
    """Return PCM of silence lasting this long."""
    return bytes(2 * int(RATE * max(seconds, 0.0)))


def speech_like(seconds: float, *, seed: int = 0) -> bytes:
    """Return PCM that sounds like speech: voiced syllables with pitch glides and short gaps."""
    dice = random.Random(seed)
    samples = array("h")
    total = int(RATE * max(seconds, 0.0))
    while len(samples) < total:
        syllable = int(RATE * dice.uniform(0.12, 0.28))
        pitch = dice.uniform(110.0, 230.0)
        glide = dice.uniform(-0.3, 0.3)
        for n in range(syllable):
            envelope = math.sin(math.pi * n / syllable)
            phase = 2 * math.pi * pitch * (n / RATE) * (1 + glide * n / syllable)
            voiced = math.sin(phase) + 0.5 * math.sin(2 * phase) + 0.25 * math.sin(3 * phase)
            samples.append(int(6000 * envelope * voiced + dice.gauss(0, 150)))
        samples.extend([0] * int(RATE * dice.uniform(0.03, 0.15)))
    return _to_bytes(samples[:total])


def load_wav(path: str | Path) -> bytes:
    """Read a WAV file as 8 kHz mono 16-bit PCM (channels averaged, rate converted linearly)."""
    with wave.open(str(path), "rb") as source:
        width, channels, rate = source.getsampwidth(), source.getnchannels(), source.getframerate()
        frames = source.readframes(source.getnframes())
    if width == 1:
        values = [(byte - 128) << 8 for byte in frames]
    elif width == 2:
        pcm = array("h")
        pcm.frombytes(frames)
        if sys.byteorder == "big":
            pcm.byteswap()
        values = list(pcm)
    else:
        raise ValueError(f"{path}: {8 * width}-bit WAV is not supported (use 8 or 16 bit)")
    mono = [sum(values[i : i + channels]) // channels for i in range(0, len(values), channels)]
    if rate == RATE or not mono:
        return _to_bytes(array("h", mono))
    count = int(len(mono) * RATE / rate)
    step = rate / RATE
    out = array("h")
    for n in range(count):
        position = n * step
        left = int(position)
        right = min(left + 1, len(mono) - 1)
        fraction = position - left
        out.append(int(mono[left] * (1 - fraction) + mono[right] * fraction))
    return _to_bytes(out)


def trim_silence(pcm: bytes, *, threshold: int = 300) -> bytes:
    """Drop leading and trailing silence, as Twilio's trim-silence does."""
    samples = array("h")
    samples.frombytes(pcm)
    loud = [i for i, value in enumerate(samples) if abs(value) > threshold]
    if not loud:
        return b""
    return _to_bytes(samples[loud[0] : loud[-1] + 1])


def duration(pcm: bytes) -> float:
    """Return the length of PCM in seconds."""
    return len(pcm) / (2 * RATE)


def to_wav(pcm: bytes) -> bytes:
    """Wrap PCM in a WAV container."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(RATE)
        target.writeframes(pcm)
    return buffer.getvalue()


def to_mp3(pcm: bytes) -> bytes:
    """Encode PCM as MP3 (32 kbit/s mono) with LAME."""
    import lameenc  # optional: only recordings asked for as .mp3 need it

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(32)
    encoder.set_in_sample_rate(RATE)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(pcm) + encoder.flush())


def _to_bytes(samples: array) -> bytes:
    """Return little-endian bytes of 16-bit samples, as WAV stores them."""
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()
