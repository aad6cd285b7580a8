"""Webhooks that bring a caller to the agent who accepted them: out of the waiting room, or
called back. Both meet in the conference named by the reservation; when it ends, the caller's
`<Dial>` action asks for a one-key rating (`ivr/callers/survey.py`). The conference reports each
participant joining (`joined`): the call counts as bridged once both sides were seen, and an
agent never seen there before their leg ended sends the caller back to their waiting room."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Response, current_app, request, url_for
from redis import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ivr import webhook as hook
from ivr.callers import live_audio
from ivr.callers import menu_twiml as twiml
from queues import dispatch, live_assist, runtime
from queues.reservations import NOT_JOINED, Reservation
from routing import follow_ups
from telephony.signature import public_url
from voicemail import callbacks as voicemail_callbacks
from voicemail import consultation_jobs, consultations
from voicemail import runtime as voicemail_runtime

log = logging.getLogger(__name__)

bp = hook.twilio_blueprint("bridge", __name__, "/voice/connect")

# Statuses of a callback leg that mean the caller was not reached.
UNREACHED = ("no-answer", "busy", "failed", "canceled")
# A callback answered in one of these (connected now, or already): its agent is still there.
ANSWERED_STATES = ("connected", "accepted")
# What a called-back caller hears when the agent left before they answered.
AGENT_GONE = "callback_agent_gone"
# Where the live transcription of a bridged call is posted (ivr/callers/live_transcript.py).
TRANSCRIPT_PATH = "/voice/assist/transcript"


@bp.post("/queued")
def queued() -> Response:
    """The waiting caller, redirected out of the queue, joins the agent's conference."""
    rt = runtime.serving()
    routing = rt.routing
    rid = hook.reservation_id()
    try:
        offer = routing.reservations.get(rid)
    except RedisError as error:
        # Only an accepted reservation redirects a caller here, and its agent waits in the
        # conference it names: meet them there; the record can wait for Redis.
        log.warning("caller joins %s with Redis unreachable: %s", rid, type(error).__name__)
        return _join(rid, hook.language(), "connecting")
    language = offer.language if offer else hook.language()
    if offer is None:
        # The reservation is unknown (expired or forged): keep the caller on the general path.
        return hook.xml(twiml.apology(hook.config(), language, _general_route(language)))
    if offer.state == NOT_JOINED:
        # The agent's leg ended before they joined: the caller waits again, first in line.
        return _back_to_queue(language, offer.area)
    # The caller is not marked as there yet: Twilio may never use this answer (it gave up
    # waiting and its fallback took the call), so only the conference's report of their join
    # counts the call as answered.
    return _join(
        rid,
        language,
        "connecting",
        recorded=_recording_url(rt, offer),
        live=_live_assist(rt, rid, language),
    )


