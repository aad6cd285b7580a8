"""The agent line: consultants without a computer key their ID and PIN to set their presence.

It is reached from the greeting by a key that is never announced to callers (config
`menu.agent_line_key`). The agent id travels in the signed action URLs once the PIN matched,
as the caller's progress does in the menu. Three wrong PINs in one call end it, and wrong PINs
are also counted across calls per code and per number.
"""

from __future__ import annotations

import logging

from flask import Response, request, url_for
from redis import RedisError
from twilio.twiml.voice_response import VoiceResponse

from ivr import webhook as hook
from ivr.callers.menu_twiml import say_prompt
from queues import runtime
from queues.agent_line import AgentLine
from queues.agents import UnknownAgent
from routing.config import HotlineConfig
from routing.privacy import mask_number

log = logging.getLogger(__name__)

bp = hook.twilio_blueprint("agent_line", __name__, "/voice/agent-line")

# Wrong PINs in one call before the line says goodbye.
MAX_TRIES = 3
# Seconds to key an ID or a PIN; agents type them from memory.
ENTRY_TIMEOUT_S = 10
CHOICES = {"1": "available", "2": "on_break", "3": "offline"}


def start() -> Response:
    """Open the agent line (the lead's greeting handler calls this for the agent line key)."""
    config = hook.config()
    language = config.default_language
    return hook.xml(_ask_id(config, language, 1))


@bp.post("")
def entry() -> Response:
    """The agent line's first prompt, for a redirect or a separate number."""
    return start()


@bp.post("/id")
def agent_id() -> Response:
    """The keyed agent code: ask for the PIN, carrying the code."""
    config, language = hook.config(), hook.language()
    tries = hook.int_arg("t", 1, MAX_TRIES)
    code = _digits(hook.caller().digits)
    if not code:
        return hook.xml(_ask_id(config, language, tries))
    response = VoiceResponse()
    gather = _entry_gather(response, url_for(".pin", lang=language, t=tries, code=code))
    say_prompt(gather, config, language, "agent_line_pin")
    response.redirect(url_for(".agent_id", lang=language, t=tries), method="POST")
    return hook.xml(response)


@bp.post("/pin")
def pin() -> Response:
    """Check the code and PIN: the presence menu, another try, or goodbye."""
    config, language, caller = hook.config(), hook.language(), hook.caller()
    tries = hook.int_arg("t", 1, MAX_TRIES)
    code = _digits(request.args.get("code", ""))
    now = runtime.serving().now()
    try:
        line = _line()
        login = line.login(
            code, _digits(caller.digits), caller=caller.number, call_sid=caller.call_sid, now=now
        )
        status = line.board.get(login.agent_id) if login.agent_id else None
    except RedisError as error:
        log.warning("agent line: Redis unreachable (%s)", type(error).__name__)
        return hook.xml(_goodbye(config, language, "agent_line_unavailable"))
    if login.locked:
        log.warning("agent line locked for code %s from %s", code, mask_number(caller.number))
        return hook.xml(_goodbye(config, language, "agent_line_locked"))
    if status is None:
        log.info("agent line: wrong ID or PIN (try %d) from %s", tries, mask_number(caller.number))
        if tries >= MAX_TRIES:
            return hook.xml(_goodbye(config, language, "agent_line_locked"))
        return hook.xml(_ask_id(config, language, tries + 1, preface="agent_line_wrong"))
    spoken = next((lang for lang in status.languages if lang in config.languages), language)
    log.info("agent line: %s logged in", status.id)
    return hook.xml(_menu(config, spoken, status.id, status.presence))


@bp.post("/set")
def set_presence() -> Response:
    """Set the presence chosen by key, audit it, confirm and hang up."""
    config, language, caller = hook.config(), hook.language(), hook.caller()
    agent = request.args.get("agent", "")
    presence = CHOICES.get(caller.digits[:1])
    if presence is None:
        tries = hook.int_arg("t", 1, MAX_TRIES)
        if tries >= MAX_TRIES:
            return hook.xml(_goodbye(config, language, "goodbye"))
        current = request.args.get("now", "offline")
        return hook.xml(_menu(config, language, agent, current, tries=tries + 1))
    now = runtime.serving().now()
    try:
        _line().set_presence(agent, presence, call_sid=caller.call_sid, now=now)
    except (RedisError, UnknownAgent) as error:
        log.warning("agent line: presence of %s not set (%s)", agent, type(error).__name__)
        return hook.xml(_goodbye(config, language, "agent_line_unavailable"))
    log.info("agent line: %s is now %s", agent, presence)
    response = VoiceResponse()
    say_prompt(
        response, config, language, "agent_line_set", presence=_presence(config, language, presence)
    )
    response.hangup()
    return hook.xml(response)


def _line() -> AgentLine:
    """The agent line's state on the app's Redis."""
    rt = runtime.serving()
    return AgentLine(rt.redis, rt.routing.board)


def _digits(text: str) -> str:
    """Keep the keypad digits of an entry (the finishing # is not part of it)."""
    return "".join(char for char in text if char.isdigit())[:16]


def _entry_gather(response: VoiceResponse, action: str):
    """A Gather for an ID or PIN, finished by the pound key."""
    return response.gather(
        input="dtmf", finish_on_key="#", timeout=ENTRY_TIMEOUT_S, action=action, method="POST"
    )


def _ask_id(
    config: HotlineConfig, language: str, tries: int, *, preface: str = ""
) -> VoiceResponse:
    """Ask for the agent ID; silence ends the call politely."""
    response = VoiceResponse()
    gather = _entry_gather(response, url_for("agent_line.agent_id", lang=language, t=tries))
    if preface:
        say_prompt(gather, config, language, preface)
    say_prompt(gather, config, language, "agent_line_id")
    say_prompt(response, config, language, "goodbye")
    response.hangup()
    return response


def _menu(
    config: HotlineConfig, language: str, agent: str, current: str, *, tries: int = 1
) -> VoiceResponse:
    """Say the agent's presence and offer the three choices."""
    response = VoiceResponse()
    action = url_for("agent_line.set_presence", lang=language, agent=agent, now=current, t=tries)
    gather = response.gather(
        input="dtmf", num_digits=1, timeout=config.gather_timeout_s, action=action, method="POST"
    )
    say_prompt(
        gather, config, language, "agent_line_menu", presence=_presence(config, language, current)
    )
    say_prompt(response, config, language, "goodbye")
    response.hangup()
    return response


def _presence(config: HotlineConfig, language: str, presence: str) -> str:
    """The spoken name of a presence."""
    name = f"presence_{presence}"
    return config.prompt(name if name in config.prompts else "presence_offline", language)


def _goodbye(config: HotlineConfig, language: str, prompt: str) -> VoiceResponse:
    """Say one prompt and hang up."""
    response = VoiceResponse()
    say_prompt(response, config, language, prompt)
    response.hangup()
    return response
