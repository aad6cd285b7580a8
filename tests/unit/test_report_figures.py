"""Report figures from hand-built call rows: every expected value below is worked out by hand
from the rows (in the comments), not by the code under test.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from routing.report import (
    FIGURES,
    Period,
    ReportPolicy,
    build_report,
    parse_reports,
    percentile,
    time_buckets,
)

ZONE = "Asia/Shanghai"
DAY = Period(date(2026, 3, 2), date(2026, 3, 2), ZONE)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 2) -> float:
    """An instant of March 2026 in Beijing time, as epoch seconds."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=ZoneInfo(ZONE)).timestamp()


def call(sid: str, arrived: float, **facts) -> dict:
    """A call row: queued 10 s after arriving when it has a wait; answered after that wait."""
    row = {"call_sid": sid, "arrived_at": arrived, "area": "family", "agent": "", "outcome": ""}
    wait = facts.pop("wait", None)
    if wait is not None:
        row["queued_at"] = arrived + 10
        row["wait_s"] = wait
        if facts.get("outcome") == "answered":
            row["answered_at"] = arrived + 10 + wait
    row.update(facts)
    return row


CALLS = [
    call(
        "c1", at(9, 0), wait=10, outcome="answered", agent="a1", talk_s=300, wrap_up_s=60, rating=1
    ),
    call(
        "c2", at(9, 5), wait=30, outcome="answered", agent="a1", talk_s=600, wrap_up_s=120, rating=2
    ),
    call("c3", at(9, 10), wait=20, outcome="answered", agent="a2", talk_s=120, area="labor"),
    call("c4", at(9, 20), wait=3, outcome="abandoned"),
    call("c5", at(10, 15), wait=45, outcome="abandoned"),
    call("c6", at(10, 40), wait=60, outcome="voicemail", voicemail_recording="RE1"),
    call("c7", at(9, 30), outcome="menu"),
    call("c8", at(9, 31), outcome="crisis", crisis_trigger="danger_key", crisis_to_human_s=12),
    call("c9", at(9, 32), outcome="crisis", crisis_trigger="words", crisis_to_human_s=40),
    call("c10", at(9, 40), wait=90, outcome="callback", callback="connected"),
    # The next day: outside the period.
    call("c11", at(0, 0, 1, day=3), wait=5, outcome="answered", agent="a1", talk_s=50),
]
INTERVALS = [
    {"agent": "a1", "state": "available", "started_at": at(8), "ended_at": at(10)},
    {"agent": "a1", "state": "on_break", "started_at": at(10), "ended_at": at(10, 30)},
    {"agent": "a1", "state": "available", "started_at": at(11), "ended_at": None},
    {"agent": "a2", "state": "available", "started_at": at(9), "ended_at": at(9, 30)},
    # Began the evening before: only its 30 minutes after midnight are in the period.
    {"agent": "a2", "state": "available", "started_at": at(23, day=1), "ended_at": at(0, 30)},
]


def test_a_day_of_calls_gives_the_figures_worked_out_by_hand():
    report = build_report(CALLS, INTERVALS, DAY, now=at(12))
    total = report.total
    assert list(total) == list(FIGURES)
    # c1..c10 arrived in the period; c1-c6 and c10 reached a queue.
    assert total["arrived"] == 10
    assert total["offered"] == 7
    assert total["answered"] == 3
    assert total["answer_rate"] == round(3 / 7, 4)
    # Within 20 s: c1 (10 s) and c3 (20 s, the threshold itself); c4 is a short abandon.
    assert total["service_level"] == round(2 / 6, 4)
    assert (total["abandoned"], total["short_abandoned"]) == (1, 1)
    assert total["abandon_rate"] == round(1 / 6, 4)
    assert total["asa_s"] == 20.0
    # Answered waits 10, 20, 30: nearest rank 2 of 3 for p50, 3 of 3 for p90.
    assert (total["wait_p50_s"], total["wait_p90_s"], total["wait_max_s"]) == (20, 30, 30)
    assert total["talk_mean_s"] == 340.0
    assert total["wrap_up_mean_s"] == 90.0
    assert (total["callbacks_requested"], total["callbacks_completed"]) == (1, 1)
    assert total["voicemails_left"] == 1
    # The records do not keep a voicemail's callback yet: not recorded, not zero.
    assert total["voicemails_called_back"] is None
    assert total["voicemail_callback_mean_s"] is None
    assert (total["rated"], total["satisfied_share"], total["followups_opened"]) == (2, 0.5, 1)
    assert total["followups_closed"] is None
    assert total["crisis_triggers"] == 2
    assert (total["crisis_to_human_p50_s"], total["crisis_to_human_max_s"]) == (12, 40)
    assert total["crisis_rollovers"] is None


def test_agents_handled_talk_wrap_up_and_occupancy_from_their_intervals():
    agents = {b.key: b.figures for b in build_report(CALLS, INTERVALS, DAY, now=at(12)).agents}
    assert sorted(agents) == ["a1", "a2"]
    a1, a2 = agents["a1"], agents["a2"]
    assert (a1["handled"], a1["talk_s"], a1["wrap_up_s"]) == (2, 900, 180)
    assert (a1["talk_mean_s"], a1["wrap_up_mean_s"]) == (450.0, 90.0)
    # Available 08:00-10:00 and 11:00 until now (12:00): 3 hours; busy 900 + 180 s.
    assert a1["available_s"] == 3 * 3600
    assert a1["occupancy"] == round(1080 / 10800, 4)
    # 09:00-09:30 and 00:00-00:30 (clipped at midnight): an hour; busy 120 s, no wrap-up known.
    assert a2["available_s"] == 3600
    assert a2["occupancy"] == round(120 / 3600, 4)
    assert a1["heavy_calls"] is None


