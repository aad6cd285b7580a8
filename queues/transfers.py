"""Transfers of a live call: to another area or to one named agent, warm or cold.

A transfer is a new reservation for the same call. The routing script decides every step
atomically (`transfer_*` in queues/routing.lua); this module owns the transfer key and runs
the sequence around the carrier's part:

1. `transfer_start` marks the call as transferring, so no match can see it yet;
2. the carrier holds the caller in the conference (warm: a participant update with `Hold` and a
   `HoldUrl` that says where they are going and plays the hold music) or moves them to the new
   area's waiting room (cold). If the carrier refuses, the start is undone: the caller stays
   with the first agent, who is told;
3. `transfer_open` puts the call in the new area's queue with its old score (original arrival,
   ahead of later callers) or offers it to the named agent, and the matches are rung.

The next agent's accept ends the transfer (`taken`, from the bridge job): warm, the caller is
moved from the held conference to the next agent's, which ends the first agent's conference
and starts their wrap-up. Nobody in time (`expire_job`): warm, the caller is taken off hold
with the first agent, who is told; cold, the caller stays in the waiting room like any caller.
Redis down at the start: nothing changed, the agent is told and goes back to the caller.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from queues import dispatch, events, keys, runtime
from queues.matcher import Match
from queues.reservations import Reservation
from routing.transfers import MODES, expire_after_s, refusal
from telephony.gateway import GatewayError

log = logging.getLogger(__name__)

# A transfer whose next agent is being rung when its time runs out is looked at again this
# much later: the ring's own time-out ends it either way.
RINGING_RECHECK_S = 10


@dataclass(frozen=True)
class Transfer:
    """A call's latest transfer: from which agent and area, to where, and where it stands."""

    id: str
    call_sid: str
    state: str
    mode: str
    from_reservation: str
    from_agent: str
    from_area: str
    from_leg: str
    area: str
    target_agent: str
    started_at: float
    to_agent: str = ""
    to_reservation: str = ""

    def public(self) -> dict[str, object]:
        """The transfer as the desk's API shows it (no caller data)."""
        return {
            "state": self.state,
            "mode": self.mode,
            "from_agent": self.from_agent,
            "from_area": self.from_area,
            "area": self.area,
            "agent": self.target_agent,
            "to_agent": self.to_agent,
            "started_at": self.started_at,
        }


@dataclass(frozen=True)
class Started:
    """The answer to a transfer asked for: `ok`, or why not (told to the first agent)."""

    ok: bool
    reason: str = ""
    transfer_id: str = ""
    mode: str = ""


class Transfers:
    """Reads transfers; the only owner of the transfer key (the routing script writes it)."""

    def __init__(self, redis: Redis):
        self.redis = redis

    def get(self, call_sid: str) -> Transfer | None:
        """The call's latest transfer, or None."""
        raw = self.redis.hgetall(keys.transfer(call_sid))
        if not raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return Transfer(
            id=data.get("id", ""),
            call_sid=call_sid,
            state=data.get("state", ""),
            mode=data.get("mode", ""),
            from_reservation=data.get("from_reservation", ""),
            from_agent=data.get("from_agent", ""),
            from_area=data.get("from_area", ""),
            from_leg=data.get("from_leg", ""),
            area=data.get("area", ""),
            target_agent=data.get("target_agent", ""),
            started_at=float(data.get("started_at") or 0.0),
            to_agent=data.get("to_agent", ""),
            to_reservation=data.get("to_reservation", ""),
        )


def start(
    rt: runtime.Runtime,
    reservation_id: str,
    *,
    mode: str,
    area: str = "",
    agent: str = "",
    agent_leg: str = "",
) -> Started:
    """Transfer the call of an accepted reservation; the caller is never left alone.

    `area` sends the caller to that area's waiting room; `agent` offers them to that agent only
    (in `area`'s name if given, else the call's own area). Returns why not when it cannot.
    """
    if mode not in MODES:
        raise ValueError(f"unknown transfer mode {mode!r}")
    try:
        offer = rt.routing.reservations.get(reservation_id)
        if offer is None:
            return Started(False, "not-talking")
        target_area = area or (offer.area if agent else "")
        why = refusal(
            current_area=offer.area,
            target_area=target_area,
            target_agent=agent,
            areas=set(rt.config.areas),
        )
        if why:
            return Started(False, why)
        tid = "TR" + uuid.uuid4().hex
        leg = agent_leg or _agent_leg(rt, offer)
        queue = keys.waiting(target_area, offer.language)
        answer = rt.script.run(
            "transfer_start", rt.now(), reservation_id, tid, mode, target_area, agent, queue, leg
        )
    except RedisError as error:
        log.warning("transfer of %s not started, Redis down: %s", reservation_id, error)
        return Started(False, "redis")
    if answer[0] != "opening":
        return Started(False, answer[0])
    try:
        _move_caller(rt, offer, mode, target_area)
    except (GatewayError, RuntimeError) as error:
        # The carrier would not hold or move the caller: they are still with the first agent.
        log.warning("transfer of %s refused by the carrier: %s", reservation_id, error)
        _cancel(rt, offer.call_sid, tid)
        return Started(False, "carrier")
    return _open(rt, offer, tid, mode, target_area, agent)


