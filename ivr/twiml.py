"""TwiML documents of the phone menu, built with twilio-python's VoiceResponse."""

from __future__ import annotations

from datetime import datetime

from twilio.twiml.voice_response import Gather, VoiceResponse

from routing.classifier import speech_hints
from routing.config import HotlineConfig
from routing.wording import describe_hours, describe_next_opening


def say(node: VoiceResponse | Gather, config: HotlineConfig, language: str, text: str) -> None:
    """Speak a sentence in a language's Twilio voice."""
    spoken = config.languages[language]
    node.say(text, voice=spoken.voice, language=spoken.say_language)


def say_prompt(
    node: VoiceResponse | Gather, config: HotlineConfig, language: str, prompt: str, /, **fields
) -> None:
    """Speak a configured prompt in a language."""
    say(node, config, language, config.prompt(prompt, language, **fields))


def greeting(config: HotlineConfig, action: str, *, preface: tuple[str, ...] = ()) -> VoiceResponse:
    """The greeting and language choice; silence goes on to the default language."""
    response = VoiceResponse()
    first = config.default_language
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=config.gather_timeout_s,
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    for name in preface:
        say_prompt(gather, config, first, name)
    if not preface:
        say_prompt(gather, config, first, "greeting")
    for language in config.languages:
        say_prompt(gather, config, language, "language_menu")
    return response


def area_menu(
    config: HotlineConfig, language: str, action: str, *, preface: tuple[str, ...] = ()
) -> VoiceResponse:
    """The area choice by key or by a spoken sentence, with the danger key offered."""
    response = VoiceResponse()
    spoken = config.languages[language]
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        timeout=config.gather_timeout_s,
        speech_timeout="auto",
        language=spoken.speech_language,
        hints=speech_hints(config.lexicon, language),
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    for name in preface:
        say_prompt(gather, config, language, name)
    say_prompt(gather, config, language, "area_intro")
    for area in config.areas.values():
        say_prompt(gather, config, language, "area_option", name=area.name[language], key=area.key)
    say_prompt(gather, config, language, "danger_option")
    return response


def intake_question(
    config: HotlineConfig,
    language: str,
    area: str,
    question: int,
    action: str,
    *,
    preface: tuple[str, ...] = (),
    area_chosen: bool = False,
) -> VoiceResponse:
    """One intake question by keypad; speech is listened to for crisis words only."""
    response = VoiceResponse()
    spoken = config.languages[language]
    if area_chosen:
        say_prompt(
            response, config, language, "area_chosen", name=config.areas[area].name[language]
        )
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        timeout=config.gather_timeout_s,
        speech_timeout="auto",
        language=spoken.speech_language,
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    for name in preface:
        say_prompt(gather, config, language, name)
    if question == 0 and not preface:
        say_prompt(gather, config, language, "intake_intro")
    say(gather, config, language, config.areas[area].intake[question].question[language])
    return response


def enqueue(
    config: HotlineConfig,
    language: str,
    area: str,
    wait_url: str,
    action: str,
    *,
    preface: tuple[str, ...] = (),
) -> VoiceResponse:
    """Place the caller in the area's Twilio queue with an honest message first."""
    response = VoiceResponse()
    for name in preface:
        say_prompt(response, config, language, name)
    say_prompt(response, config, language, "queue_intro", name=config.areas[area].name[language])
    response.enqueue(area, wait_url=wait_url, wait_url_method="POST", action=action, method="POST")
    return response


def closed(
    config: HotlineConfig, language: str, area: str, now: datetime, action: str
) -> VoiceResponse:
    """Tell the caller the area's hours and next opening; the danger key still works."""
    response = VoiceResponse()
    words = config.calendar[language]
    hours = config.areas[area].hours
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=config.gather_timeout_s, action=action, method="POST"
    )
    say_prompt(
        gather,
        config,
        language,
        "closed",
        name=config.areas[area].name[language],
        hours=describe_hours(hours, words),
        next_open=describe_next_opening(now, hours.next_opening(now), words),
    )
    say_prompt(response, config, language, "goodbye")
    response.hangup()
    return response


