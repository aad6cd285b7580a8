"""The crisis branch: calm words, then every free crisis-trained agent at once, then the crisis
lines, then the numbers and the supervisors on call.

What a caller in danger reaches never depends on Redis: when Redis cannot be read there is
nobody to ring from the roster, and the caller goes straight to the crisis line from the config
loaded at start-up. Records (incident, alert, waiting room) are best-effort; after the first
Redis failure in a request the rest are skipped, so a dead Redis costs the caller one timeout.

Each webhook reads Twilio's request, makes one call to the crisis path (queues/crisis_path.py,
which follows the rollover of routing/crisis_rollover.py and owns the claims through
queues/crisis_claims.py) and answers TwiML for the step it chose.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, g, request, url_for
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from ivr.callers import menu_twiml as twiml
from ivr.webhook import caller, config, int_arg, language, twilio_blueprint, xml
from queues import runtime
from queues.crisis_path import Answer, CrisisPath, DialEnd, Records, Ringing, Taker
from routing.crisis_rollover import Do, Stage
from routing.menu import Choice, Step, first_key
from routing.numbers import is_withheld

log = logging.getLogger(__name__)

# Words of the caller quoted in a whisper: enough to know, short enough to answer quickly.
WHISPER_WORDS = 60
ACCEPT_KEY = "1"


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
    said = who.speech or " ".join(choice.matched)
    ringing = crisis_path().start(
        who.call_sid,
        chosen,
        choice.reason,
        choice.matched,
        said,
        ring_limit=twiml.MAX_DIAL_NUMBERS,
    )
    report = None
    if ringing.next.report_at is not None and who.call_sid:
        # Nothing was recorded: the line's leg reports back here with what the record needs.
        report = url_for(
            "crisis.unrecorded",
            lang=chosen,
            call=who.call_sid,
            why=choice.reason,
            at=ringing.next.report_at,
            w=" ".join(said.split())[:WHISPER_WORDS],
        )
    return _render(chosen, ringing, said=said, report=report)


@bp.post("/unrecorded")
def unrecorded() -> Response:
    """The crisis line's leg reports on a crisis Redis missed: the incident and the alert."""
    crisis_path().record_late(
        request.args.get("call", "")[:64],
        language(),
        request.args.get("why", "danger_key")[:32],
        request.args.get("w", "")[:WHISPER_WORDS],
        request.args.get("at", ""),
    )
    return xml(twiml.empty())


@bp.post("/whisper")
def whisper() -> Response:
    """A rung agent or supervisor answered: tell them it is a crisis call and what was said."""
    chosen, call_sid, taker_id, role = _leg_args()
    crisis_path().picked_up(call_sid, taker_id)
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
    # This request comes on the taker's own leg: the leg check looks it up by this SID.
    answer = crisis_path().answer(
        call_sid,
        taker_id,
        role,
        accepted=first_key(caller().digits) == ACCEPT_KEY,
        taker_leg=caller().call_sid,
    )
    if answer is Answer.TAKEN:
        return xml(twiml.crisis_put_through())
    prompt = {
        Answer.DECLINED: "agent_declined",
        Answer.CALLER_GONE: "agent_caller_gone",
        Answer.TAKEN_BY_OTHER: "crisis_taken",
    }[answer]
    return xml(twiml.say_and_hang_up(config(), chosen, prompt))


@bp.post("/agents")
def agents_done() -> Response:
    """The ring of crisis-trained agents ended: talked, caller gone, or on to the crisis line."""
    chosen = language()
    ringing = crisis_path().ring_ended(caller().call_sid, Stage.AGENTS, chosen, _dial_end())
    return _render(chosen, ringing)


@bp.post("/next")
def crisis_next() -> Response:
    """A crisis line's dial ended: done if answered, else the next line, else the supervisors."""
    chosen = language()
    index = int_arg("n", 0, len(config().crisis.lines_for(chosen)) - 1)
    ringing = crisis_path().line_ended(
        caller().call_sid, index, chosen, _dial_end(), ring_limit=twiml.MAX_DIAL_NUMBERS
    )
    return _render(chosen, ringing)


