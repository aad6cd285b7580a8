"""`hotline bench voicemail`: how long a worker takes to process messages of several lengths.

Each message is synthetic speech-like audio shaped like Twilio's recordings (8 kHz mono WAV).
The stages timed are the ones a processing job runs between download and marking the message
stored: decode, analysis (measures, trim, normalise, triage), encode (MP3 through ffmpeg), and
encryption (seal, atomic write with fsync, read back and check). Each length is run a few times
and the fastest run reported, as the least disturbed by other work on the machine.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from typing import Any

from tools import voicemail_samples as samples
from voicemail import audio
from voicemail.triage import assess
from voicemail.vault import Vault

LENGTHS_S = {"30 s": 30, "3 min": 180, "10 min": 600}
STAGES = ("decode", "analysis", "encode", "encrypt")
# The throughput figure is for the length the target names: three-minute messages.
THROUGHPUT_LENGTH = "3 min"


def time_message(wav: bytes, vault: Vault, message_id: str) -> dict[str, float]:
    """Process one recording as a job does and return the seconds spent in each stage."""
    marks = [time.perf_counter()]
    segment = audio.decode_wav(wav)
    marks.append(time.perf_counter())
    analysis = audio.analyse(segment)
    assess(analysis.measures)
    marks.append(time.perf_counter())
    encoded = audio.encode(analysis.audio)
    marks.append(time.perf_counter())
    vault.store(message_id, encoded)
    marks.append(time.perf_counter())
    return {stage: marks[i + 1] - marks[i] for i, stage in enumerate(STAGES)}


def _line(label: str, stages: dict[str, float]) -> str:
    """Format one length's result: total and the share of each stage."""
    total = sum(stages.values())
    shares = ", ".join(f"{stage} {stages[stage] / total:.0%}" for stage in STAGES)
    return f"{label} message: {total:.2f} s ({shares})"


def run(*, out: Callable[[str], Any] = print, repeats: int = 3) -> dict[str, Any]:
    """Time processing of 30 s, 3 min and 10 min messages and print the figures."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="voicemail-bench-") as folder:
        vault = Vault(folder, secrets.token_bytes(32))
        for label, seconds in LENGTHS_S.items():
            wav = samples.speech_wav(seconds, "calm", seed=seconds)
            runs = [
                time_message(wav, vault, f"bench{seconds}x{attempt}")
                for attempt in range(max(1, repeats))
            ]
            best = min(runs, key=lambda stages: sum(stages.values()))
            results[label] = {"seconds": round(sum(best.values()), 3), **best}
            out(_line(label, best))
    per_message = results[THROUGHPUT_LENGTH]["seconds"]
    rate = int(60 / per_message)
    results["messages_per_min_per_worker"] = rate
    out(f"messages/min/worker: {rate} ({THROUGHPUT_LENGTH} messages)")
    return results
