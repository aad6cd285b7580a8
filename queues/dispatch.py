"""Dispatch: what follows a routing decision, run as RQ jobs that survive a crash.

A match makes a reservation; `dispatch` puts a `ring_agent` job on the `dispatch` queue, which
rings the agent with a whisper. A ring the carrier fails (after RQ's retries, `ring_failed`)
or one run after its offer ran out rings nobody and is no miss of the agent's. Accepting
(`queues.session.hand_to_agent`) queues `bridge_caller`, which redirects the waiting caller
into the conference named by the reservation, or dials a caller who asked for a callback. A
caller who hangs up while the agent rings has the offer withdrawn (`withdraw_offer`). An
accepted agent whose leg ends before they joined the conference is no miss: the caller goes
back to the front of their waiting room (`agent_never_joined`, `return_caller`). A
self-renewing `sweep_job` repairs what a crash left and widens waiting calls' skill steps on
time; when calls are due a look at their Twilio leg it queues `check_legs_job`, which ends a
call whose leg is gone the way its lost hang-up webhook would have.
Jobs take ids and are idempotent: each first checks the reservation is still in the state it
acts on, so a repeated or late job changes nothing. The webhook URLs they give Twilio are the
app's, built from its routes (`Runtime.webhooks`): no ivr path is spelt here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job

from queues import carrier_setup, events, runtime
from queues.agents import AgentBoard, PresenceChange
from queues.alerts import TARGETS as ESCALATION_TARGETS
from queues.carrier_health import CarrierHealth
from queues.crisis_claims import CrisisClaims
from queues.matcher import Match, Matcher
from queues.ratelimit import RateLimiter
from queues.reservations import AGENT_LEFT, REQUEUED, Reservation, Transition
from queues.runtime import Routing
from queues.script import RoutingScript
from queues.sweep import (
    CALLER_LEG_STATES,
    GONE_STATUSES,
    LEG_CHECK_BATCH,
    LegCheck,
    LegChecks,
    sweep,
)
from queues.waiting import Departure
from queues.webhook_urls import WebhookUrls
from routing.matching import RoutingPolicy
from routing.privacy import mask_number
from telephony.gateway import GatewayError

log = logging.getLogger(__name__)

DISPATCH_QUEUE = "dispatch"
# Twilio's 429s and 5xx often pass within a second or two: a ring is tried twice more, quickly.
# After that the offer ends with no miss (`ring_failed`) and the caller, held back a while, is
# offered again; the retries stay well inside the offer's time.
RING_RETRY = Retry(max=2, interval=[1, 2])
BRIDGE_RETRY = Retry(max=5, interval=[1, 1, 2, 4, 8])
# How often the sweep runs: timeouts, wrap-up ends and widening steps land within this.
SWEEP_INTERVAL_S = 2
SWEEP_JOB_ID = "hotline-sweep"
# A ring whose rate-limit slot is this close goes out now rather than being scheduled.
RATE_SLACK_S = 0.2
# Agents' legs report every step, so a no-answer is seen as soon as Twilio gives up.
AGENT_LEG_EVENTS = ("initiated", "ringing", "answered", "completed")
LEG_CHECK_JOB_ID = "hotline-leg-check"
# A queued leg check holds off the next one this long at most (a worker that died mid-check
# lets it go by then); well past a check's worst case of one request timing out.
LEG_CHECK_HOLD_S = 120.0
# After Twilio failed a lookup (5xx, 429, no answer) leg checks pause this long: the calls
# keep their places and are looked at next time, and a struggling API is not pressed.
LEG_CHECK_BACKOFF_S = 30.0
# The status recorded for a leg Twilio no longer knows (404).
LEG_NOT_FOUND = "not-found"
# A leg's statuses (before the update, or after) when `canceled` ends it unanswered.
CANCELABLE = ("queued", "initiated", "ringing", "canceled")


def webhooks(rt: runtime.Runtime) -> WebhookUrls:
    """The app's webhook URLs for the calls jobs place or move; the app must have given them."""
    if rt.webhooks is None:
        raise RuntimeError("dispatch jobs need the app's webhook URLs in their runtime")
    return rt.webhooks


