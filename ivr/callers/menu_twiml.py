"""TwiML documents of the phone menu, built with twilio-python's VoiceResponse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twilio.twiml.voice_response import Gather, Start, VoiceResponse

from routing.classifier import speech_hints
from routing.config import HotlineConfig
from routing.hours import WeeklyHours
from routing.wording import describe_hours, describe_next_opening

# Seconds the agent's in-call menu waits for a key before putting them back with the caller.
AGENT_MENU_TIMEOUT_S = 4
# The agent's in-call menu keys: bring in the on-call supervisor, or the crisis line.
ESCALATION_KEYS = {"9": "supervisor", "8": "crisis_line"}


def say(node: VoiceResponse | Gather, config: HotlineConfig, language: str, text: str) -> None:
    """Speak a sentence in a language's Twilio voice."""
    spoken = config.languages[language]
    node.say(text, voice=spoken.voice, language=spoken.say_language)


def say_prompt(
    node: VoiceResponse | Gather, config: HotlineConfig, language: str, prompt: str, /, **fields
) -> None:
    """Speak a configured prompt in a language."""
    say(node, config, language, config.prompt(prompt, language, **fields))


def _one_key(node: VoiceResponse, action: str, timeout: int, *, on_silence: bool = False) -> Gather:
    """A Gather of one keypad key posted to `action`; `on_silence` posts an empty result too."""
    silence = {"action_on_empty_result": True} if on_silence else {}
    return node.gather(
        input="dtmf", num_digits=1, timeout=timeout, action=action, method="POST", **silence
    )


def greeting(config: HotlineConfig, action: str, *, preface: tuple[str, ...] = ()) -> VoiceResponse:
    """The greeting and language choice; silence goes on to the default language.

    It opens with one short line per language, each in its own voice (the service's name,
    then "For English, press 2"), so a caller of another language hears their key within
    seconds rather than after the whole disclaimer; then the disclaimer and the danger key in
    the default language, then the language menu. Every word is inside the Gather, so the
    danger key and a language key work from the first syllable.
    """
    response = VoiceResponse()
    first = config.default_language
    gather = _one_key(response, action, config.gather_timeout_s, on_silence=True)
    for name in preface:
        say_prompt(gather, config, first, name)
    if not preface:
        for language in config.languages:
            say_prompt(gather, config, language, "greeting_open")
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


def recording_notice(
    config: HotlineConfig, language: str, action: str, *, preface: tuple[str, ...] = ()
) -> VoiceResponse:
    """Before the agent: the call may be recorded, 2 refuses; the danger key still works.

    Silence (or another key) goes on with consent, as the notice says; every word is inside
    the Gather, so a 2 or a 9 cuts it short.
    """
    response = VoiceResponse()
    for name in preface:
        say_prompt(response, config, language, name)
    gather = _one_key(response, action, config.gather_timeout_s, on_silence=True)
    say_prompt(gather, config, language, "recording_notice")
    return response


def closed(
    config: HotlineConfig,
    language: str,
    area: str,
    now: datetime,
    action: str,
    *,
    record: VoiceResponse | None = None,
    hours: WeeklyHours | None = None,
) -> VoiceResponse:
    """Tell the caller the area's hours and next opening (the danger key works), then record."""
    response = VoiceResponse()
    words = config.calendar[language]
    # The menu passes the effective hours (ops' edit); without them, the config's.
    hours = hours if hours is not None else config.areas[area].hours
    gather = _one_key(response, action, config.gather_timeout_s)
    say_prompt(
        gather,
        config,
        language,
        "closed",
        name=config.areas[area].name[language],
        hours=describe_hours(hours, words),
        next_open=describe_next_opening(now, hours.next_opening(now), words),
    )
    if record is not None:
        for verb in record.verbs:
            response.append(verb)
        return response
    say_prompt(response, config, language, "goodbye")
    response.hangup()
    return response


