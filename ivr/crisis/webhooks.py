"""The crisis branch: calm words, then every free crisis-trained agent at once, then the crisis
lines, then the numbers and the supervisors on call.

What a caller in danger reaches never depends on Redis: when Redis cannot be read there is
nobody to ring from the roster, and the caller goes straight to the crisis line from the config
loaded at start-up. Records (incident, alert, waiting room) are best-effort; after the first
Redis failure in a request the rest are skipped, so a dead Redis costs the caller one timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request, url_for
from redis import RedisError
from werkzeug.exceptions import HTTPException

from ivr.callers import menu_twiml as twiml
from ivr.state import call_store, current_runtime, get_redis, incident_log
from ivr.webhook import caller, config, int_arg, language, twilio_blueprint, xml
from queues import alerts, keys
from queues.agents import AgentBoard
from queues.sweep import GONE_STATUSES
from queues.waiting import WaitingRoom
from routing.menu import Choice, Step, first_key
from routing.numbers import is_withheld
from routing.roster import Supervisor

log = logging.getLogger(__name__)

# Free crisis-trained agents looked at; more than Twilio's ten, since some may have no phone.
CANDIDATES = 20
# How long who took a crisis call is remembered.
ENGAGED_TTL_S = 2 * 3600
# Words of the caller quoted in a whisper: enough to know, short enough to answer quickly.
WHISPER_WORDS = 60
ACCEPT_KEY = "1"
# The oldest trigger a late crisis record believes from its URL (longer than any call).
UNRECORDED_MAX_AGE_S = 6 * 3600


@dataclass(frozen=True)
class Taker:
    """Someone the crisis path rings: an agent or a supervisor, and their phone."""

    id: str
    phone: str
    role: str


def _dial_anyway(error: Exception) -> Response:
    """A failure on the crisis path still dials the crisis lines, with no URL back to us."""
    if isinstance(error, HTTPException):
        return error  # type: ignore[return-value]
    log.exception("crisis webhook %s failed; dialling the crisis lines directly", request.path)
    return xml(twiml.crisis_lines_only(config(), language()))


bp = twilio_blueprint("crisis", __name__, "/voice/crisis", on_error=_dial_anyway)


@bp.post("")
def crisis() -> Response:
    """Start the crisis path (for redirects): calm words, then agents or the first crisis line."""
    reason = request.args.get("why", "danger_key")
    return start(language(), Choice(Step.CRISIS, reason=reason[:32]))


def start(chosen: str, choice: Choice) -> Response:
    """Enter the crisis path from any menu step; records never delay the caller."""
    who = caller()
    log.warning("crisis path for call %s: %s", who.call_sid, choice.reason)
    said = who.speech or " ".join(choice.matched)
    takers = _open(who.call_sid, chosen, choice, said) if who.call_sid else []
    if g.get("crisis_redis_down"):
        # Nobody can be looked up: the crisis line is dialled at once, without the calm words,
        # since every second of them is a second longer before a person answers. Nothing was
        # written either: the line's leg reports back, and the first report that finds Redis
        # again opens the incident and alerts the supervisors.
        report = url_for(
            "crisis.unrecorded",
            lang=chosen,
            call=who.call_sid,
            why=choice.reason,
            at=int(_now()),
            w=" ".join(said.split())[:WHISPER_WORDS],
        )
        return _dial(chosen, 0, first=True, quiet=True, report=report if who.call_sid else None)
    if not takers:
        return _dial(chosen, 0, first=True)
    action = url_for("crisis.agents_done", lang=chosen)
    targets = [(taker.phone, _whisper_url(chosen, who.call_sid, taker, said)) for taker in takers]
    return xml(
        twiml.crisis_ring(
            config(),
            chosen,
            targets,
            action,
            _hotline_number(),
            timeout=config().crisis.ring_s,
        )
    )


@bp.post("/unrecorded")
def unrecorded() -> Response:
    """The crisis line's leg reports on a crisis Redis missed: the incident and the alert."""
    chosen, call_sid = language(), request.args.get("call", "")[:64]
    reason = request.args.get("why", "danger_key")[:32]
    said = request.args.get("w", "")[:WHISPER_WORDS]
    raw, now = request.args.get("at", ""), _now()
    # Dated from the trigger the URL carries (one in the future or hours old is not believed).
    at = float(raw) if raw.isdigit() and now - UNRECORDED_MAX_AGE_S <= int(raw) <= now else now

    def late() -> None:
        if incident_log().get(call_sid) is None:
            incident_log().open(call_sid, trigger=reason, language=chosen, said=said, now=at)
            log.warning("crisis call %s recorded late, Redis is back: %s", call_sid, reason)
        # Once per call: a report after the alert was raised finds it and stops there.
        alerts.raise_alert(get_redis(), call_sid, trigger=reason, language=chosen, now=at)

    _record(call_sid, late)
    return xml(twiml.empty())