def dispatch_queue(redis: Redis) -> Queue:
    """The RQ queue that rings agents and bridges callers."""
    return Queue(DISPATCH_QUEUE, connection=redis)


def dispatch(redis: Redis, matches: list[Match | None]) -> None:
    """Ring the agent of each new reservation, through the dispatch queue."""
    queue = dispatch_queue(redis)
    for match in matches:
        if match is None:
            continue
        log.info(
            "offer %s: call %s to agent %s (%s, %s)",
            match.reservation_id,
            match.call_sid,
            match.agent_id,
            match.area,
            match.language,
        )
        queue.enqueue(
            ring_agent,
            match.reservation_id,
            job_id=f"ring-{match.reservation_id}",
            retry=RING_RETRY,
            on_failure=RING_FAILED,
        )


def set_presence(
    redis: Redis, policy: RoutingPolicy, agent_id: str, presence: str, now: float
) -> PresenceChange:
    """Set an agent's presence; an agent who becomes available is offered the best waiting call."""
    script = RoutingScript(redis, policy)
    change = AgentBoard(redis, policy, script=script).set_presence(agent_id, presence, now)
    if presence == "available":
        dispatch(redis, [Matcher(redis, policy, script=script).match_agent(agent_id, now)])
    return change


def ring_agent(reservation_id: str, slot_taken: bool = False) -> str:
    """Ring the reserved agent with a whisper; does nothing once the offer has moved on."""
    rt = runtime.current()
    routing = rt.routing
    offer = routing.reservations.get(reservation_id)
    if offer is None or offer.state != "offered":
        return "moved-on"
    if offer.expires_at <= rt.now():
        # The job ran after its offer ran out (a worker was down): the agent would be rung for
        # an offer already over, and miss it. Nobody is rung; the caller is back in their place.
        _not_rung(rt, routing, offer.id, hold=False)
        return "expired"
    phone = routing.board.phone(offer.agent_id)
    if not phone:
        _miss(rt, routing, offer.id, "no-answer")
        return "no-phone"
    if not slot_taken:
        # Twilio allows an account about one new call per second: a burst takes turns. A ring
        # whose turn is later is scheduled for it, so the worker never sleeps while callers
        # wait to be bridged.
        limiter = RateLimiter(rt.redis, "outbound-calls", rt.config.calls_per_second)
        slot = limiter.acquire(rt.now(), max_wait_s=offer.expires_at - rt.now())
        if slot is None:
            return "rate-limited"
        if slot - rt.now() > RATE_SLACK_S:
            dispatch_queue(rt.redis).enqueue_at(
                datetime.fromtimestamp(slot, UTC),
                ring_agent,
                reservation_id,
                True,
                # Another id than this job's own: RQ would let the finishing job overwrite it.
                job_id=f"ring-{reservation_id}-turn",
                retry=RING_RETRY,
                on_failure=RING_FAILED,
            )
            return "deferred"
    urls = webhooks(rt)
    try:
        leg = rt.gateway.create_call(
            phone,
            urls.whisper(reservation_id),
            status_callback=urls.agent_status(reservation_id),
            status_callback_events=AGENT_LEG_EVENTS,
            timeout=int(max(rt.config.routing.reservation_timeout_s - 2, 5)),
            # An answer Twilio gives up on goes on from the offer, not to an ended leg.
            fallback_url=urls.agent_fallback(reservation_id),
        )
    except GatewayError as error:
        if CarrierHealth(rt.redis).failed(error, rt.now()):
            # The carrier's failure, not the agent's: RQ tries again, and after the last try
            # `ring_failed` ends the offer with no miss.
            raise
        # Twilio refused this one call (an invalid number): the agent cannot be reached there,
        # and the misses that follow pause them where ops see it.
        log.warning("cannot ring agent %s: %s", offer.agent_id, error)
        _miss(rt, routing, offer.id, "no-answer")
        return "failed"
    CarrierHealth(rt.redis).reached(rt.now())
    # Only a ring that went out makes a timeout the agent's miss (see the routing script).
    routing.reservations.rung(reservation_id, rt.now())
    routing.calls.update(offer.call_sid, agent_leg=leg.sid, reservation=reservation_id)
    return leg.sid