@bp.post("/supervisors")
def supervisors_done() -> Response:
    """The ring of supervisors ended: one talked to the caller, or the numbers are said again."""
    chosen = language()
    ringing = crisis_path().ring_ended(caller().call_sid, Stage.SUPERVISORS, chosen, _dial_end())
    return _render(chosen, ringing)


# --- helpers ---------------------------------------------------------------------------------


def _render(
    chosen: str, ringing: Ringing, *, said: str = "", report: str | None = None
) -> Response:
    """The TwiML of the step the crisis path chose."""
    settings, step = config(), ringing.next
    if step.do is Do.RING_AGENTS:
        return xml(
            twiml.crisis_ring(
                settings,
                chosen,
                _targets(chosen, ringing.takers, said),
                url_for("crisis.agents_done", lang=chosen),
                _hotline_number(),
                timeout=settings.crisis.ring_s,
            )
        )
    if step.do is Do.DIAL_LINE:
        return xml(_dial(chosen, step.line, step.words, report))
    if step.do is Do.RING_SUPERVISORS:
        return xml(
            twiml.crisis_numbers_then_supervisors(
                settings,
                chosen,
                _targets(chosen, ringing.takers, ""),
                url_for("crisis.supervisors_done", lang=chosen),
                _hotline_number(),
            )
        )
    if step.do is Do.GOODBYE:
        return xml(twiml.goodbye(settings, chosen))
    if step.do is Do.NOTHING:
        return xml(twiml.empty())
    return xml(twiml.crisis_failed(settings, chosen))


def _dial(chosen: str, index: int, words: str, report: str | None) -> VoiceResponse:
    """Dial the crisis line at an index of the language's list (its leg reporting to `report`)."""
    settings = config()
    line = settings.crisis.lines_for(chosen)[index]
    action = url_for("crisis.crisis_next", lang=chosen, n=index)
    # The caller's own number goes to the crisis line, so it can call back if the line drops;
    # a withheld one cannot be called back, so the line sees the hotline's and can call that.
    number = caller().number
    caller_id = _hotline_number() if is_withheld(number) else number
    if not words:
        return twiml.crisis_line(settings, line, action, caller_id, report=report)
    first = words == "crisis_intro"
    return twiml.crisis_dial(settings, chosen, line, action, caller_id, first=first)


def _targets(chosen: str, takers: list[Taker], said: str) -> list[tuple[str, str]]:
    """Each rung person's phone and the whisper they hear, carrying the call and its words."""
    call_sid = caller().call_sid
    words = " ".join(said.split())[:WHISPER_WORDS]
    return [
        (
            taker.phone,
            url_for(
                "crisis.whisper",
                lang=chosen,
                call=call_sid,
                who=taker.id,
                role=taker.role,
                w=words,
            ),
        )
        for taker in takers
    ]


def _dial_end() -> DialEnd:
    """How the dial of the caller's leg ended, from Twilio's action request."""
    form = request.form
    return DialEnd(
        status=form.get("DialCallStatus", ""),
        bridged=form.get("DialBridged") == "true",
        caller_hung_up=form.get("CallStatus") == "completed",
        talk_s=form.get("DialCallDuration", ""),
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


def crisis_path() -> CrisisPath:
    """The crisis path on the app's Redis, with this request's best-effort records."""
    records = g.get("crisis_records")
    if records is None:
        records = g.crisis_records = Records()
    rt = runtime.serving()
    return CrisisPath(
        rt.redis,
        config(),
        records,
        script=rt.script,
        now=rt.now,
        incidents=rt.incidents,
        calls=rt.calls,
    )


def _hotline_number() -> str:
    """The hotline's own number: the caller ID agents and supervisors see."""
    return current_app.config["SETTINGS"].hotline_number