@bp.post("/whisper")
def whisper() -> Response:
    """A rung agent or supervisor answered: tell them it is a crisis call and what was said."""
    chosen, call_sid, taker_id, role = _leg_args()
    _record(call_sid, lambda: incident_log().step(call_sid, "picked_up", target=taker_id))
    action = url_for("crisis.whisper_answer", lang=chosen, call=call_sid, who=taker_id, role=role)
    words = request.args.get("w", "")[:WHISPER_WORDS]
    if role == "supervisor":
        prompt, fields = "crisis_supervisor_whisper", {}
    elif words:
        prompt, fields = "crisis_whisper", {"words": words}
    else:
        prompt, fields = "crisis_whisper_key", {}
    return xml(twiml.crisis_whisper(config(), chosen, prompt, action, **fields))


@bp.post("/whisper/answer")
def whisper_answer() -> Response:
    """The key pressed after the whisper: 1 takes the call unless someone else already did."""
    chosen, call_sid, taker_id, role = _leg_args()
    if first_key(caller().digits) != ACCEPT_KEY:
        _record(call_sid, lambda: incident_log().step(call_sid, "declined", target=taker_id))
        return xml(twiml.say_and_hang_up(config(), chosen, "agent_declined"))
    if _caller_gone(call_sid):
        # Taking a call that is over would leave the agent "talking" to nobody, out of routing
        # and of the next crisis ring, until the leg check or the two-hour limit frees them.
        log.warning("crisis call %s already over when %s %s pressed 1", call_sid, role, taker_id)
        return xml(twiml.say_and_hang_up(config(), chosen, "agent_caller_gone"))
    if not _claim(call_sid, taker_id):
        return xml(twiml.say_and_hang_up(config(), chosen, "crisis_taken"))
    log.warning("crisis call %s taken by %s %s", call_sid, role, taker_id)
    # This request comes on the taker's own leg: the leg check looks it up by this SID.
    taker_leg = caller().call_sid

    def taken() -> None:
        incident_log().step(call_sid, "answered", target=taker_id, role=role)
        call_store().update(
            call_sid, heavy="1", crisis_taker=taker_id, crisis_taker_leg=taker_leg or None
        )
        if role == "agent":
            # Routing must not offer them a call, nor another crisis ring them, meanwhile.
            _board().engage_crisis(taker_id, call_sid, _now())

    _record(call_sid, taken)
    return xml(twiml.crisis_put_through())


@bp.post("/agents")
def agents_done() -> Response:
    """The ring of crisis-trained agents ended: talked, caller gone, or on to the crisis line."""
    chosen, who = language(), caller()
    status = request.form.get("DialCallStatus", "")
    taker = _taker(who.call_sid) if status == "completed" else None
    if taker or (status == "completed" and request.form.get("DialBridged") == "true"):
        _close(who.call_sid, "agent", taker)
        return xml(twiml.goodbye(config(), chosen))
    if request.form.get("CallStatus") == "completed":
        _close(who.call_sid, "caller_hung_up", None)
        return xml(twiml.empty())
    line = config().crisis.lines_for(chosen)[0]
    log.warning("crisis call %s: no agent took it (%s), rolling over", who.call_sid, status)

    def rollover() -> None:
        incident_log().step(who.call_sid, "no_answer", role="agent", status=status)
        incident_log().step(who.call_sid, "rollover", target=line, reason="no agent took it")

    _record(who.call_sid, rollover)
    return _dial(chosen, 0, first=False, quiet=True)