def ring_failed(
    job: Job,
    connection: Redis,
    kind: type[BaseException] | None = None,
    error: BaseException | None = None,
    traceback: object = None,
) -> None:
    """RQ's failure callback of a ring: after its last try the offer ends, no miss counted."""
    # RQ calls this after every failed try (and for a ring lost with its worker); only the
    # last one, with no retry left, gives up on the ring.
    if job.should_retry:
        return
    rt = runtime.current()
    reservation_id = str(job.args[0])
    transition = _not_rung(rt, rt.routing, reservation_id, hold=True)
    if transition.changed:
        log.warning(
            "agent %s not rung for %s (%s): the carrier failed; call %s held back %.0f s",
            transition.agent_id,
            reservation_id,
            type(error).__name__ if error is not None else "lost",
            transition.call_sid,
            transition.held_until - rt.now(),
        )


RING_FAILED = Callback(ring_failed)


def _not_rung(
    rt: runtime.Runtime, routing: Routing, reservation_id: str, *, hold: bool
) -> Transition:
    """End an offer whose ring never reached the agent's phone; no miss is counted."""
    transition = routing.reservations.not_rung(reservation_id, rt.now(), hold=hold)
    if transition.changed and not hold:
        # The agent and the caller are back in their places: offer again at once. After a
        # carrier failure the freed agent waits for the next poll or sweep instead, so a dead
        # carrier is not handed every waiting call in turn.
        dispatch(rt.redis, [routing.matcher.match_agent(transition.agent_id, rt.now())])
    return transition


def bridge_caller(reservation_id: str) -> str:
    """Bring the caller to the accepted agent: out of the queue, or dialled back."""
    rt = runtime.current()
    routing = rt.routing
    offer = routing.reservations.get(reservation_id)
    if offer is None or offer.state not in ("accepted", "connected"):
        return "not-accepted"
    urls = webhooks(rt)
    health = CarrierHealth(rt.redis)
    if offer.kind == "callback":
        number = routing.room.callback_number(offer.call_sid)
        if not number:
            return "no-number"
        try:
            leg = rt.gateway.create_call(
                number,
                urls.callback(reservation_id),
                status_callback=urls.callback_status(reservation_id),
                status_callback_events=("completed",),
                timeout=30,
            )
        except GatewayError as error:
            health.failed(error, rt.now())
            raise
        health.reached(rt.now())
        log.info("calling back %s for %s", mask_number(number), reservation_id)
        _callback_leg_placed(rt, offer, leg.sid)
        return leg.sid
    try:
        if _held_in_transfer(rt, offer):
            # Held in the first agent's conference (a warm transfer): moved by the call itself.
            rt.gateway.update_call(offer.call_sid, url=urls.caller_to_agent(reservation_id))
        else:
            _out_of_queue(rt, offer.call_sid, offer.area, urls.caller_to_agent(reservation_id))
    except GatewayError as error:
        if health.failed(error, rt.now()) or error.retryable:
            raise
        # The caller hung up as the agent accepted, or was never in Twilio's queue (the number's
        # fallback took the call elsewhere): the agent is told on join.
        log.warning("caller of %s is gone: %s", reservation_id, error)
        events.append(rt.redis, "caller-gone", call=offer.call_sid, reservation=reservation_id)
        return "caller-gone"
    health.reached(rt.now())
    return "redirected"


def _held_in_transfer(rt: runtime.Runtime, offer: Reservation) -> bool:
    """End the transfer this accepted offer takes, if any; True if its caller is on hold."""
    # Imported here: the transfers module runs this module's jobs and is built on it.
    from queues import transfers

    return transfers.taken(rt, offer)


