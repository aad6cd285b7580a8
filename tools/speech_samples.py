"""Synthetic speech for the emotion thermometer: the calibration set and the stand-in's voices.

`python -m tools.speech_samples` speaks fixed Mandarin and English sentences with espeak-ng
(voices cmn and en-us, male and female variants) at several speeds (-s, words a minute),
amplitudes (-a, 0-200) and pitches (-p, 0-99), resamples them to 8 kHz and quantises them to
G.711 mu-law as a telephone line would. A few are also band-limited to 300-3400 Hz with line
noise added, like a mobile call. Written:
- tools/speech/<name>.wav: the calibration set, 8 kHz mu-law WAV (format 7), at most 5 s each;
  tools/calibrate_thermometer.py reads them;
- carrier/voices/<name>.wav: the stand-in's voices (calm_zh, agitated_zh, calm_en, agitated_en,
  crisis_calm_zh), 8 kHz 16-bit PCM WAV holding mu-law values, so the stand-in's own encoding
  streams exactly what was generated; at most 10 s each.
Synthetic speech only: espeak-ng's formant voices are steadier than people. The files are
committed, so nothing else needs espeak-ng; rerunning writes the same files.
"""

from __future__ import annotations

import argparse
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from routing.prosody import RATE_HZ, decode_mulaw, encode_mulaw
from tools import REPO

SPEECH = REPO / "tools" / "speech"
VOICES = REPO / "carrier" / "voices"
CALIBRATION_S = 5.0
VOICE_S = 10.0
# Mu-law WAV's format tag (WAVE_FORMAT_MULAW); Python's wave module reads only PCM (1).
FORMAT_MULAW = 7
# Line noise of a mobile call, and the seed that makes it the same on every run.
NOISE_DBFS = -48.0
NOISE_SEED = 17

TEXTS = {
    "zh_calm": "您好，我想咨询一下劳动合同的问题。公司上个月的工资还没有发，我想知道应该怎么处理。",
    "zh_agitated": "我已经等了三个月了！公司一分钱都不给我！你们到底管不管？我现在就要一个说法！",
    "en_calm": (
        "Hello, I would like some advice about my flat. My landlord has not returned the "
        "deposit, and I am not sure what I can do about it."
    ),
    "en_agitated": (
        "I have waited three months! They still have not paid me a single cent! Are you going "
        "to help me or not? I need an answer right now!"
    ),
    "zh_crisis": "明天我就从楼上跳下去。",
}
ESPEAK_VOICE = {"zh": "cmn", "en": "en-us"}


@dataclass(frozen=True)
class Sample:
    """One synthetic utterance: what is said, by which voice, how fast, loud and high."""

    name: str
    language: str
    text: str
    speed: int = 160
    amplitude: int = 100
    pitch: int = 50
    # espeak-ng's voice variant ("f2" a female voice), empty for the default male voice.
    variant: str = ""
    # SSML pitch range ("x-high" for a voice that leaps), empty for espeak-ng's own.
    pitch_range: str = ""
    # Band-limited to 300-3400 Hz with line noise, like a mobile call.
    telephone: bool = False
    # What the sample is meant to sound like, for the calibration table ("" = a sweep step).
    meant: str = ""


def calibration_set() -> list[Sample]:
    """The calibration samples: sweeps of speed, amplitude and pitch, and typical callers."""
    samples: list[Sample] = []
    for lang in ("zh", "en"):
        calm, agitated = TEXTS[f"{lang}_calm"], TEXTS[f"{lang}_agitated"]
        samples += [
            Sample(f"{lang}_speed_{s}", lang, calm, speed=s) for s in (110, 150, 190, 240, 290)
        ]
        samples += [
            Sample(f"{lang}_amp_{a}", lang, calm, amplitude=a) for a in (40, 70, 100, 150, 200)
        ]
        samples += [Sample(f"{lang}_pitch_{p}", lang, calm, pitch=p) for p in (20, 50, 80, 99)]
        samples += [
            Sample(f"{lang}_calm", lang, calm, 140, 80, 40, meant="calm"),
            Sample(f"{lang}_calm_f", lang, calm, 140, 80, 45, "f2", meant="calm"),
            Sample(f"{lang}_calm_quiet", lang, calm, 120, 50, 35, meant="calm"),
            Sample(f"{lang}_tense", lang, agitated, 190, 120, 60, meant="tense"),
            Sample(
                f"{lang}_agitated", lang, agitated, 260, 190, 85, "", "x-high", meant="agitated"
            ),
            Sample(
                f"{lang}_agitated_f", lang, agitated, 250, 180, 80, "f2", "x-high", meant="agitated"
            ),
            Sample(f"{lang}_calm_phone", lang, calm, 140, 80, 40, telephone=True, meant="calm"),
            Sample(
                f"{lang}_agitated_phone",
                lang,
                agitated,
                260,
                190,
                85,
                "",
                "x-high",
                True,
                "agitated",
            ),
        ]
    return samples


def stand_in_voices() -> list[Sample]:
    """The stand-in's voices the live-assist contract names."""
    return [
        Sample("calm_zh", "zh", TEXTS["zh_calm"], 140, 80, 40),
        Sample("agitated_zh", "zh", TEXTS["zh_agitated"], 260, 190, 85, "", "x-high"),
        Sample("calm_en", "en", TEXTS["en_calm"], 140, 80, 40),
        Sample("agitated_en", "en", TEXTS["en_agitated"], 260, 190, 85, "", "x-high"),
        Sample("crisis_calm_zh", "zh", TEXTS["zh_crisis"], 130, 80, 40),
    ]


