"""Supervisors on live calls: listen (muted), coach (heard by the agent only) or barge.

A supervisor on the wallboard picks a connected call and a mode; their phone (the roster's
number of the supervisor whose id is their console user name) is rung into the reservation's
conference through Twilio's Participants API by an RQ job, so the console never waits on
Twilio. The join never starts or keeps a conference alone (StartConferenceOnEnter and
EndConferenceOnExit false), joins without a beep (callers are never told by the app), and a
coach is heard only by the agent's leg (Coaching with CallSidToCoach). The mode can be switched
while on, and the supervisor leaves from the console or by hanging up.

One supervisor at a time per call: a session is numbered, and a late report about an older
session (its leg's status, a job queued for it) finds another number and changes nothing.
The supervisor's number is read from the roster by the job that dials it, never stored here,
logged or put in a URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis
from rq import Queue, Retry, get_current_job

from queues import events, keys, runtime
from queues.alerts import stored_roster
from queues.calls import CallStore
from telephony.gateway import GatewayError

log = logging.getLogger(__name__)

MODES = ("listen", "coach", "barge")
# A session is live while ringing (the job dials, the phone rings) or on (the supervisor
# answered); it ends when they leave or hang up, or fails when they could not be joined.
LIVE_STATES = ("ringing", "on")
# The participant label that tells a listening supervisor from the call's own parties and from
# help an agent brought in (a listener never keeps the conference going for the caller).
LABEL = "listen-in"
QUEUE = "dispatch"
# A session's record outlives the call for the wallboard's last look, then goes.
SESSION_TTL_S = 6 * 3600
# Retries of a REST request that failed on a retryable error (throttling, a 5xx).
RETRY_INTERVALS_S = [1, 2, 5]
# The statuses of a call that is over.
ENDED_CALL = ("completed", "busy", "failed", "no-answer", "canceled")
# The call statuses of a supervisor's leg that mean it never reached them.
UNREACHED = ("no-answer", "busy", "failed", "canceled")

# Opens a new numbered session unless one is live; answers the number, or 0 and the holder.
_OPEN = """
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'ringing' or state == 'on' then
  return {0, redis.call('HGET', KEYS[1], 'supervisor') or ''}
end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0') + 1
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'n', n, 'state', 'ringing', 'supervisor', ARGV[1],
  'roster_id', ARGV[2], 'mode', ARGV[3], 'agent', ARGV[4], 'agent_leg', ARGV[5],
  'reservation', ARGV[6], 'started_at', ARGV[7], 'updated_at', ARGV[7])
redis.call('EXPIRE', KEYS[1], ARGV[8])
return {n, ARGV[1]}
"""

# Sets fields of session number ARGV[1] only, and only while its state is one of ARGV[2]
# (space separated; empty: any); answers 1 when it did.
_UPDATE = """
if redis.call('HGET', KEYS[1], 'n') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then
  local state = redis.call('HGET', KEYS[1], 'state') or ''
  local allowed = false
  for s in string.gmatch(ARGV[2], '%S+') do
    if s == state then allowed = true end
  end
  if not allowed then return 0 end
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
"""


@dataclass(frozen=True)
class Session:
    """A supervisor on a call: who, in which mode, their leg, and where the join stands."""

    call_sid: str
    number: int
    supervisor: str
    roster_id: str
    mode: str
    state: str
    agent: str
    agent_leg: str
    reservation: str
    leg: str
    conference: str
    reason: str
    started_at: float
    updated_at: float

    @property
    def live(self) -> bool:
        """Whether the supervisor is being joined or is on the call."""
        return self.state in LIVE_STATES

    def public(self) -> dict[str, Any]:
        """The session as consoles show it (no phone number is ever in it)."""
        return {
            "call_sid": self.call_sid,
            "session": self.number,
            "supervisor": self.supervisor,
            "mode": self.mode,
            "state": self.state,
            "agent": self.agent,
            "reason": self.reason or None,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }


class ListenInError(Exception):
    """A listen-in request that cannot be done, with the HTTP status that says why."""

    def __init__(self, message: str, status: int, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


class NotBridgedYet(Exception):
    """The call's conference is not there yet: RQ tries the join again a little later."""