def _out_of_queue(rt: runtime.Runtime, call_sid: str, area: str, url: str) -> None:
    """Take a waiting caller out of their area's Twilio queue to the TwiML at url.

    Through the queue's member resource rather than the call's: a caller routing holds but
    Twilio never queued (its answer to the webhook that queued them timed out, so the number's
    fallback took the call elsewhere) is a 404 here, not a call pulled away from the crisis
    line the fallback dialled. Twilio queues a caller as soon as it reads that answer, long
    before an agent can be rung, answer and accept.
    """
    queued = rt.routing.room.get(call_sid)
    queue = carrier_setup.queue_sid(rt, queued.area if queued else area)
    if queue is None:
        # No such queue at Twilio yet (made by the first <Enqueue>): move the call itself.
        rt.gateway.update_call(call_sid, url=url)
        return
    rt.gateway.dequeue(queue, call_sid, url)


def agent_never_joined(rt: runtime.Runtime, reservation_id: str) -> Transition:
    """The accepted agent's leg ended before they joined: the caller waits again, first in line.

    No miss is the agent's (the hotline's answer to their key failed). The caller, redirected
    into the conference or about to be, is sent back to their area's waiting room by a job, and
    the next agent is rung at once. Unchanged once the agent was seen in the conference.
    """
    routing = rt.routing
    transition = routing.reservations.unjoined(reservation_id, rt.now())
    if transition.changed:
        log.warning(
            "agent %s of %s left before joining: call %s offered again",
            transition.agent_id,
            reservation_id,
            transition.call_sid,
        )
        # Queued before the next ring, so the caller is back in Twilio's queue before a new
        # bridge can move them (one queue, taken in order).
        dispatch_queue(rt.redis).enqueue(
            return_caller,
            reservation_id,
            job_id=f"return-{reservation_id}",
            retry=BRIDGE_RETRY,
        )
        dispatch(rt.redis, [routing.matcher.match_call(transition.call_sid, rt.now())])
    return transition


def return_caller(reservation_id: str) -> str:
    """RQ job: move the caller of an offer whose agent never joined back to the waiting room."""
    rt = runtime.current()
    offer = rt.routing.reservations.get(reservation_id)
    if offer is None or offer.kind != "call":
        return "unknown"
    queued = rt.routing.room.get(offer.call_sid)
    if queued is None or queued.state not in CALLER_LEG_STATES:
        # Gone, or already taken by the next agent, whose bridge moves the caller.
        return "moved-on"
    health = CarrierHealth(rt.redis)
    try:
        # The bridge's own URL: for an offer that ended this way it answers with the queue.
        rt.gateway.update_call(offer.call_sid, url=webhooks(rt).caller_to_agent(reservation_id))
    except GatewayError as error:
        if health.failed(error, rt.now()) or error.retryable:
            raise
        # The caller hung up alone in the conference, before anyone answered them: their stay
        # ends as abandoned, and an agent rung for them meanwhile is told and freed.
        log.warning("caller of %s is gone: %s", reservation_id, error)
        caller_left(rt, offer.call_sid, "abandoned")
        return "caller-gone"
    health.reached(rt.now())
    return "returned"


def decline(rt: runtime.Runtime, reservation_id: str, reason: str) -> Transition:
    """The agent declined or did not answer: the caller keeps their place and is offered again."""
    return _miss(rt, rt.routing, reservation_id, reason)


def _miss(rt: runtime.Runtime, routing: Routing, reservation_id: str, reason: str) -> Transition:
    """Record a missed offer and offer the call to the next agent."""
    transition = routing.reservations.missed(reservation_id, reason, rt.now())
    if transition.changed and transition.call_sid:
        dispatch(rt.redis, [routing.matcher.match_call(transition.call_sid, rt.now())])
    return transition


