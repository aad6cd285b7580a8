"""Report figures from call records: offered, answered, service level, waits, callbacks, voicemail,
satisfaction, crisis and agents, per half-hour, hour, day, week, agent or area.

Each figure is defined in docs/reports.md the way contact centres define it; the code below
follows those definitions and says which calls each one counts. Rows come in as plain mappings
(the columns of `call_records` and `agent_intervals`), so the figures can be checked by hand.

A figure nothing in the rows can tell is None ("not recorded"), never 0: a rate over no calls,
and facts the records do not keep yet (heavy calls, crisis rollovers, follow-ups closed, a
voicemail's callback), which a row may carry as `heavy`, `crisis_rollover`, `followup_closed`
and `voicemail_called_back_at` once they are recorded.

Pure: no clock, no I/O; the period, the time zone and `now` come in.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from routing.problems import Problem
from routing.spreadsheet import SafeDictWriter

# How a report can be cut: time buckets in the hotline's time zone, or one bucket per agent/area.
TIME_BUCKETS = ("half-hour", "hour", "day", "week")
BUCKETS = (*TIME_BUCKETS, "agent", "area")
# The longest period one report covers (a year and a leap day).
MAX_DAYS = 366
# The presence in which an agent is logged in and can take calls: occupancy's denominator.
AVAILABLE = "available"
# The label of calls no agent took, in a report by agent.
NO_AGENT = ""


@dataclass(frozen=True)
class ReportPolicy:
    """The `reports:` section of the hotline config."""

    # A call answered within this many seconds of queueing is within the service level.
    service_level_s: int = 20
    # A caller who hangs up sooner than this is a short abandon (a wrong number, a misdial):
    # counted apart, and left out of service level and abandon rate.
    short_abandon_s: int = 5


# Each setting's bounds (inclusive).
_POLICY_FIELDS = {"service_level_s": (1, 3600), "short_abandon_s": (0, 60)}
_EXPECTED = ", ".join(_POLICY_FIELDS)


def parse_reports(data: object) -> tuple[ReportPolicy, list[Problem]]:
    """Read the optional `reports:` section; every problem is returned, with the defaults."""
    path = ("reports",)
    if data is None:
        return ReportPolicy(), []
    if not isinstance(data, dict):
        return ReportPolicy(), [Problem(path, "expected a mapping")]
    problems = [
        Problem((*path, str(extra)), f"unknown reports setting; expected {_EXPECTED}")
        for extra in sorted(set(map(str, data)) - set(_POLICY_FIELDS))
    ]
    values: dict[str, int] = {}
    for name, (low, high) in _POLICY_FIELDS.items():
        value = data.get(name, getattr(ReportPolicy, name))
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append(Problem((*path, name), f"expected a whole number from {low} to {high}"))
        else:
            values[name] = value
    if problems:
        return ReportPolicy(), problems
    return ReportPolicy(**values), []


# --- the figures ----------------------------------------------------------------------------------

# Every figure of a bucket, in the order tables, CSV and JSON give them. docs/reports.md
# defines each one.
FIGURES = (
    "arrived",
    "offered",
    "answered",
    "answer_rate",
    "service_level",
    "abandoned",
    "short_abandoned",
    "abandon_rate",
    "asa_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_max_s",
    "talk_mean_s",
    "wrap_up_mean_s",
    "callbacks_requested",
    "callbacks_completed",
    "voicemails_left",
    "voicemails_called_back",
    "voicemail_callback_mean_s",
    "rated",
    "satisfied_share",
    "followups_opened",
    "followups_closed",
    "crisis_triggers",
    "crisis_to_human_p50_s",
    "crisis_to_human_max_s",
    "crisis_rollovers",
)
AGENT_FIGURES = (
    "handled",
    "talk_s",
    "talk_mean_s",
    "wrap_up_s",
    "wrap_up_mean_s",
    "heavy_calls",
    "available_s",
    "occupancy",
)


@dataclass(frozen=True)
class Period:
    """The local dates a report covers, first and last included, in the hotline's time zone."""

    first: date
    last: date
    timezone: str

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the period ends before it starts")
        if (self.last - self.first).days + 1 > MAX_DAYS:
            raise ValueError(f"a report covers at most {MAX_DAYS} days")
        # Epoch seconds (and a day after the last) must exist for the dates.
        if self.first.year < 1971 or self.last.year > 9998:
            raise ValueError("dates must be from 1971 to 9998")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def start(self) -> float:
        """The period's first instant (epoch seconds): the first date's local midnight."""
        return datetime.combine(self.first, time(), self.zone).timestamp()

    @property
    def end(self) -> float:
        """The instant after the period (epoch seconds): the local midnight after the last date."""
        return datetime.combine(self.last + timedelta(days=1), time(), self.zone).timestamp()