class ListenIns:
    """Supervisors' sessions on calls; the only owner of the listen-in keys."""

    def __init__(self, redis: Redis):
        self.redis = redis
        self._open = redis.register_script(_OPEN)
        self._update = redis.register_script(_UPDATE)

    def get(self, call_sid: str) -> Session | None:
        """Return the call's latest session, or None."""
        raw = self.redis.hgetall(keys.listen_in(call_sid))
        if not raw or b"n" not in raw:
            return None
        data = {name.decode(): value.decode() for name, value in raw.items()}
        return Session(
            call_sid=call_sid,
            number=int(data["n"]),
            supervisor=data.get("supervisor", ""),
            roster_id=data.get("roster_id", ""),
            mode=data.get("mode", "listen"),
            state=data.get("state", ""),
            agent=data.get("agent", ""),
            agent_leg=data.get("agent_leg", ""),
            reservation=data.get("reservation", ""),
            leg=data.get("leg", ""),
            conference=data.get("conference", ""),
            reason=data.get("reason", ""),
            started_at=float(data.get("started_at") or 0),
            updated_at=float(data.get("updated_at") or 0),
        )

    def open(
        self,
        call_sid: str,
        *,
        supervisor: str,
        roster_id: str,
        mode: str,
        agent: str,
        agent_leg: str,
        reservation: str,
        now: float,
    ) -> tuple[int, str]:
        """Open a session (its number), or (0, who holds the call) when one is live."""
        number, holder = self._open(
            keys=[keys.listen_in(call_sid)],
            args=[
                supervisor,
                roster_id,
                mode,
                agent,
                agent_leg,
                reservation,
                repr(now),
                SESSION_TTL_S,
            ],
        )
        return int(number), holder.decode() if isinstance(holder, bytes) else str(holder)

    def update(
        self, call_sid: str, number: int, *, when: tuple[str, ...] = (), now: float, **fields: str
    ) -> bool:
        """Set a session's fields, only if it is still that session and in one of `when`."""
        args: list[str] = [str(number), " ".join(when)]
        for name, value in {**fields, "updated_at": repr(now)}.items():
            args += [name, value]
        return bool(self._update(keys=[keys.listen_in(call_sid)], args=args))


# --- what a supervisor asks for (from the console) ----------------------------------------------


def start(
    rt: runtime.Runtime, call_sid: str, *, supervisor: str, actor: str, mode: str, now: float
) -> Session:
    """Open a session on a connected call and queue the job that rings the supervisor in."""
    _check_mode(mode)
    record = CallStore(rt.redis, sealer=rt.sealer).get(call_sid)
    reservation = rt.routing.reservations.get(record.reservation) if record else None
    if (
        record is None
        or reservation is None
        or reservation.state != "accepted"
        or not record.agent_leg
        or record.status in ENDED_CALL
    ):
        raise ListenInError("the call is not connected to an agent", 409, field="call_sid")
    sessions = ListenIns(rt.redis)
    held = sessions.get(call_sid)
    if held is not None and held.live:
        raise ListenInError(f"supervisor {held.supervisor} is already on this call", 409)
    if _phone(rt, supervisor) is None:
        raise ListenInError(
            f"no phone number for supervisor {supervisor!r}: the roster needs a supervisor "
            "with this id and a phone",
            409,
        )
    number, holder = sessions.open(
        call_sid,
        supervisor=supervisor,
        roster_id=supervisor,
        mode=mode,
        agent=reservation.agent_id,
        agent_leg=record.agent_leg,
        reservation=reservation.id,
        now=now,
    )
    if not number:
        raise ListenInError(f"supervisor {holder} is already on this call", 409)
    rt.audit.record(
        actor,
        "listen-in.start",
        call_sid,
        after={"mode": mode, "agent": reservation.agent_id, "session": number},
        now=now,
    )
    events.append(
        rt.redis, "listen-in", at=f"{now:.3f}", call=call_sid, agent=reservation.agent_id, mode=mode
    )
    _enqueue(rt.redis, join_job, call_sid, number, f"listen-in-join-{call_sid}-{number}")
    session = sessions.get(call_sid)
    assert session is not None
    return session


