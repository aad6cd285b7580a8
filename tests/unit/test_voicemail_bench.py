"""The voicemail bench: figures for each message length and the per-worker throughput."""

from __future__ import annotations

import re

from tools import bench_voicemail as bench


def test_bench_reports_each_length_and_throughput():
    lines: list[str] = []
    results = bench.run(out=lines.append, repeats=1)
    assert len(lines) == 4
    shares = r"\(decode \d+%, analysis \d+%, encode \d+%, encrypt \d+%\)"
    pattern = r"(30 s|3 min|10 min) message: \d+\.\d\d s " + shares
    for line in lines[:3]:
        assert re.fullmatch(pattern, line), line
    assert re.fullmatch(r"messages/min/worker: \d+ \(3 min messages\)", lines[3])
    assert results["3 min"]["seconds"] > results["30 s"]["seconds"] > 0
    assert results["messages_per_min_per_worker"] == int(60 / results["3 min"]["seconds"])