@dataclass(frozen=True)
class Bucket:
    """One row of a report: its label and its figures by name."""

    key: str
    figures: dict[str, Any]


@dataclass(frozen=True)
class Report:
    """A period's figures: in total, per bucket, and per agent."""

    period: Period
    by: str
    area: str
    policy: ReportPolicy
    total: dict[str, Any]
    buckets: list[Bucket]
    agents: list[Bucket] = field(default_factory=list)
    # Calls per outcome code given at wrap-up over the whole period (the codes are the config's).
    outcomes: dict[str, int] = field(default_factory=dict)


def build_report(
    calls: Iterable[Mapping[str, Any]],
    intervals: Iterable[Mapping[str, Any]],
    period: Period,
    *,
    by: str = "day",
    area: str = "",
    policy: ReportPolicy | None = None,
    now: float,
) -> Report:
    """The report of the calls that arrived in the period (of one area when given).

    Calls outside the period or area are left out here too, so a caller may pass a wider set.
    Agents' intervals are clipped to the period and to `now` (an open interval runs until now).
    """
    if by not in BUCKETS:
        raise ValueError(f"by must be one of {', '.join(BUCKETS)}")
    policy = policy or ReportPolicy()
    start, end = period.start, period.end
    kept = [
        row
        for row in calls
        if start <= row["arrived_at"] < end and (not area or row.get("area") == area)
    ]
    grouped: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in kept:
        grouped[_bucket_key(row, by, period.zone)].append(row)
    keys = time_buckets(period, by) if by in TIME_BUCKETS else sorted(grouped)
    buckets = [Bucket(key, call_figures(grouped.get(key, []), policy)) for key in keys]
    spans = list(intervals)
    agent_names = sorted({row.get("agent") or NO_AGENT for row in kept} - {NO_AGENT})
    agents = [
        Bucket(name, agent_figures(name, kept, spans, start, min(end, now))) for name in agent_names
    ]
    total = call_figures(kept, policy)
    return Report(period, by, area, policy, total, buckets, agents, outcome_counts(kept))


def call_figures(rows: Sequence[Mapping[str, Any]], policy: ReportPolicy) -> dict[str, Any]:
    """Every call figure of a set of calls, as docs/reports.md defines them."""
    offered = [r for r in rows if r.get("queued_at") is not None]
    answered = [r for r in offered if r.get("answered_at") is not None]
    gave_up = [r for r in offered if r.get("outcome") == "abandoned"]
    short = [r for r in gave_up if (r.get("wait_s") or 0) < policy.short_abandon_s]
    abandoned = [r for r in gave_up if (r.get("wait_s") or 0) >= policy.short_abandon_s]
    counted = len(offered) - len(short)
    waits = sorted(r["wait_s"] for r in answered if r.get("wait_s") is not None)
    in_time = sum(1 for r in answered if (r.get("wait_s") or 0) <= policy.service_level_s)
    callbacks = [r for r in rows if r.get("callback")]
    voicemails = [r for r in rows if r.get("voicemail_recording")]
    called_back = [r for r in voicemails if r.get("voicemail_called_back_at") is not None]
    rated = [r for r in rows if r.get("rating") in (1, 2)]
    unsatisfied = [r for r in rated if r["rating"] == 2]
    crises = [r for r in rows if r.get("crisis_trigger")]
    to_human = sorted(
        r["crisis_to_human_s"] for r in crises if r.get("crisis_to_human_s") is not None
    )
    return {
        "arrived": len(rows),
        "offered": len(offered),
        "answered": len(answered),
        "answer_rate": _share(len(answered), len(offered)),
        "service_level": _share(in_time, counted),
        "abandoned": len(abandoned),
        "short_abandoned": len(short),
        "abandon_rate": _share(len(abandoned), counted),
        "asa_s": _mean(waits),
        "wait_p50_s": percentile(waits, 50),
        "wait_p90_s": percentile(waits, 90),
        "wait_max_s": waits[-1] if waits else None,
        "talk_mean_s": _mean([r["talk_s"] for r in answered if r.get("talk_s") is not None]),
        "wrap_up_mean_s": _mean(
            [r["wrap_up_s"] for r in answered if r.get("wrap_up_s") is not None]
        ),
        "callbacks_requested": len(callbacks),
        "callbacks_completed": sum(1 for r in callbacks if r["callback"] == "connected"),
        "voicemails_left": len(voicemails),
        "voicemails_called_back": _known_count(voicemails, "voicemail_called_back_at", called_back),
        "voicemail_callback_mean_s": _mean(
            [r["voicemail_called_back_at"] - _left_at(r) for r in called_back]
        ),
        "rated": len(rated),
        "satisfied_share": _share(len(rated) - len(unsatisfied), len(rated)),
        "followups_opened": len(unsatisfied),
        "followups_closed": _known_count(
            unsatisfied, "followup_closed", [r for r in unsatisfied if r.get("followup_closed")]
        ),
        "crisis_triggers": len(crises),
        "crisis_to_human_p50_s": percentile(to_human, 50),
        "crisis_to_human_max_s": to_human[-1] if to_human else None,
        "crisis_rollovers": _known_count(
            crises, "crisis_rollover", [r for r in crises if r.get("crisis_rollover")]
        ),
    }