def switch(
    rt: runtime.Runtime, call_sid: str, *, supervisor: str, actor: str, mode: str, now: float
) -> Session:
    """Change a supervisor's mode on a call they are on; a job tells Twilio."""
    _check_mode(mode)
    sessions = ListenIns(rt.redis)
    session = _own_live(sessions, call_sid, supervisor)
    if session.state != "on":
        raise ListenInError("the supervisor's phone has not answered yet", 409)
    if session.mode == mode:
        return session
    # A refusal of an earlier switch no longer applies once another is asked for.
    if not sessions.update(call_sid, session.number, when=("on",), now=now, mode=mode, reason=""):
        raise ListenInError("the supervisor is no longer on this call", 409)
    rt.audit.record(
        actor,
        "listen-in.mode",
        call_sid,
        before={"mode": session.mode},
        after={"mode": mode, "agent": session.agent, "session": session.number},
        now=now,
    )
    events.append(
        rt.redis, "listen-in", at=f"{now:.3f}", call=call_sid, agent=session.agent, mode=mode
    )
    job_id = f"listen-in-mode-{call_sid}-{session.number}-{int(now * 1000)}"
    _enqueue(rt.redis, mode_job, call_sid, session.number, job_id)
    found = sessions.get(call_sid)
    assert found is not None
    return found


def leave(
    rt: runtime.Runtime, call_sid: str, *, supervisor: str, actor: str, now: float
) -> Session:
    """Take a supervisor off a call: the session ends now, a job drops their leg."""
    sessions = ListenIns(rt.redis)
    session = _own_live(sessions, call_sid, supervisor)
    if not sessions.update(
        call_sid, session.number, when=LIVE_STATES, now=now, state="ended", reason="left"
    ):
        raise ListenInError("the supervisor is no longer on this call", 409)
    rt.audit.record(
        actor,
        "listen-in.end",
        call_sid,
        before={"mode": session.mode},
        after={"mode": None, "agent": session.agent, "session": session.number},
        now=now,
    )
    events.append(rt.redis, "listen-in-ended", at=f"{now:.3f}", call=call_sid, agent=session.agent)
    _enqueue(
        rt.redis,
        leave_job,
        call_sid,
        session.number,
        f"listen-in-leave-{call_sid}-{session.number}",
    )
    found = sessions.get(call_sid)
    assert found is not None
    return found


def for_agent(redis: Redis, call_sid: str) -> Session | None:
    """The supervisor on an agent's call now (answered, live), if any."""
    session = ListenIns(redis).get(call_sid)
    return session if session is not None and session.state == "on" else None


def _check_mode(mode: object) -> None:
    """Refuse a mode other than listen, coach or barge."""
    if mode not in MODES:
        raise ListenInError(f"unknown mode {mode!r}; use {', '.join(MODES)}", 422, field="mode")


def _own_live(sessions: ListenIns, call_sid: str, supervisor: str) -> Session:
    """The live session of this supervisor on the call; 409 or 403 otherwise."""
    session = sessions.get(call_sid)
    if session is None or not session.live:
        raise ListenInError("no supervisor is on this call", 409, field="call_sid")
    if session.supervisor != supervisor:
        raise ListenInError(f"supervisor {session.supervisor} is on this call, not you", 403)
    return session


def _phone(rt: runtime.Runtime, supervisor: str) -> str | None:
    """The roster's phone number of the supervisor with this id, if any."""
    roster = stored_roster(rt.redis, rt.config)
    if roster is None:
        return None
    found = next((s for s in roster.supervisors if s.id == supervisor), None)
    return found.phone if found is not None and found.phone else None


