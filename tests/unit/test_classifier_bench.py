"""`hotline bench classifier` at one round: every figure printed, for both lexicons and clocks."""

from __future__ import annotations

from tools import bench_classifier as bench


def test_the_classifier_bench_prints_every_figure():
    lines: list[str] = []
    figures = bench.run(out=lines.append, rounds=1)
    texts = bench.utterances()
    assert lines[1] == f"classify: {len(texts)} utterances x 1 rounds, target < 1 ms a call"
    for name in ("lexicon", "with model"):
        for clock in ("wall", "CPU"):
            p50, p99, slowest = (
                figures[f"{name} {clock} {figure} ms"] for figure in ("p50", "p99", "max")
            )
            assert 0 < p50 <= p99 <= slowest
            assert f"{name} {clock} p99 ms: {p99}" in "\n".join(lines)
