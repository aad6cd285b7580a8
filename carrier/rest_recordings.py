"""Twilio's Recording resources on the stand-in: the account's, a conference's and a call's.

The account's `/Recordings/{Sid}` gives metadata (`.json`), media (`.wav`, `.mp3`, or no
extension) and DELETE; `/Conferences/{CF}/Recordings` and `/Calls/{CA}/Recordings` list, fetch,
update (Status paused, in-progress or stopped; `Twilio.CURRENT` for the active one) and delete;
`POST /Calls/{CA}/Recordings.json` records a live call from now on. A deleted recording answers
404 everywhere but stays in the stand-in's memory, so the control API can tell it was deleted.
The routes sit on the REST blueprint, so they share its auth, faults and exchange log.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, request

from carrier import audio, recordings
from carrier.clock import rfc2822
from carrier.network import Recording
from carrier.rest import (
    API_VERSION,
    TwilioError,
    _base,
    _call,
    _conference,
    _events,
    _form,
    _method,
    _not_found,
    _page,
    bp,
    carrier,
)

CURRENT = "Twilio.CURRENT"
CHANNELS = {"mono": 1, "dual": 2}
TRACKS = ("inbound", "outbound", "both")


# -- shapes ---------------------------------------------------------------------------------


def _common(recording: Recording) -> dict[str, Any]:
    """Return the fields every Recording shape shares."""
    active = recording.status in recordings.ACTIVE
    return {
        "account_sid": recording.account_sid,
        "api_version": API_VERSION,
        "call_sid": recording.call_sid,
        "conference_sid": recording.conference_sid,
        "date_created": rfc2822(recording.created),
        "date_updated": rfc2822(recording.updated or recording.created),
        "start_time": rfc2822(recording.created),
        # Twilio gives -1 until the recording is complete.
        "duration": "-1" if active else str(recording.duration),
        "sid": recording.sid,
        "price": None,
        "price_unit": "USD",
        "status": recording.status,
        "channels": recording.channels,
        "source": recording.source,
        "error_code": recording.error_code,
        "encryption_details": None,
    }


def recording_json(recording: Recording) -> dict[str, Any]:
    """Render a recording like Twilio's account-level Recording resource."""
    base = f"{_base(recording.account_sid)}/Recordings/{recording.sid}"
    return {
        **_common(recording),
        "uri": f"{base}.json",
        "subresource_uris": {
            "add_on_results": f"{base}/AddOnResults.json",
            "transcriptions": f"{base}/Transcriptions.json",
        },
        "media_url": recordings.media_url(carrier().settings.public_url, recording),
    }


def conference_recording_json(recording: Recording) -> dict[str, Any]:
    """Render a recording like Twilio's Conference Recording resource."""
    base = f"{_base(recording.account_sid)}/Conferences/{recording.conference_sid}"
    return {**_common(recording), "uri": f"{base}/Recordings/{recording.sid}.json"}


def call_recording_json(recording: Recording) -> dict[str, Any]:
    """Render a recording like Twilio's Call Recording resource."""
    base = f"{_base(recording.account_sid)}/Calls/{recording.call_sid}"
    return {
        **_common(recording),
        "uri": f"{base}/Recordings/{recording.sid}.json",
        "track": "both",
    }


def _kept(**match: str | None) -> list[Recording]:
    """Return the recordings not deleted whose fields match, newest first."""
    network = carrier().network
    with network.cond:
        found = [
            r
            for r in network.recordings.values()
            if not r.deleted and all(getattr(r, k) == v for k, v in match.items())
        ]
    return sorted(found, key=lambda r: r.created, reverse=True)


def _delete(recording: Recording) -> tuple[str, int]:
    """Delete a finished recording's media; Twilio keeps no copy after this."""
    network = carrier().network
    with network.cond:
        if recording.status in recordings.ACTIVE:
            raise TwilioError(400, 20001, "A recording in progress cannot be deleted; stop it")
        recording.deleted = True
        recording.status = "deleted"
        recording.pcm = b""
        recording.updated = network.clock.utcnow()
    return "", 204