def _enqueue(redis: Redis, job: Any, call_sid: str, number: int, job_id: str) -> None:
    """Queue one of the REST jobs; enqueueing is one Redis write, no worker is waited for."""
    Queue(QUEUE, connection=redis).enqueue(
        job,
        call_sid,
        number,
        job_id=job_id,
        retry=Retry(max=len(RETRY_INTERVALS_S), interval=RETRY_INTERVALS_S),
        result_ttl=3600,
    )


# --- jobs: the REST requests ------------------------------------------------------------------


def join_job(call_sid: str, number: int) -> str:
    """RQ job: ring the supervisor into the call's conference in the session's mode."""
    rt = runtime.current()
    sessions = ListenIns(rt.redis)
    session = sessions.get(call_sid)
    if session is None or session.number != number or session.state != "ringing":
        return "gone"
    phone = _phone(rt, session.roster_id)
    if phone is None:
        return _failed(rt, session, "no phone number for the supervisor on the roster")
    try:
        conference = rt.gateway.find_conference(session.reservation)
        # The agent's leg must be there first: a coach needs it, and the conference's join
        # report counts anyone but the caller as the agent.
        present = (
            {p.call_sid for p in rt.gateway.list_participants(conference)} if conference else set()
        )
        if session.agent_leg not in present:
            if _still_connecting(rt, session) and _retries_left():
                # Accepted a moment ago: caller and agent are on their way into the conference.
                raise NotBridgedYet(f"agent not yet in conference {session.reservation}")
            reason = "the call has ended" if conference is None else "the agent is not on the call"
            return _failed(rt, session, reason)
        status_url = rt.webhooks.listen_in_status(call_sid, number) if rt.webhooks else None
        participant = rt.gateway.add_participant(
            conference,
            phone,
            label=LABEL,
            # A listener never starts a conference nor keeps one going: the call is the
            # caller's and the agent's.
            start_conference_on_enter=False,
            end_conference_on_exit=False,
            beep=False,
            timeout=rt.config.listen_in.ring_timeout_s,
            status_callback=status_url,
            status_callback_events=("answered", "completed"),
            **_mode_options(session.mode, session.agent_leg),
        )
    except GatewayError as error:
        return _gateway_failed(rt, session, error)
    joined = sessions.update(
        call_sid,
        number,
        when=("ringing",),
        now=rt.now(),
        leg=participant.call_sid,
        conference=participant.conference_sid,
    )
    if not joined:
        # The supervisor left (or the session moved on) while their phone was being rung.
        _drop(rt, participant.conference_sid, participant.call_sid)
        return "left"
    log.info("supervisor %s ringing into call %s (%s)", session.supervisor, call_sid, session.mode)
    return "ringing"


def mode_job(call_sid: str, number: int) -> str:
    """RQ job: tell Twilio the session's current mode (muted, coaching the agent, or neither)."""
    rt = runtime.current()
    session = ListenIns(rt.redis).get(call_sid)
    if session is None or session.number != number or session.state != "on" or not session.leg:
        return "gone"
    options = _mode_options(session.mode, session.agent_leg)
    try:
        rt.gateway.update_participant(
            session.conference,
            session.leg,
            muted=options["muted"],
            coaching=options["coaching"],
            call_sid_to_coach=options.get("call_sid_to_coach"),
        )
    except GatewayError as error:
        return _gateway_failed(rt, session, error, leg_up=True)
    return session.mode


def leave_job(call_sid: str, number: int) -> str:
    """RQ job: take the supervisor's leg out of the conference (hanging it up)."""
    rt = runtime.current()
    session = ListenIns(rt.redis).get(call_sid)
    if session is None or session.number != number or not session.leg:
        return "gone"
    _drop(rt, session.conference, session.leg)
    return "left"


