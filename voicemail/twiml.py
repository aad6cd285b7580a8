"""TwiML of voicemail: the recording, the thanks after it, and the message an agent hears first."""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, Play, Say, Start, VoiceResponse

from routing.config import HotlineConfig


def _say(response: VoiceResponse, config: HotlineConfig, language: str, prompt: str) -> None:
    """Speak a configured prompt in a language's Twilio voice."""
    spoken = config.languages[language]
    response.say(config.prompt(prompt, language), voice=spoken.voice, language=spoken.say_language)


def record_message(
    config: HotlineConfig,
    language: str,
    action_url: str,
    recording_status_url: str,
    transcribe_url: str,
    transcript_url: str | None = None,
) -> VoiceResponse:
    """Invite a message, record it, and say goodbye when nothing was recorded.

    With `transcript_url`, the caller's words are transcribed as they speak (Twilio's real-time
    transcription, in the caller's language, Mandarin or English), each final line sent there.
    """
    settings = config.voicemail
    response = VoiceResponse()
    _say(response, config, language, "voicemail_invite")
    extra = {}
    # Twilio's own transcription of the recording (English only): an option kept beside the
    # real-time one, which every message gets (docs/live-assist.md, "Voicemail transcripts").
    if settings.transcribe:
        extra = {"transcribe": True, "transcribe_callback": transcribe_url}
    if transcript_url:
        # Started just before the beep: what the caller says in the message, not before it.
        response.append(realtime_transcription(config, language, transcript_url))
    response.record(
        action=action_url,
        method="POST",
        max_length=settings.max_length_s,
        # The danger key ends a message too, so a caller in danger is never stuck recording.
        finish_on_key=settings.finish_key + config.danger_key,
        play_beep=settings.play_beep,
        trim="trim-silence" if settings.trim_silence else "do-not-trim",
        recording_status_callback=recording_status_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed",
        **extra,
    )
    # Twilio goes on here only when nothing was recorded (silence, or a key straight away).
    _say(response, config, language, "goodbye")
    response.hangup()
    return response


def realtime_transcription(config: HotlineConfig, language: str, callback_url: str) -> Start:
    """The `<Start><Transcription>` of a message: the caller's track, final lines only."""
    start = Start()
    start.transcription(
        name="voicemail",
        track="inbound_track",
        language_code=config.assist.transcription_language(language),
        partial_results=False,
        status_callback_url=callback_url,
        status_callback_method="POST",
    )
    return start


def thanks(config: HotlineConfig, language: str) -> VoiceResponse:
    """Thank the caller for their message and end the call."""
    response = VoiceResponse()
    _say(response, config, language, "voicemail_thanks")
    _say(response, config, language, "goodbye")
    response.hangup()
    return response


def to_crisis(crisis_url: str) -> VoiceResponse:
    """The danger key ended the recording: go straight to the crisis path."""
    response = VoiceResponse()
    response.redirect(crisis_url, method="POST")
    return response


def empty() -> VoiceResponse:
    """Nothing to do (recording and transcription callbacks)."""
    return VoiceResponse()


def listen_first(
    config: HotlineConfig, language: str, audio_url: str, whisper: VoiceResponse
) -> VoiceResponse:
    """Play the caller's message inside an agent's whisper, just before the accept choice."""
    spoken = config.languages[language]
    gather = next((verb for verb in whisper.verbs if isinstance(verb, Gather)), None)
    # Inside the Gather the agent may press 1 (or 2) while the message still plays.
    target = gather if gather is not None else whisper
    at = max(len(target.verbs) - 1, 0) if gather is not None else 0
    target.verbs[at:at] = [
        Say(config.prompt("voicemail_whisper", language), voice=spoken.voice,
            language=spoken.say_language),
        Play(audio_url),
    ]  # fmt: skip
    return whisper
