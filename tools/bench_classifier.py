"""`hotline bench classifier`: how long one classify call takes on what callers say.

Every utterance of tests/data/utterances.yaml is classified with the shipped config's lexicon,
alone and with the shipped crisis model, as the menu does for each caller's words. Each call is
timed on its own, in wall time (what a caller waits) and CPU time (what the call itself costs:
on a busy machine wall time's p99 is mostly waiting for a CPU); the figures are the median
(p50), p99 and the slowest call, in ms. A warm-up pass runs first, so caches are not timed.
Nothing is asserted: the target is under 1 ms a call, and the figures go in docs/benchmarks.md
with the date and machine.
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


def time_calls(
    texts: Sequence[str], lexicon: Lexicon, rounds: int
) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each classify call, over `rounds` passes after an untimed one."""
    for text in texts:
        classify(text, lexicon)
    wall, cpu = [], []
    for _ in range(rounds):
        for text in texts:
            started, clock = time.perf_counter(), time.process_time()
            classify(text, lexicon)
            cpu.append(time.process_time() - clock)
            wall.append(time.perf_counter() - started)
    return wall, cpu


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
        wall, cpu = time_calls(texts, used, rounds)
        for clock, seconds in (("wall", wall), ("CPU", cpu)):
            ms = [value * 1000 for value in seconds]
            found = {
                f"{name} {clock} p50 ms": round(statistics.median(ms), 3),
                f"{name} {clock} p99 ms": round(_percentile(ms, 99), 3),
                f"{name} {clock} max ms": round(max(ms), 3),
            }
            out(", ".join(f"{label}: {value}" for label, value in found.items()))
            figures.update(found)
    return figures
