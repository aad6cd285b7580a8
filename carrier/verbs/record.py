"""<Record>: record what the party says, keep it, and request the action and status callback."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from carrier import audio, callbacks, hearing, recordings, streams, twiml_reader
from carrier.clock import rfc2822
from carrier.document import Document, Ended
from carrier.network import Recording, new_sid

if TYPE_CHECKING:
    from carrier.leg import Leg

# Twilio's defaults for a Record that leaves them out.
RECORD_TIMEOUT_S = 5
RECORD_MAX_LENGTH_S = 3600
RECORD_FINISH_KEYS = "1234567890*#"


def record(leg: Leg, verb: ET.Element, document: Document) -> Document | None:
    """Record the party until silence, a finishing key or a hang-up; return the action document."""
    timeout = twiml_reader.integer(verb, "timeout", RECORD_TIMEOUT_S)
    max_length = twiml_reader.integer(verb, "maxLength", RECORD_MAX_LENGTH_S)
    finish_keys = verb.get("finishOnKey", RECORD_FINISH_KEYS)
    if twiml_reader.flag(verb, "playBeep", True):
        leg.transcript.add(leg.clock.now(), "played", name="beep")
    leg.where = "record"
    started = leg.clock.now()
    speech = _voicemail_audio(leg, started)[: 2 * audio.RATE * max_length]
    digits: str | None = None
    hung_up: Ended | None = None
    try:
        # Talk lines due while recording are said (and so streamed and transcribed).
        hearing.talk_while(leg, audio.duration(speech), where="record")
        step = _peek_finish_key(leg, finish_keys)
        if step is not None:
            digits = step
            leg.transcript.add(leg.clock.now(), "pressed", keys=step)
        else:
            leg.idle(min(timeout, max(max_length - audio.duration(speech), 0)))
    except Ended as ended:
        hung_up, digits = ended, "hangup"
    elapsed = leg.clock.now() - started
    pcm = speech[: 2 * audio.RATE * int(elapsed)] if hung_up else speech
    if hung_up is None and digits is None:
        pcm += audio.silence(min(timeout, max_length - audio.duration(speech)))
    if (verb.get("trim") or "trim-silence") == "trim-silence":
        pcm = audio.trim_silence(pcm)
    leg.where = "call"
    if not pcm:
        leg.transcript.add(leg.clock.now(), "recorded", seconds=0, note="nothing recorded")
        if hung_up:
            raise hung_up
        return None
    recording = _store_recording(leg, pcm)
    params = {
        "RecordingUrl": _recording_url(leg, recording),
        "RecordingSid": recording.sid,
        "RecordingDuration": str(recording.duration),
    }
    if digits:
        params["Digits"] = digits
    _recording_callback(leg, verb, document, recording)
    if hung_up:
        callbacks.after_hangup(leg, verb, document, params)
        raise hung_up
    action = document.join(verb.get("action", "")) if verb.get("action") else document.url
    if action is None:
        return None
    return document.follow(action, verb.get("method"), "record-action", params=params)


def _voicemail_audio(leg: Leg, started: float) -> bytes:
    """Return what the party says when recorded, from their script: its voicemail, else the
    talk lines still to say, each at its time."""
    script = leg.party.script
    if script.talk:
        hearing.start_talking(leg, started)
    if script.voicemail is None:
        return _talk_audio(leg, started)
    if script.voicemail == "silence":
        return audio.silence(script.voicemail_seconds)
    if script.voicemail == "speech":
        return audio.speech_like(script.voicemail_seconds, seed=hash(leg.call.sid) & 0xFFFF)
    if "/" not in script.voicemail and streams.voice_path(script.voicemail).exists():
        # A voice's name (carrier/voices): the call's media streams carry it too.
        leg.driver.streams.said(leg.call.sid, script.voicemail, started)
        return streams.voice_pcm(script.voicemail)
    return audio.load_wav(script.voicemail)


def _talk_audio(leg: Leg, started: float) -> bytes:
    """Return the talk lines left to say as recorded sound: each line's voice at its time, or
    speech-like sound as long as its words take when it has none."""
    party = leg.party
    if party.talk_from is None:
        return b""
    pcm = bytearray()
    for line in party.script.talk[party.talk_next :]:
        sound = b""
        if line.audio is not None:
            try:
                sound = streams.voice_pcm(line.audio)
            except (OSError, EOFError, ValueError):
                sound = b""  # a missing voice still leaves the line's words
        if not sound:
            sound = audio.speech_like(_speaking_s(line.say), seed=len(pcm) & 0xFFFF)
        position = 2 * int(audio.RATE * max(party.talk_from + line.after - started, 0.0))
        if len(pcm) < position:
            pcm.extend(bytes(position - len(pcm)))
        pcm[position : position + len(sound)] = sound
    return bytes(pcm)


def _speaking_s(text: str) -> float:
    """Return about how long words take to say: a Chinese character or a word a few tenths."""
    chinese = sum(1 for char in text if "\u4e00" <= char <= "\u9fff")
    words = len("".join(char if char < "\u4e00" else " " for char in text).split())
    return max(0.22 * chinese + 0.35 * words, 0.8)


def _peek_finish_key(leg: Leg, finish_keys: str) -> str | None:
    """Consume the party's next step when it presses a key that ends the recording."""
    step = leg.party.peek()
    if step is not None and step.kind == "press" and step.value[0] in finish_keys:
        leg.party.next_step()
        return step.value[0]
    return None


def _store_recording(leg: Leg, pcm: bytes) -> Recording:
    """Keep a recording of this call and note it in the transcript."""
    recording = Recording(
        sid=new_sid("RE"),
        account_sid=leg.call.account_sid,
        call_sid=leg.call.sid,
        created=leg.clock.utcnow(),
        pcm=pcm,
        duration=max(1, round(audio.duration(pcm))),
    )
    with leg.network.cond:
        leg.network.recordings[recording.sid] = recording
    leg.transcript.add(
        leg.clock.now(), "recorded", recording_sid=recording.sid, seconds=recording.duration
    )
    leg.transcript.note_outcome(
        voicemail={"recording_sid": recording.sid, "seconds": recording.duration}
    )
    return recording


def _recording_url(leg: Leg, recording: Recording) -> str:
    """Return a recording's media URL on the carrier, shaped like Twilio's."""
    return recordings.media_url(leg.settings.public_url, recording)


def _recording_callback(
    leg: Leg, verb: ET.Element, document: Document, recording: Recording
) -> None:
    """Send the recordingStatusCallback for a finished recording when asked."""
    url = verb.get("recordingStatusCallback")
    events = (verb.get("recordingStatusCallbackEvent") or "completed").replace(",", " ").split()
    if not url or "completed" not in events:
        return
    params = {
        "AccountSid": leg.call.account_sid,
        "CallSid": leg.call.sid,
        "RecordingSid": recording.sid,
        "RecordingUrl": _recording_url(leg, recording),
        "RecordingStatus": "completed",
        "RecordingDuration": str(recording.duration),
        "RecordingChannels": "1",
        "RecordingSource": "RecordVerb",
        "RecordingStartTime": rfc2822(recording.created) or "",
    }
    callbacks.send(
        leg,
        document.join(url),
        (verb.get("recordingStatusCallbackMethod") or "POST").upper(),
        params,
        "recording",
    )