def outcome_counts(rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """How many calls were given each outcome code at wrap-up (calls without one left out)."""
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.get("wrap_up_outcome"):
            counts[row["wrap_up_outcome"]] += 1
    return dict(sorted(counts.items()))


def agent_figures(
    agent: str,
    rows: Sequence[Mapping[str, Any]],
    intervals: Sequence[Mapping[str, Any]],
    start: float,
    end: float,
) -> dict[str, Any]:
    """An agent's calls handled, talk and wrap-up, heavy calls and occupancy in [start, end)."""
    handled = [r for r in rows if r.get("agent") == agent and r.get("answered_at") is not None]
    talks = [r["talk_s"] for r in handled if r.get("talk_s") is not None]
    wraps = [r["wrap_up_s"] for r in handled if r.get("wrap_up_s") is not None]
    available = sum(
        _overlap(span["started_at"], span.get("ended_at"), start, end)
        for span in intervals
        if span.get("agent") == agent and span.get("state") == AVAILABLE
    )
    busy = sum(talks) + sum(wraps)
    return {
        "handled": len(handled),
        "talk_s": _round(sum(talks)),
        "talk_mean_s": _mean(talks),
        "wrap_up_s": _round(sum(wraps)),
        "wrap_up_mean_s": _mean(wraps),
        "heavy_calls": _known_count(handled, "heavy", [r for r in handled if r.get("heavy")]),
        "available_s": _round(available),
        # Above 1 only when calls ran past a presence change: said as it is, not capped.
        "occupancy": _share(busy, available) if available > 0 else None,
    }


def percentile(values: Sequence[float], p: float) -> float | None:
    """The nearest-rank percentile of sorted values: the smallest with p % of values at or below."""
    if not values:
        return None
    rank = max(math.ceil(p / 100 * len(values)), 1)
    return values[rank - 1]


# --- buckets -------------------------------------------------------------------------------------


def time_buckets(period: Period, by: str) -> list[str]:
    """Every time bucket's label in the period, in order, empty ones included (for charts)."""
    if by == "week":
        monday = period.first - timedelta(days=period.first.weekday())
        count = (period.last - monday).days // 7 + 1
        return [(monday + timedelta(weeks=n)).isoformat() for n in range(count)]
    days = [period.first + timedelta(days=n) for n in range((period.last - period.first).days + 1)]
    if by == "day":
        return [day.isoformat() for day in days]
    step = 30 if by == "half-hour" else 60
    return [
        f"{day.isoformat()} {minute // 60:02d}:{minute % 60:02d}"
        for day in days
        for minute in range(0, 24 * 60, step)
    ]


def _bucket_key(row: Mapping[str, Any], by: str, zone: ZoneInfo) -> str:
    """The label of the bucket a call falls in."""
    if by == "agent":
        return row.get("agent") or NO_AGENT
    if by == "area":
        return row.get("area") or ""
    local = datetime.fromtimestamp(row["arrived_at"], zone)
    if by == "day":
        return local.date().isoformat()
    if by == "week":
        return (local.date() - timedelta(days=local.weekday())).isoformat()
    minute = local.minute - local.minute % 30 if by == "half-hour" else 0
    return f"{local.date().isoformat()} {local.hour:02d}:{minute:02d}"


# --- arithmetic ----------------------------------------------------------------------------------


def _share(part: float, whole: float) -> float | None:
    """part / whole to four places; None over nothing."""
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    """The mean to a tenth of a second; None of nothing."""
    return _round(sum(values) / len(values)) if values else None


def _round(value: float) -> float:
    """Seconds to a tenth: finer than any figure is read at, and stable in CSV."""
    return round(value, 1)


def _known_count(rows: Sequence[Mapping[str, Any]], fact: str, hits: Sequence[Any]) -> int | None:
    """How many rows have a fact; None when rows exist but none records the fact at all."""
    if rows and not any(fact in r for r in rows):
        return None
    return len(hits)


def _left_at(row: Mapping[str, Any]) -> float:
    """When a voicemail was left: the call's end, else its arrival."""
    return row.get("ended_at") or row["arrived_at"]


def _overlap(first: float, last: float | None, start: float, end: float) -> float:
    """Seconds an interval [first, last) (open: until end) shares with [start, end)."""
    stop = end if last is None else min(last, end)
    return max(stop - max(first, start), 0.0)


# --- what a report is written as -----------------------------------------------------------------

# The figures a table (and the console's chart) shows per bucket; CSV and JSON carry them all.
HEADLINE = (
    "offered",
    "answered",
    "answer_rate",
    "service_level",
    "abandoned",
    "asa_s",
    "wait_p90_s",
)
TOTAL = "total"
# A spreadsheet (Excel above all) reads UTF-8 only after this mark: Chinese labels stay intact.
BOM = "\ufeff"


def bucket_rows(report: Report) -> list[dict[str, Any]]:
    """The report's buckets then its total, one flat row each (by agent: with agent figures)."""
    agents = {b.key: b.figures for b in report.agents}
    rows = []
    for bucket in report.buckets:
        row = {"bucket": bucket.key, **bucket.figures}
        if report.by == "agent":
            row.update(agents.get(bucket.key, dict.fromkeys(AGENT_FIGURES)))
        rows.append(row)
    total = {"bucket": TOTAL, **report.total}
    if report.by == "agent":
        total.update(dict.fromkeys(AGENT_FIGURES))
    return [*rows, total]


def columns(report: Report) -> list[str]:
    """The CSV's columns: the bucket, every figure, and by agent the agent figures too."""
    extra = [f for f in AGENT_FIGURES if f not in FIGURES] if report.by == "agent" else []
    return ["bucket", *FIGURES, *extra]


def report_csv(report: Report) -> str:
    """The report as CSV: UTF-8 with a BOM, every cell safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = SafeDictWriter(out, fieldnames=columns(report), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(bucket_rows(report))
    return BOM + out.getvalue()


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON: the period and settings, the total, each bucket, each agent."""
    return {
        "from": report.period.first.isoformat(),
        "to": report.period.last.isoformat(),
        "timezone": report.period.timezone,
        "by": report.by,
        "area": report.area or None,
        "service_level_s": report.policy.service_level_s,
        "short_abandon_s": report.policy.short_abandon_s,
        "total": report.total,
        "buckets": [{"bucket": b.key, **b.figures} for b in report.buckets],
        "agents": [{"agent": b.key, **b.figures} for b in report.agents],
        "outcomes": report.outcomes,
    }


def report_table(report: Report) -> str:
    """The report as text: the headline figures per bucket, the total, and the agents."""
    head = ["bucket", *HEADLINE]
    rows = [[figure_text(name, r[name]) for name in head] for r in bucket_rows(report)]
    lines = [_table(head, rows)]
    if report.agents:
        agent_head = ["agent", *AGENT_FIGURES]
        agent_rows = [
            [b.key or "—", *(figure_text(n, b.figures[n]) for n in AGENT_FIGURES)]
            for b in report.agents
        ]
        lines.append(_table(agent_head, agent_rows))
    detail = [[name, figure_text(name, report.total[name])] for name in FIGURES]
    detail += [[f"outcome {code}", str(n)] for code, n in report.outcomes.items()]
    lines.append(_table(["figure", TOTAL], detail))
    return "\n\n".join(lines) + "\n"


# Figures that are shares of a whole, shown as per cent in tables and charts.
SHARES = frozenset({"answer_rate", "service_level", "abandon_rate", "satisfied_share", "occupancy"})


def figure_text(name: str, value: Any) -> str:
    """A figure as people read it: "—" when not known, shares in per cent, seconds to a tenth."""
    if value is None:
        return "—"
    if name in SHARES:
        return f"{value * 100:.1f} %"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, numbers right-aligned."""
    text = [list(head), *rows]
    widths = [max(len(row[i]) for row in text) for i in range(len(head))]
    return "\n".join(
        "  ".join(
            cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ).rstrip()
        for row in text
    )