def wait_room(
    config: HotlineConfig,
    language: str,
    ahead: int | None,
    wait_minutes: int | None,
    action: str,
) -> VoiceResponse:
    """The waiting room's loop: honest place and wait, the ways out, then hold until re-fetched."""
    response = VoiceResponse()
    gather = _one_key(response, action, config.announce_every_s)
    if ahead is not None and ahead > 0:
        say_prompt(gather, config, language, "wait_position", ahead=ahead)
    elif ahead == 0:
        say_prompt(gather, config, language, "wait_next")
    else:
        # No place routing can vouch for: nothing about position or wait, only "please hold".
        say_prompt(gather, config, language, "wait_hold")
    if wait_minutes is not None and ahead:
        say_prompt(gather, config, language, "wait_expected", minutes=wait_minutes)
    say_prompt(gather, config, language, "wait_options")
    say_prompt(gather, config, language, "wait_danger")
    if config.hold_music_url:
        gather.play(config.hold_music_url)
    return response


def callback_confirm(
    config: HotlineConfig, language: str, last_digits: str, action: str
) -> VoiceResponse:
    """Offer to call back the number the caller rang from, or to key another."""
    response = VoiceResponse()
    gather = _one_key(response, action, config.gather_timeout_s)
    say_prompt(gather, config, language, "callback_confirm", last_digits=last_digits)
    return response


def callback_enter(config: HotlineConfig, language: str, action: str) -> VoiceResponse:
    """Ask for the number to call back, ended by the pound key."""
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf",
        finish_on_key="#",
        num_digits=16,
        timeout=config.gather_timeout_s * 2,
        action=action,
        method="POST",
    )
    say_prompt(gather, config, language, "callback_enter")
    return response


def callback_set(config: HotlineConfig, language: str) -> VoiceResponse:
    """The callback keeps the caller's place: say so and leave the Twilio queue."""
    response = VoiceResponse()
    say_prompt(response, config, language, "callback_set")
    response.leave()
    return response


def say_only(config: HotlineConfig, language: str, prompt: str) -> VoiceResponse:
    """A document that only speaks one prompt (then the caller's TwiML goes on)."""
    response = VoiceResponse()
    say_prompt(response, config, language, prompt)
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
    _dial_line(response, config, number, action, caller_id)
    return response


def crisis_failed(config: HotlineConfig, language: str) -> VoiceResponse:
    """Every crisis line failed: give the numbers to call, twice, slowly."""
    response = VoiceResponse()
    say_prompt(response, config, language, "crisis_failed")
    response.pause(length=1)
    say_prompt(response, config, language, "crisis_failed")
    response.hangup()
    return response


def say_and_hang_up(config: HotlineConfig, language: str, prompt: str) -> VoiceResponse:
    """Speak one prompt and end the leg (a caller's, an agent's or a rung crisis taker's)."""
    response = VoiceResponse()
    say_prompt(response, config, language, prompt)
    response.hangup()
    return response


def queue_closed(config: HotlineConfig, language: str) -> VoiceResponse:
    """The queue could not hold the caller (full or failed): say so kindly and end."""
    return say_and_hang_up(config, language, "queue_full")


def goodbye(config: HotlineConfig, language: str) -> VoiceResponse:
    """Thank the caller and end the call."""
    return say_and_hang_up(config, language, "goodbye")


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