def finish(rt: runtime.Runtime, reservation_id: str) -> Transition:
    """The agent left the call: wrap-up starts (longer after a heavy call), or a callback whose
    caller had not answered yet is due again at once."""
    routing = rt.routing
    offer = routing.reservations.get(reservation_id)
    heavy = bool(offer and offer.heavy)
    if offer is not None:
        record = routing.calls.get(offer.call_sid)
        # A crisis or an agent's heavy flag raised during the call weighs like a heavy intake.
        heavy = heavy or bool(record and (record.crisis_trigger or record.heavy))
    # The finish step also records the talk time for the waiting room's estimates.
    transition = routing.reservations.finish(reservation_id, rt.now(), heavy=heavy)
    if transition.state == REQUEUED:
        number = routing.room.callback_number(transition.call_sid)
        log.warning(
            "agent %s left callback %s before %s answered: due again now",
            transition.agent_id,
            reservation_id,
            mask_number(number) if number else "the caller",
        )
        record = routing.calls.get(transition.call_sid)
        if record is not None and record.callback_leg:
            stop_callback_ringing(rt, reservation_id, record.callback_leg)
    return transition


def _callback_leg_placed(rt: runtime.Runtime, offer: Reservation, leg_sid: str) -> None:
    """Note a callback's leg on the call's record; stop it at once if its agent already left."""
    routing = rt.routing
    try:
        routing.calls.update(offer.call_sid, callback_leg=leg_sid)
        # Read again after the write: a finish that put the task back in line before it read
        # the record without this leg, so nothing else would stop it ringing.
        current = routing.reservations.get(offer.id)
    except RedisError as error:
        # Never raised: a retry of the dial job would ring the caller's phone a second time.
        log.warning("callback leg of %s not noted: %s", offer.id, type(error).__name__)
        return
    if current is not None and current.state == AGENT_LEFT:
        stop_callback_ringing(rt, offer.id, leg_sid)


def stop_callback_ringing(rt: runtime.Runtime, reservation_id: str, leg_sid: str) -> str:
    """Queue the job that cancels a callback leg whose agent left; webhooks make no REST call."""
    try:
        dispatch_queue(rt.redis).enqueue(
            cancel_callback_leg,
            reservation_id,
            leg_sid,
            # By leg: the finish and the dial job may both ask, and only one cancel is needed.
            job_id=f"cancel-callback-{leg_sid}",
            retry=BRIDGE_RETRY,
            unique=True,
        )
    except DuplicateJobError:
        return "queued"
    except RedisError as error:
        # A caller who answers anyway hears that we will call again, and is hung up on.
        log.warning("callback leg of %s left ringing: %s", reservation_id, type(error).__name__)
        return "not-queued"
    return "queued"


def cancel_callback_leg(reservation_id: str, leg_sid: str) -> str:
    """RQ job: cancel a callback leg still ringing after its agent left; an answered one stays.

    Twilio ends a queued or ringing call told `canceled` and leaves an answered or ended one as
    it is, so a caller who picked up meanwhile still hears that we will call again. Without it,
    the next offer of the task could ring the same phone while this leg still rings.
    """
    rt = runtime.current()
    health = CarrierHealth(rt.redis)
    try:
        leg = rt.gateway.update_call(leg_sid, status="canceled")
    except GatewayError as error:
        if health.failed(error, rt.now()):
            raise  # tried again: the caller's phone may ring on meanwhile
        # About this leg alone (Twilio no longer knows it): nothing rings. Twilio's words are
        # left out, as they may name the number.
        log.warning(
            "callback leg %s of %s not cancelled: HTTP %s, code %s",
            leg_sid,
            reservation_id,
            error.status,
            error.code,
        )
        return "failed"
    health.reached(rt.now())
    if leg.status in ("in-progress", "completed"):
        log.info("callback leg %s of %s was answered: left as it is", leg_sid, reservation_id)
        return "answered"
    if leg.status not in CANCELABLE:
        return leg.status  # it ended unanswered before the job ran
    log.info("callback leg %s of %s cancelled: its agent left", leg_sid, reservation_id)
    return "canceled"