def _agent_leg(rt: runtime.Runtime, offer: Reservation) -> str:
    """The first agent's leg, as the call record knows it."""
    record = rt.routing.calls.get(offer.call_sid)
    return record.agent_leg if record else ""


def _move_caller(rt: runtime.Runtime, offer: Reservation, mode: str, area: str) -> None:
    """Hold the caller in the conference (warm), or move them to the area's waiting room."""
    urls = dispatch.webhooks(rt)
    if urls.transfer_hold is None or urls.transfer_room is None:
        raise RuntimeError("the app gave no transfer webhooks")
    if mode == "cold":
        rt.gateway.update_call(
            offer.call_sid, url=urls.transfer_room(offer.id, area, offer.language)
        )
        return
    conference = rt.gateway.find_conference(offer.id)
    if conference is None:
        raise RuntimeError(f"conference {offer.id} is not live")
    rt.gateway.update_participant(
        conference,
        offer.call_sid,
        hold=True,
        hold_url=urls.transfer_hold(offer.id, offer.language),
    )


def _cancel(rt: runtime.Runtime, call_sid: str, tid: str) -> None:
    """Undo a transfer the carrier refused, best effort: the call is the first agent's again."""
    try:
        rt.script.run("transfer_cancel", rt.now(), call_sid, tid)
    except RedisError as error:
        log.warning("transfer %s of %s not undone: %s", tid, call_sid, error)


def _open(
    rt: runtime.Runtime, offer: Reservation, tid: str, mode: str, area: str, agent: str
) -> Started:
    """Open the transfer to agents once the carrier has the caller where they wait."""
    now = rt.now()
    policy = rt.config.routing
    rid = "RS" + uuid.uuid4().hex
    expires = now + policy.reservation_timeout_s
    try:
        answer = rt.script.run("transfer_open", now, offer.call_sid, tid, rid, repr(expires))
    except RedisError as error:
        # Redis went away as the carrier held the caller: off hold, back with the first agent.
        log.warning("transfer %s of %s not opened: %s", tid, offer.call_sid, error)
        _take_off_hold(rt, offer, mode)
        return Started(False, "redis")
    if answer[0] == "agent-busy":
        # The named agent was taken in the moment the carrier held the caller: undo it all.
        _cancel(rt, offer.call_sid, tid)
        _take_off_hold(rt, offer, mode)
        return Started(False, "agent-busy")
    if answer[0] not in ("pending", "matched"):
        return Started(False, answer[0])
    try:
        _follow_up(rt, offer, tid, mode, agent, answer, rid, expires)
    except RedisError as error:
        # The transfer is open all the same: the sweep's matches and the caller's polls find it.
        log.warning("transfer %s of %s opened, its follow-up failed: %s", tid, offer.id, error)
    log.info("call %s transferred %s by %s to %s", offer.call_sid, mode, offer.agent_id, area)
    return Started(True, transfer_id=tid, mode=mode)


def _follow_up(
    rt: runtime.Runtime,
    offer: Reservation,
    tid: str,
    mode: str,
    agent: str,
    answer: list[str],
    rid: str,
    expires: float,
) -> None:
    """What follows an open transfer: the cold agent's wrap-up, the time-out, the rings."""
    routing = rt.routing
    policy = rt.config.routing
    if mode == "cold":
        # The first agent leaves at once: their wrap-up starts.
        dispatch.finish(rt, offer.id)
    routing.calls.update(offer.call_sid, transferred_from=offer.agent_id)
    after = expire_after_s(rt.config.transfer, policy.reservation_timeout_s, named=bool(agent))
    Queue("default", connection=rt.redis).enqueue_in(
        timedelta(seconds=after), expire_job, offer.call_sid, tid, job_id=f"transfer-{tid}"
    )
    if answer[0] == "matched":
        match = Match(rid, offer.call_sid, answer[1], answer[4], offer.language, "call", False,
                      expires)  # fmt: skip
        dispatch.dispatch(rt.redis, [match])
    else:
        dispatch.dispatch(rt.redis, [routing.matcher.match_call(offer.call_sid, rt.now())])


def _take_off_hold(rt: runtime.Runtime, offer: Reservation, mode: str) -> None:
    """Take a held caller off hold (warm), best effort; cold callers are in the waiting room."""
    if mode != "warm":
        return
    try:
        conference = rt.gateway.find_conference(offer.id)
        if conference is not None:
            rt.gateway.update_participant(conference, offer.call_sid, hold=False)
    except GatewayError as error:
        log.warning("caller of %s not taken off hold: %s", offer.id, error)