def test_hour_buckets_cover_the_whole_day_and_place_calls_by_local_time():
    report = build_report(CALLS, INTERVALS, DAY, by="hour", now=at(12))
    assert [b.key for b in report.buckets] == [f"2026-03-02 {h:02d}:00" for h in range(24)]
    arrived = {b.key: b.figures["arrived"] for b in report.buckets if b.figures["arrived"]}
    assert arrived == {"2026-03-02 09:00": 8, "2026-03-02 10:00": 2}
    empty = report.buckets[0].figures
    assert empty["offered"] == 0 and empty["answer_rate"] is None and empty["asa_s"] is None


def test_half_hour_week_area_and_agent_buckets():
    halves = build_report(CALLS, INTERVALS, DAY, by="half-hour", now=at(12)).buckets
    assert len(halves) == 48
    counts = {b.key[-5:]: b.figures["arrived"] for b in halves if b.figures["arrived"]}
    # 09:00-09:29: c1-c4; 09:30-09:59: c7-c10; 10:00-10:29: c5; 10:30-10:59: c6.
    assert counts == {"09:00": 4, "09:30": 4, "10:00": 1, "10:30": 1}
    weeks = build_report(
        CALLS, INTERVALS, Period(date(2026, 3, 1), date(2026, 3, 9), ZONE), by="week", now=at(12)
    )
    # Sunday 1 March is in the week of Monday 23 February.
    assert [b.key for b in weeks.buckets] == ["2026-02-23", "2026-03-02", "2026-03-09"]
    # c11 (Tuesday 3 March) is in the same week as the other ten.
    assert [b.figures["arrived"] for b in weeks.buckets] == [0, 11, 0]
    areas = build_report(CALLS, INTERVALS, DAY, by="area", now=at(12)).buckets
    assert {b.key: b.figures["offered"] for b in areas} == {"family": 6, "labor": 1}
    by_agent = build_report(CALLS, INTERVALS, DAY, by="agent", now=at(12)).buckets
    assert {b.key: b.figures["answered"] for b in by_agent} == {"": 0, "a1": 2, "a2": 1}


def test_an_area_filter_keeps_only_its_calls():
    report = build_report(CALLS, INTERVALS, DAY, area="labor", now=at(12))
    assert (report.total["arrived"], report.total["answered"]) == (1, 1)
    assert [b.key for b in report.agents] == ["a2"]


def test_the_threshold_and_short_abandon_come_from_the_policy():
    policy = ReportPolicy(service_level_s=10, short_abandon_s=0)
    total = build_report(CALLS, INTERVALS, DAY, policy=policy, now=at(12)).total
    # Only c1 within 10 s; no short abandons, so all 7 offered count.
    assert total["service_level"] == round(1 / 7, 4)
    assert (total["abandoned"], total["short_abandoned"]) == (2, 0)


def test_facts_the_records_may_carry_later_are_counted_when_present():
    rows = [
        call(
            "h1",
            at(9),
            wait=1,
            outcome="answered",
            agent="a1",
            talk_s=60,
            heavy=True,
            rating=2,
            followup_closed=True,
        ),
        call(
            "h2",
            at(9, 1),
            wait=1,
            outcome="answered",
            agent="a1",
            talk_s=60,
            heavy=False,
            rating=2,
            followup_closed=False,
        ),
        call(
            "v1",
            at(9, 2),
            wait=30,
            outcome="voicemail",
            voicemail_recording="RE2",
            ended_at=at(9, 3),
            voicemail_called_back_at=at(9, 13),
        ),
        call(
            "v2",
            at(9, 4),
            wait=30,
            outcome="voicemail",
            voicemail_recording="RE3",
            ended_at=at(9, 5),
            voicemail_called_back_at=None,
        ),
        call("x1", at(9, 6), outcome="crisis", crisis_trigger="words", crisis_rollover=True),
    ]
    report = build_report(rows, [], DAY, now=at(12))
    total = report.total
    assert (total["followups_opened"], total["followups_closed"]) == (2, 1)
    assert (total["voicemails_left"], total["voicemails_called_back"]) == (2, 1)
    assert total["voicemail_callback_mean_s"] == 600.0
    assert total["crisis_rollovers"] == 1
    assert total["crisis_to_human_p50_s"] is None
    a1 = report.agents[0].figures
    assert (a1["heavy_calls"], a1["occupancy"], a1["available_s"]) == (1, None, 0)


def test_nearest_rank_percentiles():
    values = list(range(1, 11))
    assert [percentile(values, p) for p in (10, 50, 90, 100)] == [1, 5, 9, 10]
    assert percentile([7], 90) == 7
    assert percentile([], 50) is None


def test_periods_refuse_backwards_and_overlong_spans():
    with pytest.raises(ValueError):
        Period(date(2026, 3, 2), date(2026, 3, 1), ZONE)
    with pytest.raises(ValueError):
        Period(date(2025, 1, 1), date(2026, 1, 2), ZONE)
    assert len(time_buckets(Period(date(2026, 3, 1), date(2026, 3, 3), ZONE), "day")) == 3


def test_the_reports_section_is_read_and_checked():
    assert parse_reports(None) == (ReportPolicy(), [])
    assert parse_reports({"service_level_s": 30})[0] == ReportPolicy(service_level_s=30)
    policy, problems = parse_reports({"service_level_s": "20", "extra": 1})
    assert policy == ReportPolicy()
    assert sorted(p.path for p in problems) == [
        ("reports", "extra"),
        ("reports", "service_level_s"),
    ]