@bp.post("/joined")
def joined() -> Response:
    """The conference's report of a participant joining: the caller or the agent was there."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    if request.form.get("StatusCallbackEvent", "") != "participant-join":
        return hook.xml(twiml.empty())
    offer = rt.routing.reservations.get(rid)
    leg = hook.caller().call_sid
    if offer is None or not leg:
        return hook.xml(twiml.empty())
    # Anyone but the caller is the agent: help is brought in only by an agent already there
    # (their in-call menu), and a repeat of the mark changes nothing.
    party = "caller" if leg == offer.call_sid else "agent"
    rt.routing.reservations.joined(rid, party, rt.now())
    return hook.xml(twiml.empty())


@bp.post("/callback")
def callback() -> Response:
    """The caller picked up our callback: greet them and join the agent's conference (or, if
    the agent already left, say we will call again and hang up)."""
    rt = runtime.serving()
    routing = rt.routing
    rid = hook.reservation_id()
    try:
        offer = routing.reservations.get(rid)
    except RedisError as error:
        # The agent who accepted waits in the reservation's conference: join them there.
        log.warning(
            "called-back caller joins %s with Redis unreachable: %s", rid, type(error).__name__
        )
        return _join(rid, hook.language(), "callback_greeting")
    if offer is None:
        return hook.xml(twiml.goodbye(hook.config(), hook.language()))
    answered = routing.reservations.callback_answered(rid, rt.now())
    if answered.state not in ANSWERED_STATES:
        # The agent left while the phone rang (the task is due again): an empty conference
        # would leave the caller alone in silence, so they hear that we will call again.
        log.info("called-back caller of %s answered after the agent left", rid)
        return hook.xml(twiml.say_and_hang_up(hook.config(), offer.language, AGENT_GONE))
    if answered.changed:
        # A voicemail's callback reaching its caller is the message called back.
        voicemail_callbacks.called_back(rt, offer.call_sid, rt.now())
    routing.reservations.bridged(rid, rt.now())
    live = _live_assist(rt, rid, offer.language)
    return _join(rid, offer.language, _greeting(offer.call_sid), live=live)


@bp.post("/callback-status")
def callback_status() -> Response:
    """The callback leg ended: an unreached caller is retried later, then closed."""
    rt = runtime.serving()
    if request.form.get("CallStatus", "") in UNREACHED:
        transition = rt.routing.reservations.callback_missed(hook.reservation_id(), rt.now())
        log.info("callback %s not reached: %s", hook.reservation_id(), transition.state)
        if transition.changed:
            # Only this offer's own agent waits to be told: once its agent left, the task may
            # already be another agent's, whose leg the call's record now names.
            dispatch.end_agent_leg(rt, hook.reservation_id())
    return hook.xml(twiml.empty())


def _greeting(call_sid: str) -> str:
    """What a called-back caller hears first: a follow-up never booked the callback itself."""
    return "followup_greeting" if follow_ups.call_of(call_sid) else "callback_greeting"


def _join(
    rid: str,
    language: str,
    prompt: str,
    *,
    recorded: str | None = None,
    live: twiml.LiveAssist | None = None,
) -> Response:
    """The caller's way into the reservation's conference, and to the rating after it."""
    return hook.xml(
        twiml.conference(
            hook.config(),
            language,
            rid,
            prompt=prompt,
            agent=False,
            action=_survey_url(rid, language),
            joined=joined_url(rid),
            recorded=recorded,
            live=live,
        )
    )


def _live_assist(rt: runtime.Runtime, rid: str, language: str) -> twiml.LiveAssist | None:
    """The caller's audio stream and live transcript, on their leg's first way in only.

    A caller who rejoins (a transfer, the agent back from their menu) already streams: Twilio
    keeps a started stream for the whole call, so a second would send the audio twice. With
    Redis unreachable nothing is started, since nothing could be shown.
    """
    config = hook.config()
    leg = hook.caller().call_sid
    if not config.assist.enabled or not leg:
        return None
    try:
        if not live_assist.claim_stream(rt.redis, leg):
            return None
    except RedisError as error:
        log.warning("no live assist for %s, Redis unreachable: %s", rid, type(error).__name__)
        return None
    query = "?" + urlencode({"res": rid})
    return twiml.LiveAssist(
        stream_url=live_audio.stream_url(_public("")),
        transcript_url=_public(TRANSCRIPT_PATH + query),
        language_code=config.assist.transcription_language(language),
        parameters=(("res", rid),),
    )


def _public(path_and_query: str) -> str:
    """An absolute URL of the app as Twilio reaches it: PUBLIC_BASE_URL's, else the request's."""
    settings = current_app.config["SETTINGS"]
    return public_url(
        path_and_query,
        request_url=request.host_url.rstrip("/") + path_and_query,
        public_base_url=settings.public_base_url,
    )


def recording_url(rid: str) -> str | None:
    """Where the reservation's conference reports its recording, if it is to be recorded.

    The participant who starts a conference decides whether it is recorded (the agent, who
    joins first): both sides ask for it, so whoever starts it records a consented call.
    """
    rt = runtime.serving()
    try:
        offer = rt.routing.reservations.get(rid)
    except RedisError as error:
        log.warning("reservation %s unreadable, not recorded: %s", rid, type(error).__name__)
        return None
    return _recording_url(rt, offer) if offer is not None else None


def _recording_url(rt: runtime.Runtime, offer: Reservation) -> str | None:
    """Where the conference's recording is reported, for a caller who consented; else None.

    Only an area that records, and a consent on record, turn recording on: a refusal, or no
    answer at all (Redis missed it, the call came another way), is never recorded.
    """
    area = hook.config().areas.get(offer.area)
    if area is None or not area.recording or offer.kind == "callback":
        return None
    try:
        consented = consultations.Consent(rt.redis).given(offer.call_sid)
    except RedisError as error:
        log.warning("consent of %s unreadable, not recorded: %s", offer.id, type(error).__name__)
        return None
    return url_for("bridge.recorded", res=offer.id) if consented else None


@bp.post("/recorded")
def recorded() -> Response:
    """The conference's recording is finished: registered once, then stored twice by a job."""
    rt = runtime.serving()
    rid = hook.reservation_id()
    form = request.form
    recording = consultation_jobs.Recording(
        recording_sid=form.get("RecordingSid", "").strip()[:64],
        recording_url=form.get("RecordingUrl", "").strip()[:500],
        duration_s=form.get("RecordingDuration", "").strip()[:8],
        status=form.get("RecordingStatus", "").strip()[:20],
    )
    try:
        offer = rt.routing.reservations.get(rid) if rid else None
        record = rt.routing.calls.get(offer.call_sid) if offer else None
        call = consultation_jobs.Call(
            call_sid=offer.call_sid if offer else "",
            reservation=rid,
            caller=record.caller if record else "",
            area=offer.area if offer else "",
            language=offer.language if offer else "",
            agent=offer.agent_id if offer else "",
        )
        consultation_jobs.receive(
            recording, call, runtime=voicemail_runtime.build(current_app._get_current_object())
        )
    except RedisError as error:
        # Twilio does not send it again: the recording stays at Twilio, unregistered.
        log.error(
            "conference recording %s of %s not registered, Redis unreachable: %s",
            recording.recording_sid,
            rid,
            type(error).__name__,
        )
    return hook.xml(twiml.empty())


def agent_join(language: str, rid: str, prompt: str | None = None) -> VoiceResponse:
    """The agent's way into (or back into) the reservation's conference, after a prompt."""
    return twiml.conference(
        hook.config(),
        language,
        rid,
        prompt=prompt,
        agent=True,
        action=url_for("agent_calls.done", res=rid),
        joined=joined_url(rid),
        recorded=recording_url(rid),
    )


def joined_url(rid: str) -> str:
    """Where the reservation's conference reports each participant joining it."""
    return url_for("bridge.joined", res=rid)


def _back_to_queue(language: str, area: str) -> Response:
    """The caller back in their area's Twilio queue; routing kept their place for them."""
    config = hook.config()
    area = area if area in config.areas else config.general_area
    wait_url = url_for("voice.wait", lang=language, area=area)
    action = url_for("voice.queue_result", lang=language, area=area)
    return hook.xml(twiml.enqueue(config, language, area, wait_url, action))


def _survey_url(rid: str, language: str) -> str | None:
    """Where the caller's Dial goes when the conference ends: the rating, unless it is off."""
    if not hook.config().survey.enabled:
        return None
    return url_for("survey.ask", res=rid, lang=language)


def _general_route(language: str) -> str:
    """The general path's route URL."""
    return url_for("voice.route", lang=language, area=hook.config().general_area, fb=1)