def whisper(
    config: HotlineConfig,
    language: str,
    *,
    area: str,
    waited_s: float,
    summary: str,
    callback: bool,
    action: str,
    calls_before: int = 0,
) -> VoiceResponse:
    """What the agent hears before taking a call: area, language, wait and summary; 1 or 2.

    A caller who called before is announced first ("第3次来电": calls_before + 1).
    """
    response = VoiceResponse()
    words = config.calendar[language]
    minutes = int(waited_s // 60)
    wait = (
        words["minutes"].format(n=minutes) if minutes else words["seconds"].format(n=int(waited_s))
    )
    gather = _one_key(response, action, config.gather_timeout_s)
    if calls_before > 0:
        say_prompt(gather, config, language, "whisper_repeat", count=calls_before + 1)
    say_prompt(
        gather,
        config,
        language,
        "whisper_callback" if callback else "whisper",
        area=config.areas[area].name[language],
        language=words["languages"][language],
        wait=wait,
        summary=summary or "-",
    )
    say_prompt(gather, config, language, "whisper_choice")
    # Silence counts as a decline: the next agent is offered the call at once.
    response.redirect(action, method="POST")
    return response


@dataclass(frozen=True)
class LiveAssist:
    """Where a bridged caller's leg sends its audio and its live transcript."""

    # The app's WebSocket for the caller's inbound audio (wss://.../voice/assist/stream).
    stream_url: str
    # The signed callback for final transcript lines of both tracks (/voice/assist/transcript).
    transcript_url: str
    # The transcription's language, by the caller's choice: "zh-CN" or "en-US".
    language_code: str
    # Custom parameters the stream's start message carries (the reservation, the language).
    parameters: tuple[tuple[str, str], ...] = ()

    def start(self) -> Start:
        """The `<Start>` that opens the stream and the transcription, both named "assist" so a
        later `<Stop>` (or the REST API) can end them."""
        start = Start()
        stream = start.stream(url=self.stream_url, track="inbound_track", name="assist")
        for name, value in self.parameters:
            stream.parameter(name=name, value=value)
        start.transcription(
            name="assist",
            status_callback_url=self.transcript_url,
            status_callback_method="POST",
            track="both_tracks",
            language_code=self.language_code,
            partial_results=False,
        )
        return start


def conference(
    config: HotlineConfig,
    language: str,
    room: str,
    *,
    prompt: str | None,
    agent: bool,
    action: str | None = None,
    joined: str | None = None,
    recorded: str | None = None,
    live: LiveAssist | None = None,
) -> VoiceResponse:
    """Join the conference named by the reservation, as the agent or the caller.

    With `joined`, the conference reports each participant joining there. With `recorded` (only
    for a caller who consented), the conference is recorded from the start and the finished
    recording is reported there. With `live` (the caller's first way in), the caller's leg
    streams its audio to the app and is transcribed live, both starting before the `<Dial>`.

    The caller's leaving ends it. The agent's leaving does not, so that * (hangupOnStar) can
    take the agent out to their in-call menu while the caller stays; when the agent hangs up,
    the app ends the conference (`ivr.agents.legs`).
    """
    response = VoiceResponse()
    if live is not None:
        response.append(live.start())
    if prompt:
        say_prompt(response, config, language, prompt)
    options: dict[str, object] = {"hangup_on_star": True} if agent else {}
    if action:
        options.update(action=action, method="POST")
    dial = response.dial(**options)
    # Twilio keeps the status callback of whoever starts the conference: both sides give it.
    reports = (
        {
            "status_callback": joined,
            "status_callback_event": "join",
            "status_callback_method": "POST",
        }
        if joined
        else {}
    )
    if recorded:
        reports.update(
            record="record-from-start",
            recording_status_callback=recorded,
            recording_status_callback_event="completed",
            recording_status_callback_method="POST",
        )
    dial.conference(
        room,
        start_conference_on_enter=True,
        end_conference_on_exit=not agent,
        beep=False,
        wait_url="",
        **reports,
    )
    return response


def agent_menu(
    config: HotlineConfig, language: str, action: str, rejoin: VoiceResponse
) -> VoiceResponse:
    """The agent pressed * on a call: 9 brings in the supervisor, 8 the crisis line, else back."""
    return _agent_keypad(config, language, action, rejoin, "agent_menu")


def _agent_keypad(
    config: HotlineConfig,
    language: str,
    action: str,
    rejoin: VoiceResponse,
    prompt: str,
    /,
    *,
    until_hash: bool = False,
    **fields: object,
) -> VoiceResponse:
    """One step of the agent's in-call menus: a prompt in a keypad Gather (one key, or keys up
    to #), then straight back with the caller when no key comes."""
    response = VoiceResponse()
    keys: dict[str, object] = {"finish_on_key": "#"} if until_hash else {"num_digits": 1}
    gather = response.gather(
        input="dtmf", timeout=AGENT_MENU_TIMEOUT_S, action=action, method="POST", **keys
    )
    say_prompt(gather, config, language, prompt, **fields)
    for verb in rejoin.verbs:
        response.append(verb)
    return response


def hold_then(seconds: int, url: str) -> VoiceResponse:
    """Silence on the leg, then the TwiML at url, unless a REST redirect moves it on first."""
    response = VoiceResponse()
    response.pause(length=seconds)
    response.redirect(url, method="POST")
    return response


def hangup() -> VoiceResponse:
    """End the leg without a word."""
    response = VoiceResponse()
    response.hangup()
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


# The crisis line's leg events the static fallback reports: the first alerts the supervisors.
FALLBACK_STATUS_EVENTS = "initiated answered completed"


def static_fallback(config: HotlineConfig, status_callback: str | None = None) -> VoiceResponse:
    """The TwiML Twilio itself runs when the app is down: no action back to the app, only dials.

    With `status_callback` (an absolute URL of the app) each crisis line's leg reports to it,
    so the supervisors are alerted of a caller the fallback put through; the call never waits
    for that report, whose failure changes nothing for the caller.
    """
    response = VoiceResponse()
    for language in config.languages:
        say_prompt(response, config, language, "system_down")
    for number in config.crisis.lines_for(config.default_language):
        dial = response.dial(timeout=config.crisis.dial_timeout_s)
        if status_callback:
            dial.number(
                number,
                status_callback=status_callback,
                status_callback_event=FALLBACK_STATUS_EVENTS,
                status_callback_method="POST",
            )
        else:
            dial.number(number)
    for language in config.languages:
        say_prompt(response, config, language, "crisis_failed")
    response.hangup()
    return response


# --- The crisis path: ringing crisis-trained agents, rollover, supervisors. ------------------

# Twilio rings at most ten <Number>s of one <Dial> at once.
MAX_DIAL_NUMBERS = 10


def crisis_ring(
    config: HotlineConfig,
    language: str,
    targets: list[tuple[str, str]],
    action: str,
    caller_id: str,
    *,
    timeout: int,
    preface: tuple[str, ...] = ("crisis_intro",),
) -> VoiceResponse:
    """Calm words, then the caller's own leg rings every (phone, whisper URL) at once."""
    response = VoiceResponse()
    for name in preface:
        say_prompt(response, config, language, name)
    dial = response.dial(timeout=timeout, action=action, method="POST", caller_id=caller_id)
    for phone, whisper_url in targets[:MAX_DIAL_NUMBERS]:
        dial.number(phone, url=whisper_url, method="POST")
    return response


def crisis_whisper(
    config: HotlineConfig, language: str, prompt: str, action: str, /, **fields: str
) -> VoiceResponse:
    """What a rung agent or supervisor hears: a crisis call and what was said; 1 takes it."""
    response = VoiceResponse()
    gather = _one_key(response, action, config.gather_timeout_s)
    say_prompt(gather, config, language, prompt, **fields)
    # No key at all declines: the caller's leg keeps ringing the others.
    response.hangup()
    return response


def crisis_put_through() -> VoiceResponse:
    """The whisper ends without a word, so the taker is bridged to the caller at once."""
    return VoiceResponse()


def crisis_line(
    config: HotlineConfig, number: str, action: str, caller_id: str, *, report: str | None = None
) -> VoiceResponse:
    """Dial a crisis line without a word first: the caller has been hearing it ring already.

    With `report`, the line's leg posts there when it is answered and when it ends.
    """
    response = VoiceResponse()
    _dial_line(response, config, number, action, caller_id, report=report)
    return response


def _dial_line(
    response: VoiceResponse,
    config: HotlineConfig,
    number: str,
    action: str,
    caller_id: str,
    *,
    report: str | None = None,
) -> None:
    """Have the caller's leg dial one crisis line, reporting to the action when it ends."""
    dial = response.dial(
        timeout=config.crisis.dial_timeout_s, action=action, method="POST", caller_id=caller_id
    )
    if report:
        dial.number(
            number,
            status_callback=report,
            status_callback_event="answered completed",
            status_callback_method="POST",
        )
    else:
        dial.number(number)


def crisis_numbers_then_supervisors(
    config: HotlineConfig,
    language: str,
    targets: list[tuple[str, str]],
    action: str,
    caller_id: str,
) -> VoiceResponse:
    """Every crisis line failed: give the numbers, then ring the supervisors on call."""
    response = VoiceResponse()
    say_prompt(response, config, language, "crisis_failed")
    say_prompt(response, config, language, "crisis_supervisor")
    dial = response.dial(
        timeout=config.crisis.dial_timeout_s, action=action, method="POST", caller_id=caller_id
    )
    for phone, whisper_url in targets[:MAX_DIAL_NUMBERS]:
        dial.number(phone, url=whisper_url, method="POST")
    return response


# --- After the call: the caller's one-key satisfaction rating. -------------------------------


def survey(config: HotlineConfig, language: str, action: str) -> VoiceResponse:
    """The one-key question after the agent ended the call; silence is no rating, then goodbye."""
    response = VoiceResponse()
    gather = _one_key(response, action, config.survey.timeout_s)
    say_prompt(gather, config, language, "survey_question")
    say_prompt(response, config, language, "goodbye")
    response.hangup()
    return response


def survey_thanks(config: HotlineConfig, language: str, *, follow_up: bool) -> VoiceResponse:
    """Thank the caller for a rating (saying a supervisor will call back after a 2), then end."""
    prompt = "survey_follow_up" if follow_up else "survey_thanks"
    return say_and_hang_up(config, language, prompt)


def agent_transfer_area(
    config: HotlineConfig, language: str, action: str, rejoin: VoiceResponse
) -> VoiceResponse:
    """The agent's transfer menu: the area's key, as in the caller's menu; no key, back."""
    separator = config.calendar[language]["list_separator"]
    choices = separator.join(
        f"{area.key} {area.name[language]}" for area in config.areas.values() if area.key
    )
    return _agent_keypad(config, language, action, rejoin, "agent_transfer_area", areas=choices)


def agent_transfer_mode(
    config: HotlineConfig,
    language: str,
    area: str,
    action: str,
    rejoin: VoiceResponse,
    *,
    to: str = "",
) -> VoiceResponse:
    """The agent chose an area (or a colleague, `to`): 1 warm, 2 cold; no key, back."""
    where = to or config.areas[area].name[language]
    return _agent_keypad(config, language, action, rejoin, "agent_transfer_mode", area=where)


def said_then(
    config: HotlineConfig, language: str, prompt: str, then: VoiceResponse
) -> VoiceResponse:
    """A prompt, then another document's verbs (an agent told something, then back in)."""
    response = VoiceResponse()
    say_prompt(response, config, language, prompt)
    for verb in then.verbs:
        response.append(verb)
    return response


def transfer_hold(config: HotlineConfig, language: str, again: str) -> VoiceResponse:
    """What a caller held during a warm transfer hears: where they are going, the hold music,
    and again until the next agent joins; never silence."""
    response = VoiceResponse()
    say_prompt(response, config, language, "transfer_hold")
    if config.hold_music_url:
        response.play(config.hold_music_url)
    response.redirect(again, method="POST")
    return response


def transfer_room(
    config: HotlineConfig, language: str, area: str, wait_url: str, action: str
) -> VoiceResponse:
    """A caller transferred cold: told where they are going, then the area's waiting room."""
    response = VoiceResponse()
    say_prompt(response, config, language, "transfer_cold", area=config.areas[area].name[language])
    for verb in enqueue(config, language, area, wait_url, action).verbs:
        response.append(verb)
    return response


def with_lead(
    config: HotlineConfig, language: str, document: VoiceResponse, prompt: str, /, **fields
) -> VoiceResponse:
    """A whisper with one more sentence first, inside its Gather so a key cuts it short."""
    lead = VoiceResponse()
    say_prompt(lead, config, language, prompt, **fields)
    gather = next((verb for verb in document.verbs if verb.name == "Gather"), None)
    target = gather if gather is not None else document
    target.verbs[0:0] = lead.verbs
    return document


def agent_transfer_colleague(
    config: HotlineConfig, language: str, action: str, rejoin: VoiceResponse
) -> VoiceResponse:
    """The agent chose a colleague: their ID on the keypad, then #; nothing, back."""
    return _agent_keypad(config, language, action, rejoin, "agent_transfer_agent", until_hash=True)
