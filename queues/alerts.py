"""Crisis alerts and escalations: supervisors paged by SMS, agents bringing in help.

Any trigger (the danger key, crisis words, an agent's flag, a voicemail's words) goes through
`open_crisis`: it records the incident and raises one alert per call, whatever the number of
triggers. The page itself is an RQ job on the `crisis` queue, so the caller's path never waits
for it, and a job that fails on a retryable error is tried again without paging anyone twice.
Voicemail pages (urgent messages, a full disk) go the same way; each kind of alert says in its
own words what it is (`alert_kind`, `alert_text`), and a caller's number only ever masked.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Retry

from queues import events, keys, runtime
from queues.calls import CallStore
from queues.carrier_health import CarrierHealth
from queues.incidents import IncidentLog
from routing.privacy import mask_number
from routing.problems import ProblemsError
from routing.roster import Roster, Supervisor, on_call, parse_roster
from telephony.gateway import GatewayError

log = logging.getLogger(__name__)

QUEUE = "crisis"
# Retries of a page after a retryable gateway error: quick at first, a crisis cannot wait.
RETRY_INTERVALS_S = [1, 2, 5, 10, 30]
# Alert records are kept for the consoles and reviews of the week.
ALERT_TTL_S = 7 * 24 * 3600
MAX_ALERTS = 10_000
# An agent's escalation of one call to one target is done once; a second press changes nothing.
ESCALATION_TTL_S = 6 * 3600
TARGETS = ("supervisor", "crisis_line")
# Each kind of alert as its SMS names it (Mandarin, English). A trigger not named here comes
# from the crisis path of a live call (the danger key, crisis words, an agent's flag).
CRISIS_CALL = "crisis_call"
ALERT_TRIGGERS = {
    "voicemail": "crisis_voicemail",
    "voicemail-urgent": "urgent_voicemail",
    "voicemail-disk_full": "storage_full",
}
ALERT_NAMES = {
    CRISIS_CALL: ("危机来电", "Crisis call"),
    "crisis_voicemail": ("危机留言", "Crisis voicemail"),
    "urgent_voicemail": ("紧急留言", "Urgent voicemail"),
    "storage_full": ("留言存储已满", "Voicemail storage full"),
    "voicemail_alert": ("留言系统警报", "Voicemail alert"),
    "condition": ("系统警报", "Hotline condition"),
}
# The kinds about a person in danger: they belong to an incident record, the others do not.
CRISIS_KINDS = frozenset({CRISIS_CALL, "crisis_voicemail"})


@dataclass(frozen=True)
class Escalation:
    """What an agent's escalation did: who was added to the call, and whether it was new."""

    call_sid: str
    target: str
    added: str
    number: str
    changed: bool
    reason: str = ""


