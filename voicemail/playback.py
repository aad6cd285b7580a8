"""A message's audio for an agent's phone: a short-lived signed link, decrypted on the fly.

Twilio fetches `<Play>` audio with a plain GET and no credentials of ours, so this blueprint
has no Twilio signature check: the link's own HMAC signature and expiry let a request in, and
every fetch is audited under the listener the link was made for.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from voicemail import callbacks, links, twiml
from voicemail import runtime as voicemail_runtime
from voicemail.messages import MessageStore, audit, stamp
from voicemail.vault import VaultError

log = logging.getLogger(__name__)

bp = Blueprint("voicemail_audio", __name__, url_prefix="/voicemail/audio")


@bp.get("/<recording_sid>.mp3")
def audio(recording_sid: str) -> Response:
    """Stream a message's decrypted audio to the holder of a valid link."""
    now = current_app.config["CLOCK"]()
    try:
        link = links.check(
            current_app.config["SECRET_KEY"], recording_sid, request.args, now=now.timestamp()
        )
    except links.LinkRefused as error:
        log.warning("voicemail %s: audio link refused (%s)", recording_sid[:40], error)
        abort(403)
    rt = voicemail_runtime.build(current_app._get_current_object())
    try:
        chunks = list(rt.vault.stream(recording_sid))
    except (VaultError, ValueError) as error:
        log.error("voicemail %s: audio unavailable: %s", recording_sid, error)
        abort(404)
    audit(rt.redis, "played", recording_sid, actor=f"phone:{link.who}", now=now, via="call")
    return Response(chunks, mimetype="audio/mpeg", headers={"Cache-Control": "no-store"})


def listen_first(
    call_id: str, language: str, listener: str, whisper: VoiceResponse
) -> VoiceResponse:
    """Put a callback task's message before its whisper; any other call is left as it is."""
    recording_sid = callbacks.recording_of(call_id)
    if recording_sid is None:
        return whisper
    rt = voicemail_runtime.build(current_app._get_current_object())
    message = MessageStore(rt.redis).get(recording_sid)
    if message is None or not message.audio_sha256:
        return whisper
    now = current_app.config["CLOCK"]()
    params = links.sign(
        current_app.config["SECRET_KEY"],
        recording_sid,
        listener,
        now=now.timestamp(),
        minutes=current_app.config["HOTLINE"].voicemail.play_link_minutes,
    )
    MessageStore(rt.redis).set_fields(recording_sid, {"offered_at": stamp(now)})
    url = url_for("voicemail_audio.audio", recording_sid=recording_sid, **params)
    return twiml.listen_first(current_app.config["HOTLINE"], language, url, whisper)