def taken(rt: runtime.Runtime, offer: Reservation) -> bool:
    """The next agent accepted a transferred call: end the transfer; True if the caller is held
    in the first agent's conference (warm), so the bridge moves the call itself."""
    answer = rt.script.run("transfer_done", rt.now(), offer.call_sid, offer.id)
    if answer[0] == "done":
        mode, first = answer[1], answer[2]
        rt.routing.calls.update(offer.call_sid, transferred_to=offer.agent_id)
        if mode == "warm":
            # The first agent's part ends with the accept: their wrap-up starts now.
            dispatch.finish(rt, first)
        return mode == "warm"
    if answer[:2] == ["unchanged", ""]:
        return False  # never transferred: the bridge's usual way
    transfer = Transfers(rt.redis).get(offer.call_sid)
    # A repeat of the bridge: the transfer this offer ended says where the caller is.
    return bool(transfer and transfer.to_reservation == offer.id and transfer.mode == "warm")


def pending_warm(rt: runtime.Runtime, reservation_id: str) -> Transfer | None:
    """The open warm transfer started from this reservation, if any."""
    offer = rt.routing.reservations.get(reservation_id)
    if offer is None:
        return None
    transfer = Transfers(rt.redis).get(offer.call_sid)
    if (
        transfer is None
        or transfer.mode != "warm"
        or transfer.from_reservation != reservation_id
        or transfer.state not in ("opening", "pending")
    ):
        return None
    return transfer


def hand_over_held(rt: runtime.Runtime, reservation_id: str) -> str | None:
    """The first agent hung up during a warm transfer: the held caller waits in the new area
    instead of being left alone in the conference (the transfer goes on). None when no warm
    transfer of theirs is open, or Redis cannot say: the conference is ended as usual."""
    try:
        offer = rt.routing.reservations.get(reservation_id)
        transfer = pending_warm(rt, reservation_id)
    except RedisError:
        return None
    if offer is None or transfer is None:
        return None
    urls = dispatch.webhooks(rt)
    if urls.transfer_room is None:
        return None
    rt.gateway.update_call(
        transfer.call_sid, url=urls.transfer_room(reservation_id, transfer.area, offer.language)
    )
    return "to-waiting-room"


def expire_job(call_sid: str, transfer_id: str) -> str:
    """RQ job: a transfer nobody took in time goes back to the first agent, or stays waiting."""
    rt = runtime.current()
    answer = rt.script.run("transfer_back", rt.now(), call_sid, transfer_id)
    if answer[0] == "ringing":
        Queue("default", connection=rt.redis).enqueue_in(
            timedelta(seconds=RINGING_RECHECK_S), expire_job, call_sid, transfer_id
        )
        return "ringing"
    if answer[0] != "back":
        return answer[0] if answer[0] != "unchanged" else answer[1]
    first = answer[2]
    offer = rt.routing.reservations.get(first)
    transfer = Transfers(rt.redis).get(call_sid)
    if offer is None or transfer is None:
        return "back"
    # The call is the first agent's again, on their own leg (leg checks look at it).
    legs = {"agent_leg": transfer.from_leg} if transfer.from_leg else {}
    rt.routing.calls.update(call_sid, reservation=first, agent=offer.agent_id, **legs)
    _take_off_hold(rt, offer, "warm")
    _tell_first_agent(rt, transfer)
    return "back"


def _tell_first_agent(rt: runtime.Runtime, transfer: Transfer) -> None:
    """Tell the first agent by phone that the caller is back with them (and the desk shows it)."""
    urls = dispatch.webhooks(rt)
    if not transfer.from_leg or urls.transfer_back is None:
        return
    try:
        rt.gateway.update_call(transfer.from_leg, url=urls.transfer_back(transfer.from_reservation))
    except GatewayError as error:
        log.warning("first agent of %s not told of the return: %s", transfer.call_sid, error)


def note_for_whisper(rt: runtime.Runtime, call_sid: str, reservation_id: str) -> dict[str, str]:
    """What the next agent's whisper says of a transfer: from which area and agent, the note.

    Empty when the call is not being transferred to this reservation's agent.
    """
    transfer = Transfers(rt.redis).get(call_sid)
    if (
        transfer is None
        or transfer.state != "pending"
        or transfer.from_reservation == reservation_id
    ):
        return {}
    first = rt.routing.board.get(transfer.from_agent)
    name = first.name if first is not None and first.name else transfer.from_agent
    return {
        "from_area": transfer.from_area,
        "agent": name,
        "note": rt.notes.get(call_sid).note,
    }


def audit(
    rt: runtime.Runtime, actor: str, reservation_id: str, started: Started, **asked: str
) -> None:
    """Record the desk's transfer in the audit log, and its outcome."""
    rt.audit.record(
        actor,
        "call.transfer",
        reservation_id,
        after={"ok": started.ok, "reason": started.reason, **asked},
        now=rt.now(),
    )
    if not started.ok:
        events.append(
            rt.redis, "transfer-refused", reservation=reservation_id, reason=started.reason
        )


def moved_on(rt: runtime.Runtime, call_sid: str, reservation_id: str) -> str:
    """How the call left this reservation's agent by a transfer: "done" (the next agent took
    it), "cold" (sent to wait in another area), or "" (no transfer took it away)."""
    transfer = Transfers(rt.redis).get(call_sid)
    if transfer is None or transfer.from_reservation != reservation_id:
        return ""
    if transfer.state == "done":
        return "done"
    return "cold" if transfer.mode == "cold" and transfer.state != "cancelled" else ""