@bp.post("/next")
def crisis_next() -> Response:
    """A crisis line's dial ended: done if answered, else the next line, else the supervisors."""
    settings, chosen, who = config(), language(), caller()
    status = request.form.get("DialCallStatus", "")
    lines = settings.crisis.lines_for(chosen)
    tried = int_arg("n", 0, len(lines) - 1)
    line = lines[tried]
    log.warning("crisis call %s: line %d ended %s", who.call_sid, tried, status or "(none)")
    if status in ("completed", "answered"):

        def answered() -> None:
            incident_log().step(who.call_sid, "answered", target=line)
            talk_s = request.form.get("DialCallDuration", "")
            incident_log().step(who.call_sid, "closed", outcome="crisis_line", talk_s=talk_s)

        _record(who.call_sid, answered)
        return xml(twiml.goodbye(settings, chosen))
    _record(
        who.call_sid,
        lambda: incident_log().step(who.call_sid, "no_answer", target=line, status=status),
    )
    if tried + 1 < len(lines):
        _record(
            who.call_sid,
            lambda: incident_log().step(who.call_sid, "rollover", target=lines[tried + 1]),
        )
        return _dial(chosen, tried + 1, first=False)
    supervisors = _supervisors(who.call_sid)
    if not supervisors:
        _close(who.call_sid, "numbers_given", None)
        return xml(twiml.crisis_failed(settings, chosen))
    targets = [(s.phone, _whisper_url(chosen, who.call_sid, s, "")) for s in supervisors]
    action = url_for("crisis.supervisors_done", lang=chosen)
    return xml(
        twiml.crisis_numbers_then_supervisors(settings, chosen, targets, action, _hotline_number())
    )


@bp.post("/supervisors")
def supervisors_done() -> Response:
    """The ring of supervisors ended: one talked to the caller, or the numbers are said again."""
    chosen, who = language(), caller()
    status = request.form.get("DialCallStatus", "")
    taker = _taker(who.call_sid) if status == "completed" else None
    if taker or (status == "completed" and request.form.get("DialBridged") == "true"):
        _close(who.call_sid, "supervisor", taker)
        return xml(twiml.goodbye(config(), chosen))
    if request.form.get("CallStatus") == "completed":
        _close(who.call_sid, "caller_hung_up", None)
        return xml(twiml.empty())
    _close(who.call_sid, "numbers_given", None)
    return xml(twiml.crisis_failed(config(), chosen))


# --- helpers ---------------------------------------------------------------------------------


def _open(call_sid: str, chosen: str, choice: Choice, said: str) -> list[Taker]:
    """Record the crisis, leave the waiting room, and find free crisis-trained agents."""
    found: list[Taker] = []

    def opened() -> None:
        now = _now()
        call_store().update(
            call_sid, crisis_trigger=choice.reason, crisis_words=" ".join(choice.matched) or None
        )
        incident_log().open(call_sid, trigger=choice.reason, language=chosen, said=said, now=now)
        alerts.raise_alert(get_redis(), call_sid, trigger=choice.reason, language=chosen, now=now)
        # A crisis jumps every queue: the caller's place is given up, the ring goes out now.
        script = current_runtime().script
        WaitingRoom(get_redis(), config().routing, script=script).leave(
            call_sid, now, outcome="crisis"
        )
        found.extend(_free_agents(chosen))
        for taker in found:
            incident_log().step(call_sid, "rung", target=taker.id, role="agent")

    _record(call_sid, opened)
    return found


def _free_agents(chosen: str) -> list[Taker]:
    """Free crisis-trained agents who speak the language, longest rested first, at most ten."""
    board = _board()
    takers = []
    # Only free agents sit in the crisis pool: busy ones, on a crisis call too, are not rung.
    for agent_id in board.free_crisis_agents(chosen, limit=CANDIDATES):
        phone = board.phone(agent_id)
        if phone:
            takers.append(Taker(agent_id, phone, "agent"))
        if len(takers) == twiml.MAX_DIAL_NUMBERS:
            break
    return takers


def _supervisors(call_sid: str) -> list[Taker]:
    """The supervisors on call to ring when every crisis line failed (none if Redis is down)."""
    found: list[Supervisor] = []

    def read() -> None:
        roster = alerts.stored_roster(get_redis(), config())
        found.extend(alerts.supervisors_to_page(roster, _now()))
        for supervisor in found[: twiml.MAX_DIAL_NUMBERS]:
            incident_log().step(call_sid, "rung", target=supervisor.id, role="supervisor")

    _record(call_sid, read)
    return [Taker(s.id, s.phone, "supervisor") for s in found[: twiml.MAX_DIAL_NUMBERS]]