def _update(recording: Recording) -> None:
    """Pause, resume or stop an active recording from the request's Status and PauseBehavior."""
    status = _form("Status")
    if status not in ("paused", "in-progress", "stopped"):
        raise TwilioError(400, 20001, "Status must be paused, in-progress or stopped")
    behavior = _form("PauseBehavior") or "silence"
    if behavior not in recordings.PAUSE_BEHAVIORS:
        raise TwilioError(400, 20001, "PauseBehavior must be skip or silence")
    if recording.status not in recordings.ACTIVE:
        raise TwilioError(400, 20001, f"The recording is {recording.status}, not in progress")
    recordings.change(carrier().network, recording, status, behavior)


# -- the account's recordings -----------------------------------------------------------------


@bp.get("/Accounts/<account_sid>/Recordings.json")
def list_recordings(account_sid: str) -> Response:
    """List recordings, newest first, filtered by CallSid and ConferenceSid."""
    network = carrier().network
    with network.cond:
        found = sorted(network.recordings.values(), key=lambda r: r.created, reverse=True)
    if (request.args.get("IncludeSoftDeleted") or "").lower() != "true":
        found = [r for r in found if not r.deleted]
    for name, field in (("CallSid", "call_sid"), ("ConferenceSid", "conference_sid")):
        wanted = request.args.get(name)
        if wanted is not None:
            found = [r for r in found if getattr(r, field) == wanted]
    return jsonify(_page([recording_json(r) for r in found], "recordings"))


@bp.route("/Accounts/<account_sid>/Recordings/<name>", methods=["GET", "DELETE"])
def recording(account_sid: str, name: str) -> Response | tuple[str, int]:
    """Fetch a recording's metadata (.json) or media (.wav, .mp3, or no extension), or delete it."""
    sid, _, extension = name.partition(".")
    found = carrier().network.recordings.get(sid)
    if found is None or found.deleted:
        raise _not_found()
    if request.method == "DELETE":
        if extension not in ("", "json"):
            raise _not_found()
        return _delete(found)
    if extension == "json":
        return jsonify(recording_json(found))
    if found.status != "completed":
        # No media until the recording is complete (and none for an absent one).
        raise _not_found()
    if extension in ("", "wav"):
        return Response(_wav(found), mimetype="audio/x-wav")
    if extension == "mp3":
        try:
            return Response(audio.to_mp3(found.pcm), mimetype="audio/mpeg")
        except ImportError:
            raise TwilioError(415, 20001, "MP3 needs the lameenc package on the carrier") from None
    raise _not_found()


def _wav(recording: Recording) -> bytes:
    """Return a recording's WAV: mono, or for a dual-channel one the same audio on both sides."""
    wav = audio.to_wav(recording.pcm)
    if recording.channels == 1:
        return wav
    with wave.open(io.BytesIO(wav)) as mono:
        frames = mono.readframes(mono.getnframes())
    both = b"".join(frames[i : i + 2] * 2 for i in range(0, len(frames), 2))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as stereo:
        stereo.setnchannels(2)
        stereo.setsampwidth(2)
        stereo.setframerate(audio.RATE)
        stereo.writeframes(both)
    return buffer.getvalue()


# -- a conference's recordings ----------------------------------------------------------------


def _by_sid(sid: str, **owner: str) -> Recording | None:
    """A recording by SID, or for Twilio.CURRENT the active one of its call or conference."""
    if sid == CURRENT:
        return recordings.current(carrier().network, **owner)
    return carrier().network.recordings.get(sid)


def _answer(
    found: Recording, shown: Callable[[Recording], dict[str, Any]]
) -> Response | tuple[str, int]:
    """Answer a fetch (GET), update (POST) or delete (DELETE) of one recording found by its
    owner's route, shown as that route shows it."""
    if request.method == "DELETE":
        return _delete(found)
    if request.method == "POST":
        _update(found)
    return jsonify(shown(found))