def leg_status(redis: Redis, call_sid: str, number: int, status: str, now: float) -> str:
    """The supervisor's leg reported: answered (on the call), or ended (left, or unreached)."""
    sessions = ListenIns(redis)
    if status == "in-progress":
        sessions.update(call_sid, number, when=("ringing",), now=now, state="on")
        return "on"
    if status in UNREACHED:
        reason = f"the supervisor's phone did not answer ({status})"
        if sessions.update(
            call_sid, number, when=("ringing",), now=now, state="failed", reason=reason
        ):
            events.append(redis, "listen-in-failed", at=f"{now:.3f}", call=call_sid, reason=status)
            return "failed"
    if status == "completed" or status in UNREACHED:
        if sessions.update(
            call_sid, number, when=LIVE_STATES, now=now, state="ended", reason="hung-up"
        ):
            events.append(redis, "listen-in-ended", at=f"{now:.3f}", call=call_sid)
        return "ended"
    return "ignored"


def _mode_options(mode: str, agent_leg: str) -> dict[str, Any]:
    """The participant settings of a mode: listen is muted, coach speaks to the agent only."""
    if mode == "coach":
        return {"muted": False, "coaching": True, "call_sid_to_coach": agent_leg}
    return {"muted": mode == "listen", "coaching": False}


def _drop(rt: runtime.Runtime, conference: str, leg: str) -> None:
    """Remove a supervisor's leg from a conference, or hang it up while it still rings."""
    try:
        rt.gateway.remove_participant(conference, leg)
    except GatewayError as error:
        if error.status == 404:
            # Not in the conference (yet): a phone still ringing must not join after all.
            _hang_up(rt, leg)
            return
        if error.retryable and _retries_left():
            raise
        log.warning("could not take supervisor leg %s out of %s: %s", leg, conference, error)


def _hang_up(rt: runtime.Runtime, leg: str) -> None:
    """End a supervisor's leg that is not in the conference; one already over is fine."""
    try:
        rt.gateway.update_call(leg, status="completed")
    except GatewayError as error:
        if error.retryable and _retries_left():
            raise
        log.info("supervisor leg %s not hung up (over already?): %s", leg, error)


def _gateway_failed(
    rt: runtime.Runtime, session: Session, error: GatewayError, *, leg_up: bool = False
) -> str:
    """A REST request failed: try again later when it may pass, else say so on the wallboard."""
    if error.retryable and _retries_left():
        raise error
    if leg_up:
        # The supervisor stays on in the mode Twilio last accepted; the wallboard shows why
        # the one asked for did not take.
        ListenIns(rt.redis).update(
            session.call_sid,
            session.number,
            now=rt.now(),
            reason=f"the carrier refused the mode change: {error.message}",
        )
        return "refused"
    return _failed(rt, session, f"the carrier refused: {error.message}")


def _failed(rt: runtime.Runtime, session: Session, reason: str) -> str:
    """Mark a session that could not be joined, with a reason the wallboard shows."""
    now = rt.now()
    if ListenIns(rt.redis).update(
        session.call_sid, session.number, when=("ringing",), now=now, state="failed", reason=reason
    ):
        events.append(
            rt.redis, "listen-in-failed", at=f"{now:.3f}", call=session.call_sid, reason=reason
        )
    log.warning("supervisor %s not joined to %s: %s", session.supervisor, session.call_sid, reason)
    return "failed"


def _still_connecting(rt: runtime.Runtime, session: Session) -> bool:
    """Whether the call is still on with its agent (its conference may be forming)."""
    record = CallStore(rt.redis, sealer=rt.sealer).get(session.call_sid)
    reservation = rt.routing.reservations.get(session.reservation)
    return (
        record is not None
        and record.status not in ENDED_CALL
        and reservation is not None
        and reservation.state == "accepted"
    )


def _retries_left() -> bool:
    """Whether the running job will be tried again by RQ after this failure."""
    job = get_current_job()
    return bool(job is not None and job.retries_left)