def end_agent_leg(rt: runtime.Runtime, reservation_id: str) -> None:
    """Tell the agent waiting in the conference that the caller was not reached, and free them."""
    offer = rt.routing.reservations.get(reservation_id)
    record = rt.calls.get(offer.call_sid) if offer else None
    if not record or not record.agent_leg:
        return
    try:
        rt.gateway.update_call(record.agent_leg, url=webhooks(rt).agent_unreached(reservation_id))
    except GatewayError as error:
        log.warning("could not tell the agent of %s: %s", reservation_id, error)


def hand_over(rt: runtime.Runtime, reservation_id: str) -> str:
    """The agent hung up: a job ends the caller's conference, or this does when Redis is down."""
    try:
        dispatch_queue(rt.redis).enqueue(
            hand_over_job,
            reservation_id,
            job_id=f"hand-over-{reservation_id}",
            retry=BRIDGE_RETRY,
            unique=True,
        )
    except DuplicateJobError:
        return "queued"  # both the Dial's action and the leg's status report the hang-up
    except RedisError as error:
        # No job can carry it, and the caller must never be left alone in a silent conference:
        # ending it needs only Twilio, so it is done here, before anything else reads Redis.
        log.warning("hand-over of %s done inline: %s", reservation_id, type(error).__name__)
        try:
            end_conference(rt, reservation_id)
        except GatewayError as failure:
            log.warning(
                "cannot end conference %s after the agent left: %s", reservation_id, failure
            )
        return "inline"
    return "queued"


def hand_over_job(reservation_id: str) -> str:
    """RQ job: end the conference of an agent who hung up, unless help they brought stays on."""
    rt = runtime.current()
    health = CarrierHealth(rt.redis)
    try:
        outcome = end_conference(rt, reservation_id)
    except GatewayError as error:
        if health.failed(error, rt.now()):
            raise  # tried again: a caller alone in the conference hears nothing meanwhile
        log.warning("cannot end conference %s after the agent left: %s", reservation_id, error)
        return "failed"
    health.reached(rt.now())
    return outcome


def end_conference(rt: runtime.Runtime, reservation_id: str) -> str:
    """End the reservation's conference, unless help the agent brought in stays with the caller.

    Help (a supervisor, the crisis line) then ends the conference when it leaves, so the
    caller is never left alone in silence.
    """
    from queues import transfers  # imported here: the transfers module is built on this one

    held = transfers.hand_over_held(rt, reservation_id)
    if held is not None:
        # A warm transfer was open: the caller goes on to wait for the next agent.
        return held
    conference = rt.gateway.find_conference(reservation_id)
    if conference is None:
        return "no-conference"
    participants = rt.gateway.list_participants(conference)
    helpers = [p for p in participants if p.label in ESCALATION_TARGETS]
    if not helpers:
        rt.gateway.end_conference(conference)
        return "ended"
    for helper in helpers:
        rt.gateway.update_participant(conference, helper.call_sid, end_conference_on_exit=True)
    return "left-with-help"


def step_out(rt: runtime.Runtime, reservation_id: str, agent_leg: str) -> int:
    """The agent left the conference but stays on: a job looks whether the caller is still in it.

    Returns the step out's number (0 for an unknown reservation: nothing is queued).
    """
    number = rt.routing.reservations.step_out(reservation_id)
    if number:
        dispatch_queue(rt.redis).enqueue(
            check_step_out,
            reservation_id,
            agent_leg,
            number,
            job_id=f"step-out-{reservation_id}-{number}",
        )
    return number


