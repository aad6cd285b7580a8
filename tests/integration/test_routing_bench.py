"""`hotline bench routing` at a small size: it runs end to end and prints its figures."""

from __future__ import annotations

import pytest

from tools import bench_routing as bench

pytestmark = pytest.mark.redis


def test_the_routing_bench_prints_every_figure(redis, redis_url):
    lines: list[str] = []
    figures = bench.run(
        redis_url,
        waiting=60,
        agents=40,
        decisions=400,
        processes=2,
        rings=3,
        rounds=2,
        out=lines.append,
    )
    text = "\n".join(lines)
    for name in ("decisions/s", "decision p50 ms", "decision p99 ms", "dispatch p99 ms"):
        assert f"{name}: " in text
        assert figures[name] > 0
    assert "ratio 60/60 waiting: " in text
    rounds = next(line for line in lines if line.startswith("rounds at 60 waiting"))
    assert len(rounds.split(":")[1].split(",")) == 2
    # The bench leaves the database as it found it: empty.
    assert redis.dbsize() == 0
