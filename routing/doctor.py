"""The self-check's judgements: from facts gathered elsewhere, which promises do not hold.

Every function here takes facts (the config, the holiday calendar, what RQ and Redis said,
`now`) and returns findings, one line each a supervisor can act on, and none when the promise
holds. `queues.doctor` gathers the facts; `hotline doctor` prints the lines and the worker
raises each broken check as a standing condition `self_check:<check>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from routing.config import HotlineConfig
from routing.coverage import NO_CRISIS_AGENT, NO_SUPERVISOR, format_stretch, staffing_gaps
from routing.holidays import HolidayCalendar
from routing.hours import WeeklyHours
from routing.roster import Roster

BROKEN = "broken"
# The doctor could not tell, and nothing on this side can make it tell (a managed Redis that
# refuses CONFIG): said on every run, but no failure and no page.
UNKNOWN = "unknown"

# The checks, in the order the doctor prints them; a broken one is raised as self_check:<name>.
SUPERVISOR_ON_CALL = "supervisor_on_call"
CRISIS_AGENT = "crisis_agent_on_shift"
CRISIS_NUMBERS = "crisis_numbers"
CARRIER = "carrier"
WORKERS = "workers"
QUEUE_WAITS = "queue_waits"
REDIS_PERSISTENCE = "redis_persistence"
HOLIDAY_DATA = "holiday_data"
CHECKS = (
    SUPERVISOR_ON_CALL,
    CRISIS_AGENT,
    CRISIS_NUMBERS,
    CARRIER,
    WORKERS,
    QUEUE_WAITS,
    REDIS_PERSISTENCE,
    HOLIDAY_DATA,
)

# The roster is checked for the coming day: far enough to fix a gap before it opens.
ROSTER_HORIZON = timedelta(hours=24)
# Callers hear holidays in the closed message and callbacks wait for the next opening: the
# calendar must know the coming quarter.
HOLIDAY_HORIZON_DAYS = 90
# How long a job may wait in each queue before a promise slips: a crisis page and an agent's
# ring are meant to go out within a second or two; a voicemail's processing and the sweeps on
# the default queue may wait longer without anyone noticing.
QUEUE_LIMITS_S: Mapping[str, float] = {
    "crisis": 5.0,
    "dispatch": 5.0,
    "voicemail": 300.0,
    "default": 60.0,
}
# A worker beats after every job and the routing sweep is a job every 2 s, so a worker that
# runs jobs beats every few seconds; an idle second worker beats only every ~7 minutes (RQ's
# dequeue timeout), which is why only the freshest beat on each queue counts.
WORKER_STALE_S = 120.0


@dataclass(frozen=True)
class Finding:
    """One promise that does not hold (or cannot be told), as one line."""

    check: str
    line: str
    status: str = BROKEN
    # The condition someone else already raised for the same trouble (the dispatch jobs'
    # carrier_unreachable): shown by the doctor, not raised a second time by the self-check.
    standing: str | None = None

    @property
    def broken(self) -> bool:
        """Tell whether this finding is a promise known not to hold."""
        return self.status == BROKEN


@dataclass(frozen=True)
class WorkerBeat:
    """An RQ worker as its registration says: the queues it listens on and its last heartbeat."""

    name: str
    queues: tuple[str, ...]
    last_heartbeat: datetime | None


@dataclass(frozen=True)
class QueueBacklog:
    """One RQ queue: its oldest waiting job and its scheduled jobs whose time has come."""

    queue: str
    queued: int = 0
    # When the oldest job still in the queue was put there.
    oldest: datetime | None = None
    # Scheduled jobs (retries, sweeps, callbacks) past their time and not yet moved to the queue.
    due: int = 0
    earliest_due: datetime | None = None


def staffing(
    roster: Roster | None,
    hours: Mapping[str, WeeklyHours],
    now: datetime,
    zone: tzinfo,
    *,
    horizon: timedelta = ROSTER_HORIZON,
) -> list[Finding]:
    """Someone is on call every hour of the coming day, and whenever an area is open (its
    effective hours, holidays included) a crisis-trained agent is on shift."""
    if roster is None:
        return [
            Finding(SUPERVISOR_ON_CALL, "no supervisor on call: no roster has been imported"),
            Finding(CRISIS_AGENT, "no crisis-trained agent on shift: no roster has been imported"),
        ]
    start = now.astimezone(zone)
    # Shifts without holiday rules: the router puts agents on shift by their weekly shifts.
    gaps = staffing_gaps(roster, hours, start, start + horizon)
    found = [
        Finding(SUPERVISOR_ON_CALL, f"no supervisor on call {format_stretch(gap.start, gap.end)}")
        for gap in gaps
        if gap.kind == NO_SUPERVISOR
    ]
    # One line per stretch, naming every area open in it with nobody to take a crisis call.
    areas_by_stretch: dict[tuple[datetime, datetime], list[str]] = {}
    for gap in gaps:
        if gap.kind == NO_CRISIS_AGENT:
            areas_by_stretch.setdefault((gap.start, gap.end), []).append(gap.area or "")
    found += [
        Finding(
            CRISIS_AGENT,
            f"no crisis-trained agent on shift {format_stretch(*stretch)} while open: "
            f"{', '.join(areas)}",
        )
        for stretch, areas in areas_by_stretch.items()
    ]
    return found


def crisis_numbers(config: HotlineConfig) -> list[Finding]:
    """Every language the hotline speaks needs a crisis line, and there must be a fallback."""
    found = [
        Finding(
            CRISIS_NUMBERS,
            f"crisis numbers: none for {language} callers (crisis.numbers.{language}): "
            "the crisis path has no line to roll over to",
        )
        for language in config.languages
        if not (config.crisis.numbers.get(language) or "").strip()
    ]
    if not config.crisis.fallback.strip():
        found.append(
            Finding(CRISIS_NUMBERS, "crisis numbers: no fallback line (crisis.numbers.fallback)")
        )
    return found


def carrier(
    *, standing: str | None = None, since: datetime | None = None, probe_error: str | None = None
) -> list[Finding]:
    """The carrier is unreachable when dispatch says so or the doctor's own request failed."""
    found = []
    if standing is not None:
        when = f" since {since:%Y-%m-%d %H:%M %Z}" if since is not None else ""
        found.append(
            Finding(
                CARRIER,
                f"carrier: unreachable{when} (carrier_unreachable): {standing}",
                standing="carrier_unreachable",
            )
        )
    if probe_error is not None:
        # While the dispatch jobs' condition stands, a failed request is the trouble it pages.
        found.append(
            Finding(
                CARRIER,
                f"carrier: the Twilio REST API did not answer ({probe_error})",
                standing="carrier_unreachable" if standing is not None else None,
            )
        )
    return found