def wait_room(
    config: HotlineConfig, language: str, position: int | None, action: str
) -> VoiceResponse:
    """The waiting room's loop: honest position, the danger key, then a quiet hold."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        num_digits=1,
        timeout=config.announce_every_s,
        action=action,
        method="POST",
    )
    if position is not None and position > 1:
        say_prompt(gather, config, language, "wait_position", ahead=position - 1)
    elif position == 1:
        say_prompt(gather, config, language, "wait_next")
    say_prompt(gather, config, language, "wait_danger")
    return response


def wait_key(config: HotlineConfig, language: str, *, leave: bool) -> VoiceResponse:
    """Answer a key pressed while waiting: leave the queue, or say the key is not a choice."""
    response = VoiceResponse()
    if leave:
        response.leave()
    else:
        say_prompt(response, config, language, "invalid_key")
    return response


def crisis_dial(
    config: HotlineConfig,
    language: str,
    number: str,
    action: str,
    caller_id: str,
    *,
    first: bool,
) -> VoiceResponse:
    """Calm words, then the caller's own leg dials a crisis line."""
    response = VoiceResponse()
    say_prompt(response, config, language, "crisis_intro" if first else "crisis_retry")
    dial = response.dial(
        timeout=config.crisis.dial_timeout_s, action=action, method="POST", caller_id=caller_id
    )
    dial.number(number)
    return response


def crisis_failed(config: HotlineConfig, language: str) -> VoiceResponse:
    """Every crisis line failed: give the numbers to call, twice, slowly."""
    response = VoiceResponse()
    say_prompt(response, config, language, "crisis_failed")
    response.pause(length=1)
    say_prompt(response, config, language, "crisis_failed")
    response.hangup()
    return response


def queue_closed(config: HotlineConfig, language: str) -> VoiceResponse:
    """The queue could not hold the caller (full or failed): say so kindly and end."""
    response = VoiceResponse()
    say_prompt(response, config, language, "queue_full")
    response.hangup()
    return response


def goodbye(config: HotlineConfig, language: str) -> VoiceResponse:
    """Thank the caller and end the call."""
    response = VoiceResponse()
    say_prompt(response, config, language, "goodbye")
    response.hangup()
    return response


def apology(config: HotlineConfig, language: str, route_url: str) -> VoiceResponse:
    """Something failed on our side: apologise and continue on the general path."""
    response = VoiceResponse()
    say_prompt(response, config, language, "apology")
    response.redirect(route_url, method="POST")
    return response


def last_resort(config: HotlineConfig, language: str) -> VoiceResponse:
    """The general path itself failed: apologise and queue for a general agent, no extras."""
    response = VoiceResponse()
    say_prompt(response, config, language, "apology")
    response.enqueue(config.general_area)
    return response


def empty() -> VoiceResponse:
    """A document with nothing to do (status callbacks, a caller who already hung up)."""
    return VoiceResponse()


def crisis_lines_only(
    config: HotlineConfig, language: str, *, preface: str = "crisis_intro"
) -> VoiceResponse:
    """Dial each crisis line in turn with no URL back to the app, then give the numbers."""
    response = VoiceResponse()
    say_prompt(response, config, language, preface)
    # Without an action, Twilio goes on to the next verb when a dial fails: each line in turn.
    for number in config.crisis.lines_for(language):
        response.dial(timeout=config.crisis.dial_timeout_s).number(number)
    say_prompt(response, config, language, "crisis_failed")
    response.hangup()
    return response


def static_fallback(config: HotlineConfig) -> VoiceResponse:
    """The TwiML Twilio itself runs when the app is down: no URLs back to the app, only dials."""
    response = VoiceResponse()
    for language in config.languages:
        say_prompt(response, config, language, "system_down")
    for number in config.crisis.lines_for(config.default_language):
        response.dial(timeout=config.crisis.dial_timeout_s).number(number)
    for language in config.languages:
        say_prompt(response, config, language, "crisis_failed")
    response.hangup()
    return response