def check_step_out(reservation_id: str, agent_leg: str, number: int) -> str:
    """RQ job: send an agent who stepped out to their menu, or tell them the call has ended."""
    rt = runtime.current()
    health = CarrierHealth(rt.redis)
    # Only Twilio knows at once: the caller's hang-up reaches the app after the agent's Dial
    # action, so Redis alone would offer the menu for a call already over.
    try:
        live = rt.gateway.find_conference(reservation_id) is not None
    except GatewayError as error:
        health.failed(error, rt.now())
        log.warning(
            "conference %s not looked up; the agent's hold decides: %s", reservation_id, error
        )
        return "unknown"
    health.reached(rt.now())
    if not rt.routing.reservations.decide_step_out(reservation_id, number, "job"):
        return "late"  # the agent's hold ran out first and decided
    url = webhooks(rt).agent_stepped_out(reservation_id, number, live)
    try:
        rt.gateway.update_call(agent_leg, url=url)
    except GatewayError as error:
        health.failed(error, rt.now())
        log.warning("agent leg of %s not moved on: %s", reservation_id, error)
        return "not-moved"
    return "menu" if live else "ended"


def caller_left(rt: runtime.Runtime, call_sid: str, outcome: str) -> Departure:
    """The caller left the waiting room; an agent ringing for them is told and freed."""
    routing = rt.routing
    departure = routing.room.leave(call_sid, rt.now(), outcome=outcome)
    if departure.reservation:
        dispatch_queue(rt.redis).enqueue(
            withdraw_offer,
            departure.reservation,
            call_sid,
            job_id=f"withdraw-{departure.reservation}",
            retry=RING_RETRY,
        )
    return departure


def withdraw_offer(reservation_id: str, call_sid: str) -> str:
    """Stop an agent's leg ringing for a caller who left; one in the whisper hears why."""
    rt = runtime.current()
    record = rt.calls.get(call_sid)
    agent_leg = record.agent_leg if record else ""
    if not agent_leg:
        return "no-leg"
    leg = rt.gateway.fetch_call(agent_leg)
    if leg.status in ("queued", "initiated", "ringing"):
        rt.gateway.update_call(agent_leg, status="canceled")
        return "canceled"
    if leg.status == "in-progress":
        rt.gateway.update_call(agent_leg, url=webhooks(rt).agent_gone(reservation_id))
        return "told"
    return leg.status


def sweep_job() -> int:
    """Handle due timers, offer what they freed, queue a leg check, and schedule the next sweep."""
    rt = runtime.current()
    try:
        report = sweep(rt.redis, rt.config.routing, rt.now())
        dispatch(rt.redis, list(report.matches))
    finally:
        # A sweep that failed (a Redis hiccup) must not end the sweeps that follow it.
        schedule_sweep(rt.redis)
    queue_leg_check(rt)
    return len(report.matches)


def queue_leg_check(rt: runtime.Runtime) -> bool:
    """Queue a leg check when calls are due one, unless one is queued or Twilio had trouble."""
    checks = LegChecks(rt.redis, rt.config.routing, script=rt.script)
    try:
        if not checks.is_due(rt.now()) or not checks.hold(LEG_CHECK_HOLD_S):
            return False
        # Its own job on the least urgent queue: REST lookups never hold up the timers above,
        # and a worker takes rings and crisis pages before them.
        Queue("default", connection=rt.redis).enqueue(check_legs_job, job_id=LEG_CHECK_JOB_ID)
    except RedisError as error:
        log.warning("leg check not queued, next sweep: %s", type(error).__name__)
        return False
    return True


@dataclass
class LegReport:
    """What one leg check did: the calls it looked up, those it ended, and whether Twilio failed."""

    looked_up: list[str]
    ended: list[str]
    trouble: bool = False


def check_legs_job() -> int:
    """Look up the legs of calls due a look and end the gone ones; return how many ended."""
    rt = runtime.current()
    report = check_legs(rt)
    if not report.trouble:
        LegChecks(rt.redis, rt.config.routing, script=rt.script).release()
    return len(report.ended)


