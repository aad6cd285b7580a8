"""The self-check: gather what Redis, RQ and Twilio say, judge it, and keep the conditions true.

`examine` reads the facts and hands them to the pure judgements in `routing.doctor`; `hotline
doctor` prints its report. The worker runs `self_check_job` every minute: each broken check is
raised as the standing condition `self_check:<check>` (paged once, shown on the wallboard and
in /healthz) and cleared when it holds again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from redis import Redis
from redis.exceptions import RedisError, ResponseError
from rq import Queue, Worker

from queues import runtime
from queues.agents import AgentBoard
from queues.carrier_health import CONDITION as CARRIER_CONDITION
from queues.carrier_health import CarrierHealth
from queues.conditions import Conditions
from queues.hours_edits import area_hours
from queues.worker import QUEUE_NAMES
from routing import doctor
from routing.config import HotlineConfig
from routing.doctor import Finding, QueueBacklog, WorkerBeat
from routing.holidays import china_calendar
from routing.privacy import mask_text
from routing.roster import Roster, parse_roster
from telephony.demo import DEMO_ACCOUNT_SID
from telephony.gateway import Gateway, GatewayError

log = logging.getLogger(__name__)

SELF_CHECK_JOB_ID = "hotline-self-check"
SELF_CHECK_INTERVAL_S = 60
CONDITION_PREFIX = "self_check:"
# The doctor's one REST call gives up after this long: the worker runs one job at a time, and
# a crisis page must not wait behind a Twilio that does not answer.
PROBE_TIMEOUT_S = 2.0
# Jobs looked at from the head of a queue to find the oldest that still exists.
HEAD_JOBS = 10


@dataclass(frozen=True)
class Report:
    """The checks that ran and what they found; a check without a broken finding holds."""

    checked: tuple[str, ...]
    findings: tuple[Finding, ...]

    @property
    def broken(self) -> list[Finding]:
        """The promises known not to hold."""
        return [finding for finding in self.findings if finding.broken]

    def lines(self) -> list[str]:
        """What the doctor prints: broken promises first, then what it could not tell."""
        return [f.line for f in self.broken] + [f.line for f in self.findings if not f.broken]


def examine(
    redis: Redis,
    config: HotlineConfig,
    now: float,
    *,
    production: bool,
    gateway: Gateway | None = None,
    record: bool = False,
) -> Report:
    """Run every check against Redis, RQ and (with a gateway) one cheap Twilio request.

    With `record` the request counts in the carrier's health like any job's (the worker's
    self-check); without, the doctor only looks (a person's `hotline doctor` at a terminal).
    """
    moment = datetime.fromtimestamp(now, UTC)
    try:
        redis.ping()
    except RedisError as error:
        return Report((), (Finding("redis", f"redis: unreachable ({_why(error)})"),))
    steps: list[tuple[tuple[str, ...], Callable[[], list[Finding]]]] = [
        (
            (doctor.SUPERVISOR_ON_CALL, doctor.CRISIS_AGENT),
            lambda: _staffing(redis, config, moment),
        ),
        ((doctor.CRISIS_NUMBERS,), lambda: doctor.crisis_numbers(config)),
        ((doctor.CARRIER,), lambda: _carrier(redis, gateway, config, moment, record=record)),
        ((doctor.WORKERS,), lambda: doctor.workers(worker_beats(redis), QUEUE_NAMES, moment)),
        ((doctor.QUEUE_WAITS,), lambda: doctor.queue_waits(backlogs(redis, moment), moment)),
        ((doctor.REDIS_PERSISTENCE,), lambda: _persistence(redis, production=production)),
        ((doctor.HOLIDAY_DATA,), lambda: _holiday_data(redis, config, moment)),
    ]
    checked: list[str] = []
    findings: list[Finding] = []
    for checks, step in steps:
        checked += checks
        try:
            findings += step()
        except Exception as error:  # a check that cannot run is said loudly, never skipped
            log.exception("self-check %s failed", "/".join(checks))
            findings += [
                Finding(check, f"{check}: the check failed ({_why(error)})") for check in checks
            ]
    order = {check: index for index, check in enumerate(doctor.CHECKS)}
    findings.sort(key=lambda finding: order.get(finding.check, len(order)))
    return Report(tuple(sorted(checked, key=order.get)), tuple(findings))


def worker_beats(redis: Redis) -> list[WorkerBeat]:
    """The RQ workers registered on any of the hotline's queues, with their last heartbeat."""
    found = []
    for worker in Worker.all(connection=redis):
        names = tuple(worker.queue_names())
        if set(names) & set(QUEUE_NAMES):
            found.append(WorkerBeat(worker.name, names, worker.last_heartbeat))
    return found


def backlogs(redis: Redis, now: datetime) -> list[QueueBacklog]:
    """Each hotline queue's oldest job and its scheduled jobs whose time has come."""
    found = []
    for name in QUEUE_NAMES:
        queue = Queue(name, connection=redis)
        oldest = None
        for job_id in queue.get_job_ids(0, HEAD_JOBS):
            job = queue.fetch_job(job_id)
            if job is not None and job.enqueued_at is not None:
                oldest = job.enqueued_at
                break
        registry = queue.scheduled_job_registry
        due = registry.get_jobs_to_schedule(int(now.timestamp()))
        earliest = registry.get_scheduled_time(due[0]) if due else None
        found.append(QueueBacklog(name, queue.count, oldest, len(due), earliest))
    return found


def _staffing(redis: Redis, config: HotlineConfig, now: datetime) -> list[Finding]:
    """The roster as last imported against the areas' effective hours for the coming day."""
    text = AgentBoard(redis, config.routing).roster_text()
    roster = None
    if text is not None:
        # A stored roster that no longer reads raises, and the check says it failed.
        roster = _read_roster(text, tuple(config.areas), tuple(config.languages))
    hours = {area: area_hours(redis, config, area) for area in config.areas}
    return doctor.staffing(roster, hours, now, ZoneInfo(config.timezone))


@lru_cache(maxsize=1)
def _read_roster(text: str, area_ids: tuple[str, ...], languages: tuple[str, ...]) -> Roster:
    """The stored roster, read once per text in a process: YAML takes most of a self-check."""
    return parse_roster(
        text, source="roster.yaml", area_ids=area_ids, languages=languages, accepted=True
    )


def _carrier(
    redis: Redis,
    gateway: Gateway | None,
    config: HotlineConfig,
    now: datetime,
    *,
    record: bool,
) -> list[Finding]:
    """The doctor's own cheap REST call, and the carrier condition the jobs' calls keep."""
    probe_error = None
    if gateway is not None:
        health = CarrierHealth(redis)
        try:
            gateway.check_reachable()
        except GatewayError as error:
            probe_error = _gateway_trouble(error, gateway.timeout)
            if record:
                health.failed(error, now.timestamp())
        else:
            # On a quiet line no other job calls Twilio: this request is what clears the
            # condition once the carrier is back.
            if record:
                health.reached(now.timestamp())
    standing = Conditions(redis).get(CARRIER_CONDITION)
    since = None
    if standing is not None:
        since = datetime.fromtimestamp(standing.since, ZoneInfo(config.timezone))
    return doctor.carrier(
        standing=standing.detail if standing is not None else None,
        since=since,
        probe_error=probe_error,
    )


def _persistence(redis: Redis, *, production: bool) -> list[Finding]:
    """Ask Redis how it keeps its data; a server that refuses CONFIG cannot tell."""
    if not production:
        return doctor.redis_persistence(None, production=False)
    try:
        settings = {**redis.config_get("appendonly"), **redis.config_get("save")}
    except ResponseError as error:
        return doctor.redis_persistence(None, production=True, refused=str(error))
    return doctor.redis_persistence(
        {str(key): str(value) for key, value in settings.items()}, production=True
    )


def _holiday_data(redis: Redis, config: HotlineConfig, now: datetime) -> list[Finding]:
    """The holiday calendar the areas' hours follow must know the coming days."""
    rules = [
        hours.holidays
        for hours in (area_hours(redis, config, area) for area in config.areas)
        if hours.holidays is not None
    ]
    calendar = rules[0].calendar if rules else china_calendar()
    return doctor.holiday_data(calendar, now, ZoneInfo(config.timezone))


def settle(conditions: Conditions, report: Report, now: float) -> list[str]:
    """Raise `self_check:<check>` for each broken check and clear those that hold; the raised."""
    raised = []
    for check in report.checked:
        lines = [
            finding.line
            for finding in report.broken
            if finding.check == check and finding.standing is None
        ]
        name = CONDITION_PREFIX + check
        if lines:
            conditions.raise_condition(name, "; ".join(lines), now)
            raised.append(name)
        else:
            conditions.clear(name, now)
    return raised


def is_production(gateway: Gateway) -> bool:
    """Tell whether the hotline runs on a real Twilio account (not demo mode)."""
    return gateway.account_sid != DEMO_ACCOUNT_SID


def probe_gateway(gateway: Gateway) -> Gateway:
    """A gateway like the runtime's that gives up quickly, for the self-check's one request."""
    return Gateway(
        gateway.account_sid,
        gateway.auth_token,
        gateway.base_url,
        gateway.hotline_number,
        timeout=PROBE_TIMEOUT_S,
    )


def self_check_job() -> int:
    """Run every check, raise or clear the conditions, schedule the next run; how many broke."""
    rt = runtime.current()
    try:
        report = examine(
            rt.redis,
            rt.config,
            rt.now(),
            production=is_production(rt.gateway),
            gateway=probe_gateway(rt.gateway),
            record=True,
        )
        settle(Conditions(rt.redis), report, rt.now())
    finally:
        # A run that failed (a Redis hiccup) must not end the runs that follow it.
        schedule_self_check(rt.redis)
    return len(report.broken)


def schedule_self_check(redis: Redis, delay_s: int = SELF_CHECK_INTERVAL_S) -> None:
    """Schedule the next self-check; one fixed job id keeps a single run in the schedule."""
    # On the least urgent queue: rings and crisis pages go first.
    Queue("default", connection=redis).enqueue_in(
        timedelta(seconds=delay_s), self_check_job, job_id=SELF_CHECK_JOB_ID
    )


def _gateway_trouble(error: GatewayError, timeout: float) -> str:
    """A short reason for a failed REST request: Twilio's status, or how the request failed."""
    # No message, URL or number: the line is paged to supervisors' phones.
    if error.status is not None:
        return f"HTTP {error.status}, code {error.code}"
    cause = type(error.__cause__).__name__ if error.__cause__ is not None else "no answer"
    return f"{cause}, timeout {timeout:g} s"


def _why(error: BaseException) -> str:
    """An exception as one short line, phone numbers masked (it may be paged)."""
    text = mask_text(" ".join(str(error).split()))[:160]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
