"""`hotline bench classifier`: how long one classify call takes on what callers say.

Every utterance of tests/data/utterances.yaml is classified with the shipped config's lexicon,
alone and with the shipped crisis model, as the menu does for each caller's words. Each call is
timed on its own; the figures are the median (p50), p99 and the slowest call, in ms. A warm-up
pass runs first, so caches and imports are not what is timed. Nothing is asserted: the target
is under 1 ms a call, and the figures go in docs/benchmarks.md with the date and machine.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from routing.classifier import Lexicon, classify, with_crisis_model
from tools import REPO
from tools.crisis_model_train import WEIGHTS, load_lexicon, read_model

UTTERANCES = REPO / "tests" / "data" / "utterances.yaml"
# Passes over the utterances: each call of each pass is one timing.
ROUNDS = 20
TARGET_MS = 1.0


def utterances() -> list[str]:
    """The callers' words of the labelled data set, in file order."""
    data = yaml.safe_load(UTTERANCES.read_text(encoding="utf-8"))
    return [str(item["text"]) for item in data["utterances"]]


def time_calls(texts: Sequence[str], lexicon: Lexicon, rounds: int) -> list[float]:
    """Seconds each classify call took, over `rounds` passes after one untimed pass."""
    for text in texts:
        classify(text, lexicon)
    timings = []
    for _ in range(rounds):
        for text in texts:
            started = time.perf_counter()
            classify(text, lexicon)
            timings.append(time.perf_counter() - started)
    return timings


def _percentile(values: Sequence[float], percent: float) -> float:
    """The value below which `percent` of the values fall."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered)) - 1))
    return ordered[index]


def run(*, out: Callable[[str], Any] = print, rounds: int = ROUNDS) -> dict[str, float]:
    """Time classify on every utterance, lexicon alone and with the model; print the figures."""
    texts = utterances()
    lexicon = load_lexicon()
    lexicons = {"lexicon": lexicon, "with model": with_crisis_model(lexicon, read_model(WEIGHTS))}
    # Other work on the machine skews every figure: say how busy it was.
    out(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start")
    out(f"classify: {len(texts)} utterances x {rounds} rounds, target < {TARGET_MS:g} ms a call")
    figures: dict[str, float] = {}
    for name, used in lexicons.items():
        timings = [seconds * 1000 for seconds in time_calls(texts, used, rounds)]
        found = {
            f"{name} p50 ms": round(statistics.median(timings), 3),
            f"{name} p99 ms": round(_percentile(timings, 99), 3),
            f"{name} max ms": round(max(timings), 3),
        }
        for label, value in found.items():
            out(f"{label}: {value}")
        figures.update(found)
    return figures