def check_legs(rt: runtime.Runtime, *, limit: int = LEG_CHECK_BATCH) -> LegReport:
    """Look up a batch of calls' Twilio legs; a gone one ends as its hang-up would have."""
    checks = LegChecks(rt.redis, rt.config.routing, script=rt.script)
    report = LegReport(looked_up=[], ended=[])
    for call_sid in checks.claim(rt.now(), limit=limit):
        try:
            check = checks.plan(call_sid)
            if check is None:
                continue
            report.looked_up.append(call_sid)
            leg, status = check.leg_sid, leg_status(rt, check.leg_sid)
            if not _is_gone(status) and check.then_leg:
                leg, status = check.then_leg, leg_status(rt, check.then_leg)
            if _is_gone(status) and end_gone_call(rt, check, status, leg=leg):
                report.ended.append(call_sid)
        except GatewayError as error:
            # The claim already moved this call's next look on: it keeps its place meanwhile.
            log.warning("leg of %s not looked up, next time: %s", call_sid, error)
            checks.back_off(LEG_CHECK_BACKOFF_S)
            report.trouble = True
            break
        except RedisError as error:
            log.warning("leg check of %s stopped, next time: %s", call_sid, type(error).__name__)
            report.trouble = True
            break
    return report


def _is_gone(status: str) -> bool:
    """Tell whether a leg's status says it has ended."""
    return status in GONE_STATUSES or status == LEG_NOT_FOUND


def leg_status(rt: runtime.Runtime, leg_sid: str) -> str:
    """A leg's status at Twilio, or `LEG_NOT_FOUND` when Twilio no longer knows it."""
    health = CarrierHealth(rt.redis)
    try:
        status = rt.gateway.fetch_call(leg_sid).status
    except GatewayError as error:
        if error.status != 404:
            health.failed(error, rt.now())
            raise
        status = LEG_NOT_FOUND
    health.reached(rt.now())
    return status


def end_gone_call(rt: runtime.Runtime, check: LegCheck, status: str, *, leg: str = "") -> bool:
    """End a call whose leg is gone, as its lost webhooks would have; True the first time."""
    leg = leg or check.leg_sid
    if check.crisis_taker:
        changed = _release_crisis_taker(rt, check)
    elif check.reservation:
        # The agent left without /voice/agent/done or a status callback reaching us. One never
        # seen in the conference leaves the caller to wait again, first in line; otherwise the
        # same finish step starts wrap-up, and a repeat finds the reservation already finished.
        agents_leg = leg != check.call_sid
        changed = (agents_leg and agent_never_joined(rt, check.reservation).changed) or finish(
            rt, check.reservation
        ).changed
    else:
        if status in GONE_STATUSES:
            rt.calls.advance_status(check.call_sid, status)
        # The same step as a hang-up webhook: abandoned, place freed, a ringing agent told.
        changed = caller_left(rt, check.call_sid, "abandoned").changed
    if changed:
        log.info("call %s ended by the leg check: %s was %s", check.call_sid, leg, status)
        events.append(
            rt.redis,
            "leg-gone",
            at=f"{rt.now():.3f}",
            call=check.call_sid,
            leg=leg,
            status=status,
            state=check.state,
            reservation=check.reservation or None,
        )
    return changed


def _release_crisis_taker(rt: runtime.Runtime, check: LegCheck) -> bool:
    """Free the agent of a crisis call whose end never reached us; True the first time."""
    # The same release as the ring's end: heavy wrap-up, and it counts against the cap.
    claims = CrisisClaims(rt.redis, rt.config.routing, script=rt.script)
    if claims.release(check.call_sid, check.crisis_taker, rt.now()) is None:
        return False
    incidents = rt.incidents
    incident = incidents.get(check.call_sid)
    if incident is not None and incident.first("closed") is None:
        incidents.step(
            check.call_sid,
            "closed",
            now=rt.now(),
            outcome="agent",
            target=check.crisis_taker,
            by="leg-check",
        )
    return True


def schedule_sweep(redis: Redis, delay_s: int = SWEEP_INTERVAL_S) -> None:
    """Schedule the next sweep; one fixed job id keeps a single sweep in the schedule."""
    # RQ's scheduler works in whole seconds.
    Queue("default", connection=redis).enqueue_in(
        timedelta(seconds=delay_s), sweep_job, job_id=SWEEP_JOB_ID
    )