def _conference_recording(conference_sid: str, sid: str) -> Recording:
    """Return a conference's recording by SID (or Twilio.CURRENT), or raise 404."""
    conference = _conference(conference_sid)
    found = _by_sid(sid, conference_sid=conference.sid)
    if found is None or found.deleted or found.conference_sid != conference.sid:
        raise _not_found()
    return found


@bp.get("/Accounts/<account_sid>/Conferences/<conference_sid>/Recordings.json")
def list_conference_recordings(account_sid: str, conference_sid: str) -> Response:
    """List a conference's recordings, newest first."""
    conference = _conference(conference_sid)
    found = _kept(conference_sid=conference.sid)
    return jsonify(_page([conference_recording_json(r) for r in found], "recordings"))


@bp.route(
    "/Accounts/<account_sid>/Conferences/<conference_sid>/Recordings/<sid>.json",
    methods=["GET", "POST", "DELETE"],
)
def conference_recording(
    account_sid: str, conference_sid: str, sid: str
) -> Response | tuple[str, int]:
    """Fetch, update (pause, resume, stop) or delete one of a conference's recordings."""
    return _answer(_conference_recording(conference_sid, sid), conference_recording_json)


# -- a call's recordings ----------------------------------------------------------------------


def _call_recording(call_sid: str, sid: str) -> Recording:
    """Return a call's recording by SID (or Twilio.CURRENT), or raise 404."""
    call = _call(call_sid)
    found = _by_sid(sid, call_sid=call.sid)
    if found is None or found.deleted or found.call_sid != call.sid or found.conference_sid:
        raise _not_found()
    return found


@bp.post("/Accounts/<account_sid>/Calls/<call_sid>/Recordings.json")
def record_call(account_sid: str, call_sid: str) -> tuple[Response, int]:
    """Start recording a live call from now until it ends or the recording is stopped."""
    call = _call(call_sid)
    if call.status != "in-progress":
        raise TwilioError(400, 21220, "Call is not in-progress. Cannot start recording.")
    channels = CHANNELS.get(_form("RecordingChannels") or "mono")
    if channels is None:
        raise TwilioError(400, 20001, "RecordingChannels must be mono or dual")
    if (_form("RecordingTrack") or "both") not in TRACKS:
        raise TwilioError(400, 20001, "RecordingTrack must be inbound, outbound or both")
    events = _events("RecordingStatusCallbackEvent", ("completed",))
    unknown = sorted(set(events) - set(recordings.EVENT_STATUS))
    if unknown:
        raise TwilioError(400, 20001, f"Unknown RecordingStatusCallbackEvent {unknown[0]}")
    order = recordings.Order(
        url=_form("RecordingStatusCallback"),
        method=_method("RecordingStatusCallbackMethod"),
        events=events,
    )
    found = recordings.record_call(carrier().driver, call, order, channels=channels)
    return jsonify(call_recording_json(found)), 201


@bp.get("/Accounts/<account_sid>/Calls/<call_sid>/Recordings.json")
def list_call_recordings(account_sid: str, call_sid: str) -> Response:
    """List a call's own recordings (not its conferences'), newest first."""
    call = _call(call_sid)
    found = [r for r in _kept(call_sid=call.sid) if r.conference_sid is None]
    return jsonify(_page([call_recording_json(r) for r in found], "recordings"))


@bp.route(
    "/Accounts/<account_sid>/Calls/<call_sid>/Recordings/<sid>.json",
    methods=["GET", "POST", "DELETE"],
)
def call_recording(account_sid: str, call_sid: str, sid: str) -> Response | tuple[str, int]:
    """Fetch, update (pause, resume, stop) or delete one of a call's recordings."""
    return _answer(_call_recording(call_sid, sid), call_recording_json)
