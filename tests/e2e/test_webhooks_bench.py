"""`hotline bench webhooks` at a few callers for a few seconds: it prints every figure, 0 errors."""

from __future__ import annotations

import re

import pytest

from tools import bench_webhooks as bench

pytestmark = pytest.mark.e2e


def test_the_webhooks_bench_prints_every_figure_without_errors(capsys):
    figures = bench.run(
        callers=6,
        rate=20,
        hold_s=0.3,
        saturate_s=0.5,
        think_s=(0.02, 0.05),
        poll_every_s=0.2,
    )
    text = capsys.readouterr().out
    # Both apps: latency by webhook kind, no errors, the greeting flat out.
    ceiling, hotline = text.split("\nceiling ", 1)[1].split("\nhotline: ", 1)
    for kind in ("greeting", "language", "area", "wait", "all"):
        assert re.search(rf"^  {kind} +\d+ +[\d.]+ +[\d.]+ +[\d.]+$", ceiling, re.M), kind
    for kind in ("greeting", "language", "area", "intake", "wait", "all"):
        assert re.search(rf"^  {kind} +\d+ +[\d.]+ +[\d.]+ +[\d.]+$", hotline, re.M), kind
    assert ceiling.count("  errors: 0\n") == 1 and hotline.count("  errors: 0\n") == 1
    assert re.search(r"greeting flat out[^:]*: [1-9]\d*/s", ceiling)
    assert re.search(r"greeting flat out[^:]*: [1-9]\d*/s", hotline)
    assert re.search(r"generator CPU: \d+% of one core", hotline)
    # Every caller got through the menu to the queue, and polled.
    assert "6 callers queued" in ceiling and "6 callers queued" in hotline
    assert figures["waiting"] == 6 and figures["errors"] == 0
    assert re.search(r"p99 all webhooks: [\d.]+ ms", text)
    assert re.search(r"greeting throughput: \d+% of the ceiling", text)
    assert re.search(r"Redis per waiting call: \d+ bytes", text)
    assert figures["ceiling_share"] > 0 and figures["redis_bytes_per_call"] > 0
    # The greeting through Redis, in the same turns, for comparison.
    assert re.search(
        r"greeting through Redis \(HOTLINE_GREETING_FROM_MEMORY=false\), flat out in the same"
        r" turns: [1-9]\d*/s, \d+% of the ceiling, errors: 0",
        text,
    )
    assert figures["redis_path_share"] > 0