def _claim(call_sid: str, taker_id: str) -> bool:
    """Make one taker the winner of a crisis call; with Redis down, whoever presses 1 wins."""
    won = [True]

    def claim() -> None:
        won[0] = bool(
            get_redis().set(keys.crisis_taker(call_sid), taker_id, nx=True, ex=ENGAGED_TTL_S)
        )

    _record(call_sid, claim)
    return won[0]


def _caller_gone(call_sid: str) -> bool:
    """Whether the caller's call is known to be over: its leg ended, or its incident closed."""
    gone = [False]

    def read() -> None:
        record = call_store().get(call_sid)
        incident = incident_log().get(call_sid)
        ended = bool(record and record.status in GONE_STATUSES)
        gone[0] = ended or bool(incident and incident.first("closed"))

    # With Redis down nothing is known: whoever presses 1 takes the call, as before.
    _record(call_sid, read)
    return gone[0]


def _taker(call_sid: str) -> str | None:
    """Who took the crisis call, if anyone did and Redis can say."""
    found: list[Any] = [None]
    _record(call_sid, lambda: found.__setitem__(0, get_redis().get(keys.crisis_taker(call_sid))))
    return found[0].decode() if found[0] else None


def _close(call_sid: str, outcome: str, taker: str | None) -> None:
    """Close the incident with its outcome and free the agent who talked to the caller."""
    talk_s = request.form.get("DialCallDuration", "")

    def closed() -> None:
        incident_log().step(call_sid, "closed", outcome=outcome, talk_s=talk_s, target=taker)
        if taker:
            # A crisis call is heavy: the agent gets the long wrap-up and it counts to the cap.
            _board().release_crisis(taker, call_sid, _now())

    _record(call_sid, closed)


def _dial(
    chosen: str, index: int, *, first: bool, quiet: bool = False, report: str | None = None
) -> Response:
    """Dial the crisis line at an index of the language's list (its leg reporting to `report`)."""
    settings = config()
    lines = settings.crisis.lines_for(chosen)
    action = url_for("crisis.crisis_next", lang=chosen, n=index)
    call_sid = caller().call_sid
    _record(
        call_sid,
        lambda: incident_log().step(call_sid, "rung", target=lines[index], role="line"),
    )
    # The caller's own number goes to the crisis line, so it can call back if the line drops;
    # a withheld one cannot be called back, so the line sees the hotline's and can call that.
    number = caller().number
    caller_id = _hotline_number() if is_withheld(number) else number
    if quiet:
        return xml(twiml.crisis_line(settings, lines[index], action, caller_id, report=report))
    return xml(twiml.crisis_dial(settings, chosen, lines[index], action, caller_id, first=first))


def _whisper_url(chosen: str, call_sid: str, taker: Taker, said: str) -> str:
    """The whisper a rung person hears, carrying the caller's call and what they said."""
    words = " ".join(said.split())[:WHISPER_WORDS]
    return url_for(
        "crisis.whisper", lang=chosen, call=call_sid, who=taker.id, role=taker.role, w=words
    )


def _leg_args() -> tuple[str, str, str, str]:
    """The language, caller's call, taker and role a whisper's URL carries."""
    role = request.args.get("role", "agent")
    return (
        language(),
        request.args.get("call", "")[:64],
        request.args.get("who", "")[:64],
        role if role in ("agent", "supervisor") else "agent",
    )


def _record(call_sid: str, write: Any) -> None:
    """Run Redis work for a call; once Redis failed in this request, skip it at once."""
    if not call_sid or g.get("crisis_redis_down"):
        return
    try:
        write()
    except RedisError as error:
        g.crisis_redis_down = True
        log.warning("Redis unreachable, crisis call %s: %s", call_sid, type(error).__name__)


def _board() -> AgentBoard:
    """The agents' board on the app's Redis and routing script."""
    return AgentBoard(get_redis(), config().routing, script=current_runtime().script)


def _now() -> float:
    """The app clock's time, as epoch seconds."""
    return current_app.config["CLOCK"]().timestamp()


def _hotline_number() -> str:
    """The hotline's own number: the caller ID agents and supervisors see."""
    return current_app.config["SETTINGS"].hotline_number
