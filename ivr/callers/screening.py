"""Screening at the top of an incoming call: blocked numbers and the emergency closure.

Both answers keep the danger key: a blocked or closed-out caller who presses it still reaches
the crisis path (the Gather's action is the menu's closed-key handler). Screening fails open:
with Redis unreachable nobody is treated as blocked, and only a closure written in the config
file applies.
"""

from __future__ import annotations

import logging

from flask import current_app, url_for
from redis import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ivr.callers.menu_twiml import say, say_prompt
from queues import runtime
from queues.blocklist import Blocklist
from queues.closure import ClosureBoard
from routing.config import HotlineConfig
from routing.holidays import Closure
from routing.privacy import mask_number

log = logging.getLogger(__name__)

# Seconds a screened caller has to press the danger key before the line closes.
DANGER_WINDOW_S = 5


def blocked_response(
    config: HotlineConfig, number: str, *, call_sid: str = ""
) -> VoiceResponse | None:
    """The short answer for a blocked number or during a closure, or None to go on as usual.

    With `call_sid`, the call's record is started (its number, lifetime and `incoming` event).
    With GREETING_FROM_MEMORY (on unless TESTING), the answer comes from this process's copy of
    the blocklist and the closure (`queues.screening_copy`) and the start is written behind the
    answer (`queues.call_starts`): no round trip to Redis. Otherwise, or while the copy is not
    trusted, the reads and the start are one round trip. A record that cannot be written is
    logged, never felt.
    """
    blocked, closure = _screen(number, call_sid)
    if blocked:
        log.info(
            "blocked caller %s: one sentence, the danger key, then hang up", mask_number(number)
        )
        return blocked_twiml(config, _danger_action(config))
    closure = closure or config.closure
    now = current_app.config["CLOCK"]()
    if closure is not None and closure.active(now):
        log.info("emergency closure: caller %s hears the closure message", mask_number(number))
        return closure_twiml(config, closure, _danger_action(config))
    return None


def blocked_twiml(config: HotlineConfig, action: str) -> VoiceResponse:
    """One short sentence in each language while listening for the danger key, then hang up."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=DANGER_WINDOW_S, action=action, method="POST"
    )
    for language in config.languages:
        say_prompt(gather, config, language, "blocked")
    response.hangup()
    return response


def closure_twiml(config: HotlineConfig, closure: Closure, action: str) -> VoiceResponse:
    """The supervisor's closure message and the danger key in each language, then hang up."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=config.gather_timeout_s, action=action, method="POST"
    )
    for language in config.languages:
        message = closure.message.get(language, "").strip()
        if message:
            say(gather, config, language, message)
        else:
            say_prompt(gather, config, language, "closure_default")
        say_prompt(gather, config, language, "closure_danger")
    response.hangup()
    return response


def _danger_action(config: HotlineConfig) -> str:
    """Where a key pressed during screening goes: the danger key opens the crisis path."""
    return url_for("voice.closed_key", lang=config.default_language)


def _screen(number: str, call_sid: str = "") -> tuple[bool, Closure | None]:
    """Screen from this process's copy when it may be trusted, else from Redis."""
    if current_app.config.get("GREETING_FROM_MEMORY"):
        try:
            serving = runtime.serving()
        except RuntimeError:
            return _screen_in_redis(number, call_sid)
        answer = serving.screening_copy.answer(number)
        if answer is not None:
            if call_sid:
                serving.call_starts.submit(call_sid, number)
            return answer
    return _screen_in_redis(number, call_sid)


def _screen_in_redis(number: str, call_sid: str = "") -> tuple[bool, Closure | None]:
    """Read the blocklist and the closure from Redis; an unreachable Redis blocks nobody."""
    try:
        serving = runtime.serving()
        redis = serving.redis
        # Both reads and the call's start in one round trip: every incoming call makes them.
        pipe = redis.pipeline(transaction=False)
        started = serving.calls.start_in(pipe, call_sid, number) if call_sid else None
        blocked = Blocklist(redis).contains_in(pipe, number)
        closure = ClosureBoard(redis).get_in(pipe)
        results = pipe.execute()
    except (RedisError, RuntimeError) as error:
        log.warning("screening skipped, Redis unreadable: %s", type(error).__name__)
        if call_sid:
            log.warning("Redis unreachable, call %s not recorded", call_sid)
        return False, None
    if started is not None:
        started(results)
    try:
        return blocked(results), closure(results)
    except (RedisError, ValueError) as error:
        log.warning("screening skipped, Redis unreadable: %s", type(error).__name__)
        return False, None