class EscalationError(Exception):
    """An escalation that cannot be done, with the HTTP status that says why."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def open_crisis(
    redis: Redis,
    call_sid: str,
    *,
    trigger: str,
    language: str,
    now: float,
    said: str = "",
    by: str = "",
    page: bool = True,
) -> bool:
    """Open a crisis from any trigger: the incident record and one alert per call."""
    IncidentLog(redis).open(call_sid, trigger=trigger, language=language, said=said, by=by, now=now)
    return raise_alert(redis, call_sid, trigger=trigger, language=language, now=now, page=page)


def raise_alert(
    redis: Redis, call_sid: str, *, trigger: str, language: str, now: float, page: bool = True
) -> bool:
    """Record an alert for consoles and queue the page, once per call; False for a repeat."""
    key = keys.crisis_alert(call_sid)
    # The first trigger of a call creates the alert; every later one finds it and stops here.
    if not redis.hsetnx(key, "opened_at", repr(now)):
        return False
    pipe = redis.pipeline()
    pipe.hset(key, mapping={"trigger": trigger, "language": language, "state": "new"})
    pipe.expire(key, ALERT_TTL_S)
    pipe.xadd(
        keys.crisis_alerts(),
        {"call": call_sid, "trigger": trigger, "language": language, "at": f"{now:.3f}"},
        maxlen=MAX_ALERTS,
        approximate=True,
    )
    kind = alert_kind(trigger)
    events.append(
        redis, _event(kind, "alert"), pipeline=pipe, call=call_sid, trigger=trigger, alert=kind
    )
    pipe.execute()
    if page:
        # Enqueueing is one Redis write; no worker is waited for.
        Queue(QUEUE, connection=redis).enqueue(
            page_supervisors,
            call_sid,
            job_id=f"crisis-page-{call_sid}",
            retry=Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
            result_ttl=3600,
        )
    return True


def recent_alerts(redis: Redis, count: int = 50) -> list[dict[str, Any]]:
    """The latest alerts for the consoles, newest first, with who was paged so far."""
    rows = redis.xrevrange(keys.crisis_alerts(), count=count)
    alerts = []
    for _, fields in rows:
        entry = {name.decode(): value.decode() for name, value in fields.items()}
        state = redis.hgetall(keys.crisis_alert(entry["call"]))
        data = {name.decode(): value.decode() for name, value in state.items()}
        entry["state"] = data.get("state", "")
        entry["paged"] = sorted(
            name.removeprefix("paged:") for name in data if name.startswith("paged:")
        )
        alerts.append(entry)
    return alerts


def page_supervisors(call_sid: str) -> str:
    """RQ job: text every supervisor on call about an alert, each at most once."""
    current = runtime.current()
    redis, now = current.redis, current.now()
    key = keys.crisis_alert(call_sid)
    raw = redis.hgetall(key)
    if not raw:
        return "unknown"
    alert = {name.decode(): value.decode() for name, value in raw.items()}
    kind = alert_kind(alert.get("trigger", ""))
    # Only a crisis has an incident record; a voicemail or storage alert has none to add to.
    incident = IncidentLog(redis) if kind in CRISIS_KINDS else None
    roster = stored_roster(redis, current.config)
    supervisors = supervisors_to_page(roster, now)
    if not supervisors:
        redis.hset(key, "state", "nobody")
        if incident is not None:
            incident.step(call_sid, "unpaged", now=now, reason="no supervisor on the roster")
        events.append(redis, _event(kind, "unpaged"), call=call_sid, alert=kind)
        log.error("%s %s: no supervisor on the roster to page", ALERT_NAMES[kind][1], call_sid)
        return "nobody"
    body = alert_text(call_sid, alert, redis)
    retry: GatewayError | None = None
    for supervisor in supervisors:
        if redis.hexists(key, f"paged:{supervisor.id}"):
            continue
        try:
            current.gateway.send_sms(supervisor.phone, body)
        except GatewayError as error:
            log.warning("page to supervisor %s failed: %s", supervisor.id, error)
            # A page Twilio fails says the carrier is failing as a ring does, rings or not.
            CarrierHealth(redis).failed(error, now)
            if error.retryable:
                retry = error
            else:
                redis.hset(key, f"failed:{supervisor.id}", str(error.code or error.status))
            continue
        redis.hset(key, f"paged:{supervisor.id}", repr(now))
        if incident is not None:
            incident.step(call_sid, "paged", now=now, target=supervisor.id, via="sms")
        events.append(
            redis, _event(kind, "paged"), call=call_sid, supervisor=supervisor.id, alert=kind
        )
    if retry is not None:
        # Raising hands the job back to RQ's retry; pages already sent are not sent again.
        raise retry
    redis.hset(key, "state", "paged")
    return "paged"


def supervisors_to_page(roster: Roster | None, now: float) -> list[Supervisor]:
    """The supervisors on call; when nobody is on call, every supervisor (never nobody)."""
    if roster is None:
        return []
    return on_call(roster, datetime.fromtimestamp(now, UTC)) or list(roster.supervisors)


def stored_roster(redis: Redis, config: Any) -> Roster | None:
    """The roster as last imported (agents and supervisors), or None when none was."""
    text = redis.get(keys.roster())
    if text is None:
        return None
    try:
        return parse_roster(
            text.decode(),
            source="roster.yaml",
            area_ids=list(config.areas),
            languages=list(config.languages),
            accepted=True,
        )
    except ProblemsError:
        log.exception("the stored roster no longer reads; no supervisor can be found")
        return None


def _event(kind: str, what: str) -> str:
    """An alert step's event: crisis-alert, crisis-paged... for a crisis; alert, alert-paged..."""
    if kind in CRISIS_KINDS:
        return f"crisis-{what}"
    return "alert" if what == "alert" else f"alert-{what}"


def alert_kind(trigger: str) -> str:
    """What an alert is, from its trigger: a crisis call unless a voicemail raised it."""
    if trigger in ALERT_TRIGGERS:
        return ALERT_TRIGGERS[trigger]
    if trigger.startswith("condition-"):
        # A standing condition (`queues.conditions`): the carrier, a failed self-check.
        return "condition"
    return "voicemail_alert" if trigger.startswith("voicemail-") else CRISIS_CALL


