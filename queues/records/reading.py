"""Reading the call records for reports: a period's calls (of one area) and the agents' intervals
that overlap it, as plain dicts for `routing.report` to compute from.

Read-only and separate from `store.RecordStore`, which owns writing: reports only select.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from queues.records.schema import agent_intervals, calls
from queues.records.store import RecordStore
from routing.report import Period, Report, ReportPolicy, build_report


def period_calls(records: RecordStore, start: float, end: float, area: str = "") -> list[dict]:
    """The calls that arrived in [start, end), of one area when given, oldest first."""
    query = select(calls).where(calls.c.arrived_at >= start, calls.c.arrived_at < end)
    if area:
        query = query.where(calls.c.area == area)
    with records.engine.connect() as connection:
        rows = connection.execute(query.order_by(calls.c.arrived_at))
        return [dict(row._mapping) for row in rows]


def period_intervals(records: RecordStore, start: float, end: float) -> list[dict]:
    """Agents' state intervals that overlap [start, end) (open ones included), oldest first."""
    query = (
        select(agent_intervals)
        .where(
            agent_intervals.c.started_at < end,
            or_(agent_intervals.c.ended_at.is_(None), agent_intervals.c.ended_at > start),
        )
        .order_by(agent_intervals.c.started_at)
    )
    with records.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def report(
    records: RecordStore,
    period: Period,
    *,
    by: str = "day",
    area: str = "",
    policy: ReportPolicy | None = None,
    now: float,
) -> Report:
    """A period's report from the records database."""
    start, end = period.start, period.end
    rows: list[dict[str, Any]] = period_calls(records, start, end, area)
    spans = period_intervals(records, start, end)
    return build_report(rows, spans, period, by=by, area=area, policy=policy, now=now)