def workers(
    beats: Sequence[WorkerBeat],
    queues: Sequence[str],
    now: datetime,
    *,
    stale_after_s: float = WORKER_STALE_S,
) -> list[Finding]:
    """Each of the hotline's queues needs a worker listening with a recent heartbeat."""
    if not beats:
        return [
            Finding(
                WORKERS,
                f"workers: no RQ worker is registered on {', '.join(queues)}: no ring, page, "
                "voicemail or sweep job runs (start `hotline worker`)",
            )
        ]
    unheard = [queue for queue in queues if not any(queue in beat.queues for beat in beats)]
    stale: dict[str, float | None] = {}
    for queue in queues:
        if queue in unheard:
            continue
        freshest = max(
            (b.last_heartbeat for b in beats if queue in b.queues and b.last_heartbeat),
            default=None,
        )
        age = (now - freshest).total_seconds() if freshest is not None else None
        if age is None or age > stale_after_s:
            stale[queue] = age
    found = []
    if unheard:
        found.append(Finding(WORKERS, f"workers: no worker listens on {', '.join(unheard)}"))
    if stale:
        ages = [age for age in stale.values() if age is not None]
        last = f"; the freshest was {max(ages):.0f} s ago" if ages else ""
        found.append(
            Finding(
                WORKERS,
                f"workers: no heartbeat within {stale_after_s:.0f} s from any worker on "
                f"{', '.join(stale)}{last} (a stuck or dead worker)",
            )
        )
    return found


def queue_waits(
    backlogs: Iterable[QueueBacklog],
    now: datetime,
    *,
    limits: Mapping[str, float] = QUEUE_LIMITS_S,
) -> list[Finding]:
    """No job may wait longer than its queue allows, queued or scheduled and overdue."""
    found = []
    for backlog in backlogs:
        limit = limits.get(backlog.queue, max(limits.values()))
        if backlog.oldest is not None:
            waited = (now - backlog.oldest).total_seconds()
            if waited > limit:
                found.append(
                    Finding(
                        QUEUE_WAITS,
                        f"queue {backlog.queue}: the oldest of {backlog.queued} job(s) has "
                        f"waited {waited:.0f} s (limit {limit:.0f} s)",
                    )
                )
        if backlog.earliest_due is not None:
            late = (now - backlog.earliest_due).total_seconds()
            if late > limit:
                found.append(
                    Finding(
                        QUEUE_WAITS,
                        f"queue {backlog.queue}: {backlog.due} scheduled job(s) overdue, the "
                        f"first by {late:.0f} s (limit {limit:.0f} s; is a worker's scheduler "
                        "running?)",
                    )
                )
    return found


def redis_persistence(
    settings: Mapping[str, str] | None, *, production: bool, refused: str | None = None
) -> list[Finding]:
    """In production Redis must keep its data over a restart (AOF or RDB snapshots)."""
    if not production:
        # Demo mode's embedded Redis is a scratch store by design.
        return []
    if settings is None:
        return [
            Finding(
                REDIS_PERSISTENCE,
                f"redis persistence: cannot tell, the server refused CONFIG GET ({refused}); "
                "check with the provider that AOF or snapshots are on",
                status=UNKNOWN,
            )
        ]
    aof = settings.get("appendonly", "").strip().lower() == "yes"
    snapshots = bool(settings.get("save", "").strip())
    if aof or snapshots:
        return []
    return [
        Finding(
            REDIS_PERSISTENCE,
            'redis persistence: off (appendonly no, save ""): a restart loses waiting callers, '
            "voicemail records, the roster and the audit log",
        )
    ]


def holiday_data(
    calendar: HolidayCalendar,
    now: datetime,
    zone: tzinfo,
    *,
    days: int = HOLIDAY_HORIZON_DAYS,
) -> list[Finding]:
    """The holiday calendar must know every date of the coming days."""
    first = now.astimezone(zone).date()
    last = first + timedelta(days=days)
    if calendar.covers(first) and calendar.covers(last):
        return []
    unknown_from = first if not calendar.covers(first) else date(calendar.last_year + 1, 1, 1)
    return [
        Finding(
            HOLIDAY_DATA,
            f"holiday data: the calendar (chinese-calendar) knows {calendar.first_year} to "
            f"{calendar.last_year} only; {unknown_from} to {last} follow the weekly hours, "
            "public holidays and make-up days unknown (update the chinese-calendar package)",
        )
    ]