def speak(sample: Sample, longest_s: float) -> np.ndarray:
    """Say a sample with espeak-ng; 8 kHz samples quantised to mu-law, leading silence cut."""
    voice = ESPEAK_VOICE[sample.language] + (f"+{sample.variant}" if sample.variant else "")
    text = sample.text
    if sample.pitch_range:
        text = f'<speak><prosody range="{sample.pitch_range}">{text}</prosody></speak>'
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "said.wav"
        command = ["espeak-ng", "-v", voice, "-s", str(sample.speed), "-a", str(sample.amplitude)]
        command += ["-p", str(sample.pitch), "-z", "-w", str(path)]
        subprocess.run([*command, *(["-m"] if sample.pitch_range else []), text], check=True)
        rate, said = read_pcm(path)
    line = resample(said, rate, RATE_HZ, telephone=sample.telephone)
    if sample.telephone:
        noise = np.random.default_rng(NOISE_SEED).normal(size=len(line))
        line = line + noise * 32768.0 * 10 ** (NOISE_DBFS / 20)
    line = _from_first_sound(line)[: int(longest_s * RATE_HZ)]
    return decode_mulaw(encode_mulaw(line)).astype(np.int16)


def resample(samples: np.ndarray, rate: int, to_rate: int, telephone: bool = False) -> np.ndarray:
    """Resample by the spectrum (no aliasing); telephone keeps only 300-3400 Hz."""
    spectrum = np.fft.rfft(samples.astype(np.float64))
    count = int(round(len(samples) * to_rate / rate))
    kept = spectrum[: count // 2 + 1] * (count / len(samples))
    hertz = np.fft.rfftfreq(count, 1.0 / to_rate)[: len(kept)]
    # A telephone line's band, else the roll-off a codec's anti-aliasing filter leaves.
    band = (hertz >= 300) & (hertz <= 3400) if telephone else hertz <= 3800
    kept = kept * band
    return np.fft.irfft(kept, count)


def _from_first_sound(samples: np.ndarray) -> np.ndarray:
    """Drop what precedes the first 20 ms above -45 dBFS, so speech starts the first window."""
    frames = samples[: len(samples) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.sqrt(np.mean(frames * frames, axis=1)) > 32768 * 10 ** (-45 / 20))
    return samples[loud[0] * 160 :] if len(loud) else samples


def read_pcm(path: Path) -> tuple[int, np.ndarray]:
    """Read a 16-bit mono PCM WAV: its rate and samples."""
    with wave.open(str(path), "rb") as source:
        rate = source.getframerate()
        frames = source.readframes(source.getnframes())
    return rate, np.frombuffer(frames, dtype="<i2").astype(np.float64)


def write_pcm(path: Path, samples: np.ndarray) -> None:
    """Write 8 kHz mono 16-bit PCM WAV."""
    with wave.open(str(path), "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(RATE_HZ)
        target.writeframes(samples.astype("<i2").tobytes())


def write_mulaw(path: Path, samples: np.ndarray) -> None:
    """Write 8 kHz mono mu-law WAV (format 7, one byte a sample, as Twilio's streams carry)."""
    data = encode_mulaw(samples)
    fmt = struct.pack("<HHIIHHH", FORMAT_MULAW, 1, RATE_HZ, RATE_HZ, 1, 8, 0)
    fact = struct.pack("<I", len(data))
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"fact", fact) + _chunk(b"data", data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def read_mulaw(path: Path) -> bytes:
    """The mu-law bytes of a WAV written by write_mulaw (format 7, 8 kHz mono)."""
    raw = path.read_bytes()
    position, data, fmt = 12, None, None
    while position + 8 <= len(raw):
        kind, size = (
            raw[position : position + 4],
            struct.unpack("<I", raw[position + 4 : position + 8])[0],
        )
        body = raw[position + 8 : position + 8 + size]
        if kind == b"fmt ":
            fmt = struct.unpack("<HHI", body[:8])
        elif kind == b"data":
            data = body
        position += 8 + size + (size & 1)
    if fmt != (FORMAT_MULAW, 1, RATE_HZ) or data is None:
        raise ValueError(f"{path}: not 8 kHz mono mu-law WAV")
    return data


def _chunk(kind: bytes, body: bytes) -> bytes:
    """One RIFF chunk, padded to an even length."""
    return kind + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def main(argv: list[str] | None = None) -> None:
    """Write the calibration set and the stand-in's voices."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("speech", "voices"), help="write only one of the two")
    chosen = parser.parse_args(argv).only
    if chosen in (None, "speech"):
        SPEECH.mkdir(exist_ok=True)
        for sample in calibration_set():
            write_mulaw(SPEECH / f"{sample.name}.wav", speak(sample, CALIBRATION_S))
    if chosen in (None, "voices"):
        VOICES.mkdir(exist_ok=True)
        for sample in stand_in_voices():
            write_pcm(VOICES / f"{sample.name}.wav", speak(sample, VOICE_S))
    total = sum(path.stat().st_size for path in [*SPEECH.glob("*.wav"), *VOICES.glob("*.wav")])
    print(f"written; calibration set and voices: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