def alert_text(call_sid: str, alert: dict[str, str], redis: Redis) -> str:
    """The SMS a supervisor gets: what the alert is, a masked number, time; no caller's words."""
    at = datetime.fromtimestamp(float(alert.get("opened_at", time.time())), UTC)
    trigger = alert.get("trigger", "")
    kind = alert_kind(trigger)
    name = " ".join(ALERT_NAMES[kind])
    if kind == "storage_full":
        return (
            f"{name} {at:%H:%M} UTC. 新留言暂留在 Twilio，请清理服务器磁盘。"
            "New recordings stay at Twilio until the server's disk has room."
        )
    if kind == "condition":
        name = trigger.removeprefix("condition-")
        return f"{name} {at:%H:%M} UTC: {alert.get('detail', '')} 请查看控制台 See the console."
    if kind == "voicemail_alert":
        return f"{name} {at:%H:%M} UTC ({trigger}). 请查看控制台 See the console."
    record = CallStore(redis).get(call_sid)
    caller = mask_number(record.caller) if record and record.caller else "unknown"
    if kind == CRISIS_CALL:
        return (
            f"{name} {caller} {at:%H:%M} UTC ({trigger}). "
            f"请查看控制台 See the console: {call_sid[-8:]}"
        )
    return f"{name} {caller} {at:%H:%M} UTC. 请查看留言箱 See the voicemail inbox: {call_sid[-8:]}"


def escalate(
    call_sid: str,
    *,
    by_agent: str,
    target: str = "supervisor",
    now: float,
    current: runtime.Runtime | None = None,
) -> Escalation:
    """Bring the on-call supervisor or the crisis line into an agent's connected call."""
    if target not in TARGETS:
        raise EscalationError(f"unknown target {target!r}; use {', '.join(TARGETS)}", 400)
    current = current or runtime.current()
    redis = current.redis
    record = CallStore(redis).get(call_sid)
    if record is None or not record.reservation:
        raise EscalationError("the call is not connected to an agent", 409)
    if record.agent != by_agent:
        raise EscalationError("only the agent on the call can escalate it", 403)
    language = record.language or current.config.default_language
    added, number, reason = _escalation_target(current, target, language, now)
    marker = keys.crisis_escalation(call_sid, target)
    # The call weighs on the agent whatever happens next: wellbeing routing reads this flag.
    CallStore(redis).update(call_sid, heavy="1")
    open_crisis(redis, call_sid, trigger="agent_flag", language=language, now=now, by=by_agent)
    if not redis.set(marker, added, nx=True, ex=ESCALATION_TTL_S):
        return Escalation(call_sid, target, added, mask_number(number), False, "already added")
    try:
        # The conference is named by the reservation: the caller stays on while help joins.
        current.gateway.add_participant(
            record.reservation,
            number,
            label=target,
            start_conference_on_enter=True,
            end_conference_on_exit=False,
            timeout=current.config.crisis.dial_timeout_s,
        )
    except GatewayError as error:
        redis.delete(marker)
        IncidentLog(redis).step(
            call_sid, "escalation_failed", now=now, target=added, by=by_agent, error=str(error)
        )
        raise EscalationError(f"could not add {target}: {error.message}", 502) from error
    IncidentLog(redis).step(
        call_sid, "escalated", now=now, target=added, role=target, by=by_agent, reason=reason
    )
    events.append(redis, "escalated", at=f"{now:.3f}", call=call_sid, agent=by_agent, target=added)
    return Escalation(call_sid, target, added, mask_number(number), True, reason)


def _escalation_target(
    current: runtime.Runtime, target: str, language: str, now: float
) -> tuple[str, str, str]:
    """Who to add, their number and why: the first supervisor on call, else the crisis line."""
    if target == "supervisor":
        roster = stored_roster(current.redis, current.config)
        on_duty = on_call(roster, datetime.fromtimestamp(now, UTC)) if roster else []
        if on_duty:
            return on_duty[0].id, on_duty[0].phone, ""
        # A call that needs help gets the crisis line rather than nobody.
        number = current.config.crisis.lines_for(language)[0]
        return number, number, "no supervisor on call: crisis line added instead"
    number = current.config.crisis.lines_for(language)[0]
    return number, number, ""
