"""The emotion thermometer on its calibration set: features and levels per sample, and its cost.

`python -m tools.calibrate_thermometer` feeds each sample of tools/speech/ and each stand-in voice
of carrier/voices/ to a fresh routing.thermometer.Thermometer, 20 ms at a time as a Twilio stream
would, and prints a row per sample: the features averaged over its spoken windows, the level of
each window, and what the sample was meant to sound like. The bounds in routing/thermometer.py
were chosen from this table (docs/live-assist.md shows it). `--markdown` prints the table for the
docs. Last, the CPU time per second of audio: the share of one core a live stream costs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from routing.prosody import encode_mulaw
from routing.thermometer import Reading, Thermometer
from tools.speech_samples import (
    SPEECH,
    VOICES,
    Sample,
    calibration_set,
    read_mulaw,
    read_pcm,
    stand_in_voices,
)

# A Twilio media message: 20 ms of 8 kHz mu-law.
CHUNK = 160
# Streams on the machine the bench targets: 50 on 2 cores, with room.
TARGET_SHARE = 0.02


def audio_of(path: Path) -> bytes:
    """The mu-law bytes of a calibration sample or a stand-in voice."""
    if path.parent == VOICES:
        return encode_mulaw(read_pcm(path)[1])
    return read_mulaw(path)


def readings_of(audio: bytes) -> list[Reading]:
    """Every reading of a fresh thermometer fed the audio in 20 ms pieces."""
    thermometer = Thermometer()
    readings: list[Reading] = []
    for start in range(0, len(audio), CHUNK):
        readings += thermometer.feed(audio[start : start + CHUNK])
    return readings


def settings(sample: Sample) -> str:
    """How espeak-ng was asked to speak a sample, as the table shows it."""
    said = f"-s{sample.speed} -a{sample.amplitude} -p{sample.pitch}"
    extras = [sample.variant, sample.pitch_range, "phone" if sample.telephone else ""]
    return " ".join([said, *filter(None, extras)])


def row(sample: Sample, meant: str, readings: list[Reading]) -> list[str]:
    """A table row: averaged features of the spoken windows, and each window's level."""
    spoken = [r for r in readings if not r.silent] or readings
    pitches = [r.pitch_hz for r in spoken if r.pitch_hz is not None]
    levels = " ".join(f"{r.level}{'s' if r.silent else ''}" for r in readings)
    return [
        sample.name,
        settings(sample),
        meant,
        f"{np.mean([r.loudness_db for r in spoken]):.1f}",
        f"{np.mean([r.rate for r in spoken]):.1f}",
        f"{np.mean(pitches):.0f}" if pitches else "-",
        f"{np.mean([r.pitch_var for r in spoken]):.1f}",
        f"{np.mean([r.pauses for r in spoken]):.2f}",
        f"{np.mean([r.score for r in spoken if r.score is not None] or [0]):.2f}",
        levels,
    ]


HEADER = [
    "sample",
    "espeak-ng",
    "meant",
    "dBFS",
    "syl/s",
    "pitch Hz",
    "var st",
    "pauses",
    "score",
    "levels",
]


def main(argv: list[str] | None = None) -> None:
    """Print the calibration table and the thermometer's CPU cost per stream."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the table for the docs")
    markdown = parser.parse_args(argv).markdown
    samples = [(SPEECH, sample) for sample in calibration_set()]
    samples += [(VOICES, sample) for sample in stand_in_voices()]
    rows, audio_s, cpu_s = [], 0.0, 0.0
    for folder, sample in samples:
        audio = audio_of(folder / f"{sample.name}.wav")
        started = time.process_time()
        readings = readings_of(audio)
        cpu_s += time.process_time() - started
        audio_s += len(audio) / 8000
        rows.append(row(sample, sample.meant or ("voice" if folder == VOICES else ""), readings))
    if markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for cells in rows:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(cells[i]) for cells in [HEADER, *rows]) for i in range(len(HEADER))]
        for cells in [HEADER, *rows]:
            print("  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)))
    share = cpu_s / audio_s
    print(
        f"\nCPU: {cpu_s * 1000:.0f} ms for {audio_s:.0f} s of audio = {share:.2%} of one core "
        f"per stream (target < {TARGET_SHARE:.0%}); 50 streams: {50 * share:.0%} of one core"
    )


if __name__ == "__main__":
    main()
