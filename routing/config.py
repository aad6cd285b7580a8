"""The hotline configuration: areas, languages, prompts, hours, crisis numbers and lexicon.

`load_config(text, source)` checks the whole YAML document and either returns an immutable
`HotlineConfig` or raises `ProblemsError` listing every problem with its line.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing.classifier import DEFAULT_SCORING, Lexicon, parse_lexicon
from routing.forecast import StaffingPolicy, parse_staffing
from routing.holidays import Closure, HolidayRules
from routing.hours import DAY_IDS, Opening, WeeklyHours, parse_range
from routing.keynames import Each, Items, Keys, Shape, unknown_keys
from routing.matching import RoutingPolicy, parse_routing
from routing.problems import Problem, ProblemsError
from routing.report import ReportPolicy, parse_reports
from routing.transfers import TransferPolicy, parse_transfer
from routing.wording import speaking_seconds
from routing.yamldoc import Limits, read_yaml

# Every prompt the phone menu speaks, with the fields its template may use.
PROMPT_FIELDS: dict[str, frozenset[str]] = {
    "greeting_open": frozenset(),
    "greeting": frozenset(),
    "language_menu": frozenset(),
    "area_intro": frozenset(),
    "area_option": frozenset({"name", "key"}),
    "danger_option": frozenset(),
    "not_understood": frozenset(),
    "to_general": frozenset(),
    "area_chosen": frozenset({"name"}),
    "intake_intro": frozenset(),
    "invalid_key": frozenset(),
    "queue_intro": frozenset({"name"}),
    "wait_next": frozenset(),
    "wait_position": frozenset({"ahead"}),
    "wait_hold": frozenset(),
    "wait_danger": frozenset(),
    "queue_full": frozenset(),
    "closed": frozenset({"name", "hours", "next_open"}),
    "goodbye": frozenset(),
    "apology": frozenset(),
    "crisis_intro": frozenset(),
    "crisis_retry": frozenset(),
    "crisis_failed": frozenset(),
    "crisis_whisper": frozenset({"words"}),
    "crisis_whisper_key": frozenset(),
    "crisis_taken": frozenset(),
    "crisis_supervisor": frozenset(),
    "crisis_supervisor_whisper": frozenset(),
    "system_down": frozenset(),
    "wait_expected": frozenset({"minutes"}),
    "wait_options": frozenset(),
    "callback_confirm": frozenset({"last_digits"}),
    "callback_enter": frozenset(),
    "callback_invalid": frozenset(),
    "callback_set": frozenset(),
    "callback_greeting": frozenset(),
    "followup_greeting": frozenset(),
    # A called-back caller who answered after the agent left: we will call again.
    "callback_agent_gone": frozenset(),
    "connecting": frozenset(),
    "whisper": frozenset({"area", "language", "wait", "summary"}),
    "whisper_callback": frozenset({"area", "language", "wait", "summary"}),
    "whisper_choice": frozenset(),
    # A repeat caller: the whisper says which call this is ("第3次来电").
    "whisper_repeat": frozenset({"count"}),
    "agent_caller_gone": frozenset(),
    "agent_declined": frozenset(),
    "agent_connecting": frozenset(),
    "agent_menu": frozenset(),
    "agent_escalating": frozenset(),
    "agent_escalation_failed": frozenset(),
    "agent_call_ended": frozenset(),
    # Transfer of a live call by phone (routing.transfers): the menus and what the agent hears.
    "agent_transfer_area": frozenset({"areas"}),
    "agent_transfer_agent": frozenset(),
    "agent_transfer_mode": frozenset({"area"}),
    "agent_transfer_warm": frozenset(),
    "agent_transfer_cold": frozenset(),
    "agent_transfer_failed": frozenset(),
    "agent_transfer_busy": frozenset(),
    "agent_transfer_done": frozenset(),
    "agent_transfer_back": frozenset(),
    "whisper_transfer": frozenset({"area", "agent", "note"}),
    "transfer_hold": frozenset(),
    "transfer_cold": frozenset({"area"}),
    "blocked": frozenset(),
    "closure_default": frozenset(),
    "closure_danger": frozenset(),
    "agent_line_id": frozenset(),
    "agent_line_pin": frozenset(),
    "agent_line_wrong": frozenset(),
    "agent_line_locked": frozenset(),
    "agent_line_menu": frozenset({"presence"}),
    "agent_line_set": frozenset({"presence"}),
    "agent_line_unavailable": frozenset(),
    "presence_available": frozenset(),
    "presence_on_break": frozenset(),
    "presence_offline": frozenset(),
    "agent_callback_unreached": frozenset(),
    "voicemail_invite": frozenset(),
    "voicemail_thanks": frozenset(),
    "voicemail_whisper": frozenset(),
    "survey_question": frozenset(),
    "survey_thanks": frozenset(),
    "survey_follow_up": frozenset(),
    # Before a follow-up's whisper: why the caller is called back.
    "whisper_follow_up_rating": frozenset({"agent"}),
    "whisper_follow_up_outcome": frozenset({"note"}),
    # Before the agent, in an area that records consultations: the notice and the refusal key.
    "recording_notice": frozenset(),
    "recording_refused": frozenset(),
}

# A caller of any language hears their language key within this many seconds of the greeting.
GREETING_OPEN_S = 4.0

# Anchors and aliases are welcome (the shipped config shares hours by them), within a budget:
# a few nested aliases cannot expand into the billions of values a reader would walk.
CONFIG_LIMITS = Limits(what="the hotline config", aliases=True, max_values=100_000)

CALENDAR_FIELDS = (
    "days",
    "today",
    "tomorrow",
    "closed_day",
    "list_separator",
    "range",
    "day_range",
)
DTMF_KEYS = frozenset("0123456789*#")
# An outcome code: what events, records and the desk's API carry.
OUTCOME_CODE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# The shortest ring the crisis-trained agents get, however long the calm words are.
MIN_CRISIS_RING_S = 5


@dataclass(frozen=True)
class Language:
    """A language the menu speaks: its key, Twilio voice, and speech recognition language."""

    id: str
    key: str
    voice: str
    say_language: str
    speech_language: str


@dataclass(frozen=True)
class IntakeQuestion:
    """A keypad question asked before queueing, with the summary text of each answer."""

    id: str
    question: dict[str, str]
    answers: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Area:
    """A legal area callers are sorted into, with its menu key, intake and opening hours."""

    id: str
    key: str
    name: dict[str, str]
    intake: tuple[IntakeQuestion, ...]
    hours: WeeklyHours
    # Consultations are recorded (with the caller's consent, asked before the agent): on/off.
    recording: bool = False


@dataclass(frozen=True)
class Crisis:
    """Where the crisis branch dials: a number per language, then a fallback."""

    numbers: dict[str, str]
    fallback: str
    dial_timeout_s: int
    rollover_s: int
    # Seconds the calm words take: the agents' ring is shortened by this much, so the crisis
    # line is dialled rollover_s after the trigger, not after the words.
    intro_s: int = 3

    @property
    def ring_s(self) -> int:
        """How long the crisis-trained agents' phones ring before the call rolls over."""
        return max(self.rollover_s - self.intro_s, MIN_CRISIS_RING_S)

    def lines_for(self, language: str) -> tuple[str, ...]:
        """Return the crisis numbers to try for a language, in order, without repeats."""
        ordered = [self.numbers.get(language), self.fallback]
        return tuple(dict.fromkeys(number for number in ordered if number))


@dataclass(frozen=True)
class Voicemail:
    """How messages are recorded, kept, and offered back to agents."""

    max_length_s: int = 180
    finish_key: str = "#"
    play_beep: bool = True
    trim_silence: bool = True
    # Twilio's own transcription (English only at Twilio): crisis words in it page at once.
    transcribe: bool = False
    keep_days: int = 30
    empty_keep_days: int = 2
    # Minutes a signed link to a message's audio stays valid for the agent's phone.
    play_link_minutes: int = 15


@dataclass(frozen=True)
class Survey:
    """The one-key satisfaction question a caller hears after the agent ends a call."""

    enabled: bool = True
    # Seconds the question waits for a key; silence is no rating.
    timeout_s: int = 5
    # An unsatisfied caller is owed a supervisor's callback: rating 2 opens a follow-up.
    follow_up: bool = True
    # Who calls back: `area` (its agents, never the one the caller was unhappy with when
    # another can) or `supervisor` (a supervisor on call who also takes routed calls).
    follow_up_to: str = "area"
    # The same for a follow-up an agent's outcome code asks for (需回访).
    outcome_follow_up_to: str = "area"


# Who a follow-up's callback task is routed to (`Survey.follow_up_to`).
FOLLOW_UP_TARGETS = ("area", "supervisor")


@dataclass(frozen=True)
class Records:
    """How long durable call records and agents' state intervals are kept."""

    # Three years (and a leap day): reports compare a year with the two before it.
    keep_days: int = 1096
    # A year: what a caller said before (summaries, notes) is shown to the next agent no longer.
    history_keep_days: int = 365
    # Recorded consultations (both stored copies): kept this long, then deleted everywhere.
    recording_keep_days: int = 90


@dataclass(frozen=True)
class Outcome:
    """An outcome code an agent gives a call at wrap-up, with its label in every language."""

    code: str
    labels: dict[str, str]
    # The caller is owed another call from the hotline (需回访).
    follow_up: bool = False


@dataclass(frozen=True)
class ListenIn:
    """A supervisor joining a live call from the wallboard: listen, coach or barge."""

    # Whether the agent's desk says a supervisor is on the call (callers are never told).
    tell_agent: bool = True
    # Seconds the supervisor's phone rings before the join is given up.
    ring_timeout_s: int = 20


# The survey's keys: 1 satisfied, 2 not; the question's prompt names them.
SURVEY_KEYS = ("1", "2")

# The thermometer's levels on the agent's desk, calm to most agitated.
ASSIST_LEVELS = (1, 2, 3, 4, 5)
# Twilio's real-time transcription languages (BCP-47 codes) for the shipped languages.
TRANSCRIPTION_LANGUAGES = {"zh": "zh-CN", "en": "en-US"}
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class Assist:
    """Live assist on the agent's desk: the caller's thermometer and a suggestion per level."""

    # Off when the section is absent: no audio is streamed and nothing is transcribed.
    enabled: bool = False
    # Seconds of audio in each thermometer reading.
    window_s: int = 2
    # Seconds of the caller's own voiced speech that make their baseline.
    baseline_s: int = 30
    # Level 5 held this long tells the supervisors on the wallboard, quietly.
    sustained_top_s: int = 20
    # One line per level (1-5) in every language, the agent's hint for the caller's state.
    suggestions: dict[int, dict[str, str]] = field(default_factory=dict)
    # Twilio's real-time transcription language per caller's language, for live calls and for
    # every voicemail message (which is transcribed even when live assist is off).
    transcription_languages: dict[str, str] = field(
        default_factory=lambda: dict(TRANSCRIPTION_LANGUAGES)
    )

    def transcription_language(self, language: str) -> str:
        """The transcription's languageCode for a caller's language (Mandarin when unknown)."""
        return self.transcription_languages.get(language) or TRANSCRIPTION_LANGUAGES["zh"]

    def language_of_transcription(self, code: str) -> str | None:
        """The caller's language a transcription's languageCode stands for, or None."""
        found = (name for name, given in self.transcription_languages.items() if given == code)
        return next(found, None)

    def suggestion(self, level: int, language: str) -> str:
        """The suggestion line for a level (clamped to 1-5) in a language, else the first one."""
        texts = self.suggestions.get(min(max(int(level), 1), 5), {})
        return texts.get(language) or next(iter(texts.values()), "")


@dataclass(frozen=True)
class HotlineConfig:
    """The whole checked configuration; immutable, shared by every request."""

    timezone: str
    default_region: str
    languages: dict[str, Language]
    danger_key: str
    gather_timeout_s: int
    max_tries: int
    areas: dict[str, Area]
    general_area: str
    crisis: Crisis
    queue_max_size: int
    announce_every_s: int
    calls_per_second: float
    hold_music_url: str
    calendar: dict[str, dict[str, Any]]
    prompts: dict[str, dict[str, str]]
    lexicon: Lexicon
    routing: RoutingPolicy
    # The unannounced greeting key that opens the agent line (presence by phone).
    agent_line_key: str = "*"
    # An emergency closure written in the file; supervisors usually set one in Redis instead.
    closure: Closure | None = None
    # Frozen, so one default instance is safely shared.
    voicemail: Voicemail = Voicemail()
    survey: Survey = Survey()
    records: Records = Records()
    # A supervisor on a live call from the wallboard (ops.listen_in).
    listen_in: ListenIn = ListenIn()
    # Outcome codes for wrap-up, in the config's order; none asked when empty.
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    # The staffing plan's targets (routing.forecast documents the defaults).
    staffing: StaffingPolicy = StaffingPolicy()
    # Reports' service-level threshold and short abandons (routing.report).
    reports: ReportPolicy = ReportPolicy()
    # Transfers of a live call (routing.transfers).
    transfer: TransferPolicy = TransferPolicy()
    # Live assist during a bridged call (thermometer, suggestions).
    assist: Assist = Assist()

    @property
    def default_language(self) -> str:
        """The language a caller who presses nothing is served in."""
        return next(iter(self.languages))

    def prompt(self, prompt: str, language: str, /, **fields: object) -> str:
        """Return a prompt in a language with its fields filled in."""
        return self.prompts[prompt][language].format(**fields)

    def language_for_key(self, key: str) -> str | None:
        """Return the language chosen by a menu key, if any."""
        return next((lang.id for lang in self.languages.values() if lang.key == key), None)

    def area_for_key(self, key: str) -> str | None:
        """Return the area chosen by a menu key, if any."""
        return next((area.id for area in self.areas.values() if area.key == key), None)

    def served_in(self, area: str, language: str) -> tuple[str, str]:
        """The area and language a stored call is served in now, falling back to the defaults."""
        # A call kept from an earlier config may name an area or language since removed.
        served_area = area if area in self.areas else self.general_area
        served_language = language if language in self.languages else self.default_language
        return served_area, served_language


def load_config(text: str, source: str = "config") -> HotlineConfig:
    """Check a YAML document and build the configuration, or raise with every problem."""
    # libyaml's parser when present; lines come from one pass over the text, never the data.
    document = read_yaml(text, source, CONFIG_LIMITS)
    config, problems = _build(document.data)
    if problems:
        # Top to bottom, as the file is read and fixed; a problem without a line comes last.
        located = document.locate(problems)
        located.sort(key=lambda problem: (problem.line is None, problem.line or 0))
        raise ProblemsError(source, located)
    assert config is not None
    return config


def check_config(text: str, source: str = "config") -> list[Problem]:
    """Return every problem in a configuration document (empty when it is sound)."""
    try:
        load_config(text, source)
    except ProblemsError as error:
        return error.problems
    return []


class _Checker:
    """Collects problems while reading a parsed document, so every one is reported."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # Values reported wrong as a whole: what is read inside them is not reported again.
        self.broken: set[tuple[str | int, ...]] = set()

    def fail(self, path: tuple[str | int, ...], message: str) -> None:
        """Record a problem at a path, unless the value holding it is already reported."""
        if any(path[:end] in self.broken for end in range(len(path) + 1)):
            return
        self.problems.append(Problem(path, message))

    def ok(self, *paths: tuple[str | int, ...]) -> bool:
        """Whether no problem is recorded at any of these paths (a check may depend on them)."""
        return not any(problem.path in paths for problem in self.problems)

    def mapping(self, data: object, path: tuple[str | int, ...]) -> dict[str, Any]:
        """Return data as a mapping, or record a problem and return an empty one."""
        if isinstance(data, dict):
            return data
        self.fail(path, "expected a mapping" if data is not None else "missing")
        # A missing section is one problem, not one more for every field it should hold.
        self.broken.add(path)
        return {}

    def text(self, data: dict[str, Any], key: str, path: tuple[str | int, ...]) -> str:
        """Return a non-empty string field, or record a problem."""
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), "missing or not a non-empty string")
            return ""
        return value

    def number(self, data: dict[str, Any], key: str, path: tuple, low: int, high: int) -> int:
        """Return an integer field within bounds, or record a problem."""
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.fail((*path, key), f"expected a whole number from {low} to {high}")
            return low
        return value

    def key(self, data: dict[str, Any], field: str, path: tuple) -> str:
        """Return a single DTMF key, or record a problem."""
        value = self.text(data, field, path)
        if value and value not in DTMF_KEYS:
            self.fail((*path, field), f"expected one keypad key (0-9, * or #), got {value!r}")
        return value

    def texts(self, data: object, path: tuple, languages: list[str]) -> dict[str, str]:
        """Return a {language: text} mapping with every language present."""
        found = self.mapping(data, path)
        result = {}
        for lang in languages:
            result[lang] = self.text(found, lang, path)
        return result

    def zone(self, name: str, path: tuple) -> str:
        """Return a valid IANA time zone name, or record a problem."""
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(path, f"unknown time zone {name!r}")
        return name


def _build(data: object) -> tuple[HotlineConfig | None, list[Problem]]:
    """Read every section, collecting problems instead of stopping at the first."""
    check = _Checker()
    # An empty document is every section missing, each said once below.
    root = check.mapping({} if data is None else data, ())
    service = check.mapping(root.get("service"), ("service",))
    timezone = check.zone(check.text(service, "timezone", ("service",)), ("service", "timezone"))
    region = check.text(service, "region", ("service",))
    languages = _languages(check, root.get("languages"))
    lang_ids = list(languages)
    menu = check.mapping(root.get("menu"), ("menu",))
    danger_key = check.key(menu, "danger_key", ("menu",))
    if not check.ok(("menu", "danger_key")):
        danger_key = ""  # reported once: keys are not also compared with a wrong one
    gather_timeout = check.number(menu, "gather_timeout_s", ("menu",), 1, 60)
    max_tries = check.number(menu, "max_tries", ("menu",), 1, 5)
    agent_line_key = _agent_line_key(check, menu, danger_key)
    areas = _areas(check, root.get("areas"), lang_ids, danger_key)
    general = check.text(root, "general_area", ())
    if general and areas and general not in areas:
        check.fail(
            ("general_area",), f"{general!r} is not one of the areas{_nearest(general, areas)}"
        )
    crisis = _crisis(check, root.get("crisis"), lang_ids)
    queue = check.mapping(root.get("queue"), ("queue",))
    max_size = check.number(queue, "max_size", ("queue",), 1, 5000)
    announce = check.number(queue, "announce_every_s", ("queue",), 5, 600)
    calls_per_second = check.number(queue, "calls_per_second", ("queue",), 1, 100)
    hold_music = queue.get("hold_music_url") or ""
    if not isinstance(hold_music, str) or (hold_music and not hold_music.startswith("http")):
        check.fail(("queue", "hold_music_url"), "expected an http(s) URL of hold audio")
        hold_music = ""
    calendar = _calendar(check, root.get("calendar"), lang_ids)
    prompts = _prompts(check, root.get("prompts"), lang_ids)
    lexicon, lexicon_problems = parse_lexicon(
        root.get("lexicon"), area_ids=set(areas), languages=set(lang_ids)
    )
    check.problems.extend(lexicon_problems)
    routing, routing_problems = parse_routing(
        root.get("routing"), area_ids=set(areas), general_area=general, languages=tuple(lang_ids)
    )
    check.problems.extend(routing_problems)
    closure = _closure(check, root.get("closure"), lang_ids, timezone)
    voicemail = _voicemail(check, root.get("voicemail"), danger_key)
    survey = _survey(check, root.get("survey"), danger_key)
    records = _records(check, root.get("records"))
    listen_in = _listen_in(check, root.get("listen_in"))
    assist = _assist(check, root.get("assist"), lang_ids)
    outcomes = _outcomes(check, root.get("outcomes"), lang_ids)
    staffing, staffing_problems = parse_staffing(root.get("staffing"))
    check.problems.extend(staffing_problems)
    reports, report_problems = parse_reports(root.get("reports"))
    check.problems.extend(report_problems)
    transfer, transfer_problems = parse_transfer(root.get("transfer"))
    check.problems.extend(transfer_problems)
    for language in languages.values():
        if language.key and language.key == danger_key:
            check.fail(("languages", language.id, "key"), "the danger key cannot choose a language")
        if language.key and language.key == agent_line_key:
            check.fail(("menu", "agent_line_key"), f"key {agent_line_key} chooses {language.id}")
    problems = _one_per_cause(root, check.problems)
    if problems or lexicon is None or routing is None:
        return None, problems
    return (
        HotlineConfig(
            timezone=timezone,
            default_region=region,
            languages=languages,
            danger_key=danger_key,
            gather_timeout_s=gather_timeout,
            max_tries=max_tries,
            areas=areas,
            general_area=general,
            crisis=crisis,
            queue_max_size=max_size,
            announce_every_s=announce,
            calls_per_second=calls_per_second,
            hold_music_url=hold_music,
            calendar=calendar,
            prompts=prompts,
            lexicon=lexicon,
            routing=routing,
            agent_line_key=agent_line_key,
            closure=closure,
            voicemail=voicemail,
            survey=survey,
            records=records,
            listen_in=listen_in,
            outcomes=outcomes,
            staffing=staffing,
            reports=reports,
            transfer=transfer,
            assist=assist,
        ),
        [],
    )


def _languages(check: _Checker, data: object) -> dict[str, Language]:
    """Read the languages section: id, key, voice and recognition language of each."""
    section = check.mapping(data, ("languages",))
    if data is not None and not section:
        check.fail(("languages",), "at least one language is needed")
    languages: dict[str, Language] = {}
    keys: dict[str, str] = {}
    for lang_id, entry in section.items():
        path = ("languages", lang_id)
        fields = check.mapping(entry, path)
        key = check.key(fields, "key", path)
        if key in keys:
            check.fail((*path, "key"), f"key {key} is already used by {keys[key]}")
        keys[key] = lang_id
        languages[str(lang_id)] = Language(
            id=str(lang_id),
            key=key,
            voice=check.text(fields, "voice", path),
            say_language=check.text(fields, "say_language", path),
            speech_language=check.text(fields, "speech_language", path),
        )
    return languages


def _areas(check: _Checker, data: object, languages: list[str], danger_key: str) -> dict[str, Area]:
    """Read the legal areas with their keys, names, intake questions and hours."""
    section = check.mapping(data, ("areas",))
    areas: dict[str, Area] = {}
    keys: dict[str, str] = {}
    for area_id, entry in section.items():
        path = ("areas", area_id)
        fields = check.mapping(entry, path)
        key = check.key(fields, "key", path)
        if key and key == danger_key:
            check.fail((*path, "key"), "the danger key cannot choose an area")
        elif key in keys:
            check.fail((*path, "key"), f"key {key} is already used by {keys[key]}")
        keys[key] = str(area_id)
        intake_data = fields.get("intake", [])
        if not isinstance(intake_data, list):
            check.fail((*path, "intake"), "expected a list of questions")
            intake_data = []
        intake = tuple(
            _question(check, item, (*path, "intake", index), languages, danger_key)
            for index, item in enumerate(intake_data)
        )
        areas[str(area_id)] = Area(
            id=str(area_id),
            key=key,
            name=check.texts(fields.get("name"), (*path, "name"), languages),
            intake=intake,
            hours=_hours(check, fields.get("hours"), (*path, "hours")),
            recording=_recording(check, fields, path),
        )
    return areas


# YAML 1.1 reads a bare on/off as true/false: both spellings mean the same setting.
_RECORDING_VALUES = {"on": True, "off": False, True: True, False: False}


def _recording(check: _Checker, fields: dict[str, Any], path: tuple) -> bool:
    """Read an area's recording setting: off (the default) or on."""
    value = fields.get("recording", "off")
    if isinstance(value, str):
        value = value.strip().lower()
    if not isinstance(value, (str, bool)) or value not in _RECORDING_VALUES:
        check.fail((*path, "recording"), "expected off or on")
        return False
    return _RECORDING_VALUES[value]


def _question(
    check: _Checker, data: object, path: tuple, languages: list[str], danger_key: str
) -> IntakeQuestion:
    """Read one intake question and its keypad answers."""
    fields = check.mapping(data, path)
    answers_data = check.mapping(fields.get("answers"), (*path, "answers"))
    answers = {}
    for key, texts in answers_data.items():
        key = str(key)
        if key not in DTMF_KEYS:
            check.fail((*path, "answers", key), f"expected one keypad key, got {key!r}")
        if key == danger_key:
            check.fail((*path, "answers", key), "the danger key cannot be an answer")
        answers[key] = check.texts(texts, (*path, "answers", key), languages)
    if fields and not answers:
        check.fail((*path, "answers"), "a question needs at least one answer")
    return IntakeQuestion(
        id=check.text(fields, "id", path),
        question=check.texts(fields.get("question"), (*path, "question"), languages),
        answers=answers,
    )


def _hours(check: _Checker, data: object, path: tuple) -> WeeklyHours:
    """Read weekly opening hours: a time zone and ranges per weekday."""
    fields = check.mapping(data, path)
    zone = check.zone(check.text(fields, "timezone", path), (*path, "timezone"))
    weekly = check.mapping(fields.get("weekly"), (*path, "weekly"))
    openings = []
    for day, ranges in weekly.items():
        if day not in DAY_IDS:
            continue  # an unknown day is reported with the other unknown names
        if not isinstance(ranges, list):
            check.fail((*path, "weekly", day), "expected a list of HH:MM-HH:MM ranges")
            continue
        for start, end in _ranges(check, ranges, (*path, "weekly", day)):
            openings.append(Opening(DAY_IDS.index(day), start, end))
    holidays = None
    if "holidays" in fields:
        holidays = _holiday_rules(check, fields["holidays"], (*path, "holidays"))
    return WeeklyHours(zone, tuple(openings), holidays)


def _ranges(check: _Checker, ranges: list, path: tuple) -> list[tuple[int, int]]:
    """Read a list of "HH:MM-HH:MM" ranges, recording each bad one at its index."""
    found = []
    for index, text in enumerate(ranges):
        try:
            found.append(parse_range(str(text)))
        except ValueError as error:
            check.fail((*path, index), str(error))
    return found


def _holiday_rules(check: _Checker, data: object, path: tuple) -> HolidayRules:
    """Read what public holidays and make-up working days do to an area's weekly hours."""
    fields = check.mapping(data, path)
    public_data = fields.get("public", "closed")
    public: tuple[tuple[int, int], ...] | None = ()
    if public_data == "weekly":
        public = None
    elif isinstance(public_data, list):
        public = tuple(_ranges(check, public_data, (*path, "public")))
    elif public_data != "closed":
        check.fail((*path, "public"), "expected closed, weekly or a list of HH:MM-HH:MM ranges")
    makeup_data = fields.get("makeup", "weekly")
    makeup = None
    if makeup_data in DAY_IDS:
        makeup = DAY_IDS.index(makeup_data)
    elif makeup_data != "weekly":
        check.fail((*path, "makeup"), f"expected weekly or a day: {', '.join(DAY_IDS)}")
    return HolidayRules(public=public, makeup=makeup)


def _agent_line_key(check: _Checker, menu: dict[str, Any], danger_key: str) -> str:
    """Read the greeting key that opens the agent line; it must not be the danger key."""
    if "agent_line_key" not in menu:
        return "*"
    key = check.key(menu, "agent_line_key", ("menu",))
    if key and key == danger_key:
        check.fail(("menu", "agent_line_key"), "the danger key cannot open the agent line")
    return key


def _closure(check: _Checker, data: object, languages: list[str], timezone: str) -> Closure | None:
    """Read an emergency closure written in the file: a message per language, an optional end."""
    if data is None:
        return None
    fields = check.mapping(data, ("closure",))
    message = check.texts(fields.get("message"), ("closure", "message"), languages)
    until = fields.get("until")
    if isinstance(until, str):
        try:
            until = datetime.fromisoformat(until)
        except ValueError:
            until = "bad"
    if isinstance(until, date) and not isinstance(until, datetime):
        until = "bad"
    if until is not None and not isinstance(until, datetime):
        check.fail(("closure", "until"), "expected a date and time such as 2026-12-24T09:00")
        until = None
    if isinstance(until, datetime) and until.tzinfo is None:
        # A time written without an offset is read in the hotline's own time zone.
        try:
            until = until.replace(tzinfo=ZoneInfo(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            until = None  # the unknown zone is reported under service.timezone
    return Closure(message=message, until=until)


def _crisis(check: _Checker, data: object, languages: list[str]) -> Crisis:
    """Read the crisis numbers and timings."""
    fields = check.mapping(data, ("crisis",))
    numbers_data = check.mapping(fields.get("numbers"), ("crisis", "numbers"))
    numbers = {}
    for lang in languages:
        numbers[lang] = _dialable(check, numbers_data, lang, ("crisis", "numbers"))
    fallback = _dialable(check, numbers_data, "fallback", ("crisis", "numbers"))
    crisis = Crisis(
        numbers=numbers,
        fallback=fallback,
        dial_timeout_s=check.number(fields, "dial_timeout_s", ("crisis",), 5, 120),
        rollover_s=check.number(fields, "rollover_s", ("crisis",), 5, 120),
        intro_s=check.number(fields, "intro_s", ("crisis",), 0, 10) if "intro_s" in fields else 3,
    )
    timings_read = check.ok(("crisis", "rollover_s"), ("crisis", "intro_s"))
    if timings_read and crisis.rollover_s - crisis.intro_s < MIN_CRISIS_RING_S:
        check.fail(
            ("crisis", "intro_s"),
            f"rollover_s minus intro_s leaves the agents under {MIN_CRISIS_RING_S} s of ringing",
        )
    return crisis


def _voicemail(check: _Checker, data: object, danger_key: str) -> Voicemail:
    """Read the voicemail section (optional: defaults when absent)."""
    if data is None:
        return Voicemail()
    path = ("voicemail",)
    fields = check.mapping(data, path)
    finish_key = check.key(fields, "finish_key", path)
    # The danger key always ends a recording and opens the crisis path: it cannot also be
    # the ordinary "done" key.
    if finish_key and finish_key == danger_key:
        check.fail((*path, "finish_key"), "the danger key cannot end a message")
    flags = {}
    for name in ("play_beep", "trim_silence", "transcribe"):
        flags[name] = fields.get(name, getattr(Voicemail, name))
        if not isinstance(flags[name], bool):
            check.fail((*path, name), "expected true or false")
    return Voicemail(
        max_length_s=check.number(fields, "max_length_s", path, 10, 3600),
        finish_key=finish_key,
        play_beep=flags["play_beep"] is True,
        trim_silence=flags["trim_silence"] is True,
        transcribe=flags["transcribe"] is True,
        keep_days=check.number(fields, "keep_days", path, 1, 3650),
        empty_keep_days=check.number(fields, "empty_keep_days", path, 1, 365),
        play_link_minutes=check.number(fields, "play_link_minutes", path, 1, 120),
    )


def _records(check: _Checker, data: object) -> Records:
    """Read the records section (optional: defaults when absent)."""
    if data is None:
        return Records()
    path = ("records",)
    fields = check.mapping(data, path)
    keep_days, history_days = Records.keep_days, Records.history_keep_days
    if "keep_days" in fields:
        keep_days = check.number(fields, "keep_days", path, 30, 36500)
    if "history_keep_days" in fields:
        history_days = check.number(fields, "history_keep_days", path, 1, 3650)
    recording_days = Records.recording_keep_days
    if "recording_keep_days" in fields:
        recording_days = check.number(fields, "recording_keep_days", path, 1, 3650)
    return Records(
        keep_days=keep_days, history_keep_days=history_days, recording_keep_days=recording_days
    )


def _outcomes(check: _Checker, data: object, languages: list[str]) -> dict[str, Outcome]:
    """Read the outcome codes (optional): a label per language, and which ask for a follow-up."""
    if data is None:
        return {}
    path = ("outcomes",)
    section = check.mapping(data, path)
    outcomes: dict[str, Outcome] = {}
    for code, entry in section.items():
        where = (*path, str(code))
        # Codes travel in events, records and the API: short, lower case, no spaces.
        if not isinstance(code, str) or not OUTCOME_CODE.fullmatch(code):
            check.fail(where, "expected a code of lower-case letters, digits, - or _ (<= 32)")
            continue
        fields = check.mapping(entry, where)
        follow_up = fields.get("follow_up", False)
        if not isinstance(follow_up, bool):
            check.fail((*where, "follow_up"), "expected true or false")
        labels = {lang: check.text(fields, lang, where) for lang in languages}
        outcomes[code] = Outcome(code, labels, follow_up=follow_up is True)
    if data is not None and section and not outcomes:
        check.fail(path, "at least one outcome code is needed")
    return outcomes


def _listen_in(check: _Checker, data: object) -> ListenIn:
    """Read the listen_in section (optional: defaults when absent)."""
    if data is None:
        return ListenIn()
    path = ("listen_in",)
    fields = check.mapping(data, path)
    tell_agent = fields.get("tell_agent", ListenIn.tell_agent)
    if not isinstance(tell_agent, bool):
        check.fail((*path, "tell_agent"), "expected true or false")
    ring_timeout_s = ListenIn.ring_timeout_s
    if "ring_timeout_s" in fields:
        ring_timeout_s = check.number(fields, "ring_timeout_s", path, 5, 60)
    return ListenIn(tell_agent=tell_agent is True, ring_timeout_s=ring_timeout_s)


def _assist(check: _Checker, data: object, languages: list[str]) -> Assist:
    """Read the assist section (optional: off when absent); every level needs every language."""
    if data is None:
        return Assist()
    path = ("assist",)
    fields = check.mapping(data, path)
    enabled = fields.get("enabled", True)
    if not isinstance(enabled, bool):
        check.fail((*path, "enabled"), "expected true or false")
    numbers = {}
    for name, low, high in (
        ("window_s", 1, 10),
        ("baseline_s", 5, 300),
        ("sustained_top_s", 5, 600),
    ):
        numbers[name] = getattr(Assist, name)
        if name in fields:
            numbers[name] = check.number(fields, name, path, low, high)
    where = (*path, "suggestions")
    lines = check.mapping(fields.get("suggestions"), where)
    suggestions = {
        level: check.texts(lines.get(level, lines.get(str(level))), (*where, str(level)), languages)
        for level in ASSIST_LEVELS
    }
    codes = _transcription_languages(check, fields.get("transcription_languages"), languages)
    return Assist(
        enabled=enabled is True,
        suggestions=suggestions,
        transcription_languages=codes,
        **numbers,
    )


def _transcription_languages(check: _Checker, data: object, languages: list[str]) -> dict[str, str]:
    """Read assist.transcription_languages: a BCP-47 code per language (defaults when absent)."""
    codes = {name: TRANSCRIPTION_LANGUAGES.get(name, "") for name in languages}
    if data is None:
        return {name: code for name, code in codes.items() if code}
    path = ("assist", "transcription_languages")
    given = check.mapping(data, path)
    for name, code in given.items():
        if name not in languages:
            continue  # unknown names are reported by the key check
        if not isinstance(code, str) or not _LANGUAGE_CODE.match(code):
            check.fail((*path, name), "expected a language code such as zh-CN or en-US")
            continue
        codes[name] = code
    return {name: code for name, code in codes.items() if code}


def _survey(check: _Checker, data: object, danger_key: str) -> Survey:
    """Read the survey section (optional: defaults when absent)."""
    if data is None:
        return Survey()
    path = ("survey",)
    fields = check.mapping(data, path)
    flags = {}
    for name in ("enabled", "follow_up"):
        flags[name] = fields.get(name, getattr(Survey, name))
        if not isinstance(flags[name], bool):
            check.fail((*path, name), "expected true or false")
    timeout_s = Survey.timeout_s
    if "timeout_s" in fields:
        timeout_s = check.number(fields, "timeout_s", path, 1, 30)
    # The danger key must reach the crisis path even during the question, never rate a call.
    if flags["enabled"] is True and danger_key in SURVEY_KEYS:
        check.fail(("menu", "danger_key"), "the danger key cannot be a survey key (1 or 2)")
    targets = {}
    for name in ("follow_up_to", "outcome_follow_up_to"):
        targets[name] = fields.get(name, getattr(Survey, name))
        if targets[name] not in FOLLOW_UP_TARGETS:
            check.fail((*path, name), f"expected one of {', '.join(FOLLOW_UP_TARGETS)}")
            targets[name] = getattr(Survey, name)
    return Survey(
        enabled=flags["enabled"] is True,
        timeout_s=timeout_s,
        follow_up=flags["follow_up"] is True,
        **targets,
    )


def _dialable(check: _Checker, data: dict[str, Any], key: str, path: tuple) -> str:
    """Return a number Twilio can dial (+ and digits), or record a problem."""
    number = check.text(data, key, path)
    digits = number[1:] if number.startswith("+") else number
    if number and not digits.isdigit():
        check.fail((*path, key), f"not a dialable number: {number!r}")
    return number


def _calendar(check: _Checker, data: object, languages: list[str]) -> dict[str, dict[str, Any]]:
    """Read the words used to speak days and hours in each language."""
    section = check.mapping(data, ("calendar",))
    calendar: dict[str, dict[str, Any]] = {}
    for lang in languages:
        path = ("calendar", lang)
        fields = check.mapping(section.get(lang), path)
        days = fields.get("days")
        if not (
            isinstance(days, list) and len(days) == 7 and all(isinstance(d, str) for d in days)
        ):
            check.fail((*path, "days"), "expected the seven day names, Monday first")
        for name in CALENDAR_FIELDS[1:]:
            check.text(fields, name, path)
        check.texts(fields.get("languages"), (*path, "languages"), languages)
        calendar[lang] = fields
    return calendar


def _prompts(check: _Checker, data: object, languages: list[str]) -> dict[str, dict[str, str]]:
    """Read every prompt in every language and check the fields its template uses."""
    section = check.mapping(data, ("prompts",))
    prompts: dict[str, dict[str, str]] = {}
    for name, allowed in PROMPT_FIELDS.items():
        if name not in section:
            check.fail(("prompts", name), "missing prompt")
            continue
        texts = check.texts(section[name], ("prompts", name), languages)
        for lang, text in texts.items():
            _check_template(check, text, allowed, ("prompts", name, lang))
        prompts[name] = texts
    opening = prompts.get("greeting_open", {})
    said_s = sum(speaking_seconds(opening[lang]) for lang in languages if lang in opening)
    if said_s > GREETING_OPEN_S:
        check.fail(
            ("prompts", "greeting_open"),
            f"the opening lines take about {said_s:.1f} s to say; the last language's key "
            f"must be heard within {GREETING_OPEN_S:g} s",
        )
    return prompts


def _check_template(check: _Checker, text: str, allowed: frozenset[str], path: tuple) -> None:
    """Record a problem for any {field} a template uses that its prompt does not provide."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as error:
        check.fail(path, f"broken template: {error}")
        return
    unknown = sorted(fields - allowed)
    if unknown:
        # One problem for the text however many fields it gets wrong.
        named = ", ".join(f"{{{field}}}" for field in unknown)
        offered = ", ".join(sorted(allowed)) or "none"
        check.fail(
            path,
            f"unknown field{'s' if len(unknown) > 1 else ''} {named} "
            f"(this prompt offers: {offered})",
        )


# --- the names valid at each place ---------------------------------------------------------------


def _named(*names: str, what: str = "key", **nested: Shape) -> Keys:
    """A mapping of fixed names: plain values, and those whose value has names of its own."""
    return Keys({**dict.fromkeys(names), **nested}, what)


def _settings(kind: type, what: str) -> Keys:
    """An optional section's names, those of the dataclass its values fill."""
    return _named(*kind.__dataclass_fields__, what=what)


# Text per declared language; the readers say which language is missing.
_TEXTS = Each(among="language")
_HOURS = _named(
    "timezone",
    what="field",
    weekly=_named(*DAY_IDS, what="day"),
    holidays=_named("public", "makeup", what="field"),
)
# One area's routing knobs, in routing.defaults and per area (the routing reader checks values).
_AREA_ROUTING = _named(
    "wrap_up_s",
    "heavy_wrap_up_s",
    steps=Items(_named("after_s", "min_level", "general")),
    heavy_answers=Each(),
)
_CONFIG_KEYS = _named(
    "general_area",
    what="section",
    service=_named("timezone", "region"),
    languages=Each(_named("key", "voice", "say_language", "speech_language")),
    menu=_named("danger_key", "agent_line_key", "gather_timeout_s", "max_tries"),
    # Named hours that areas share by alias.
    hours=Each(_HOURS),
    areas=Each(
        _named(
            "key",
            "recording",
            name=_TEXTS,
            hours=_HOURS,
            intake=Items(_named("id", question=_TEXTS, answers=Each(_TEXTS))),
        )
    ),
    crisis=_named(
        "dial_timeout_s",
        "rollover_s",
        "intro_s",
        numbers=Each(among="language", also=frozenset({"fallback"})),
    ),
    queue=_named("max_size", "announce_every_s", "calls_per_second", "hold_music_url"),
    closure=_named("until", what="field", message=_TEXTS),
    voicemail=_settings(Voicemail, "voicemail setting"),
    survey=_settings(Survey, "survey setting"),
    records=_settings(Records, "records setting"),
    listen_in=_settings(ListenIn, "listen_in setting"),
    assist=_named(
        "enabled",
        "window_s",
        "baseline_s",
        "sustained_top_s",
        what="assist setting",
        suggestions=Keys({str(level): _TEXTS for level in ASSIST_LEVELS}, what="level"),
        transcription_languages=_TEXTS,
    ),
    outcomes=Each(Each(among="language", also=frozenset({"follow_up"}))),
    staffing=_settings(StaffingPolicy, "staffing setting"),
    reports=_settings(ReportPolicy, "reports setting"),
    transfer=_settings(TransferPolicy, "transfer setting"),
    calendar=Each(
        _named(*CALENDAR_FIELDS, "minutes", "seconds", languages=_TEXTS), among="language"
    ),
    prompts=Keys(dict.fromkeys(PROMPT_FIELDS, _TEXTS), what="prompt"),
    routing=_named(
        "strategy",
        "reservation_timeout_s",
        "returning_window_s",
        misses=_named("cool_down_s", "pause_after"),
        wellbeing=_named("heavy_cap", "window_s"),
        callbacks=_named("attempts", "spacing_s"),
        defaults=_AREA_ROUTING,
        areas=Each(_AREA_ROUTING, among="area"),
    ),
    lexicon=_named(
        scoring=_named(*DEFAULT_SCORING, what="threshold"),
        synonyms=Each(Each(), among="language"),
        areas=Each(Each(among="language"), among="area"),
        crisis=Each(
            _named("phrases", "exclusions", "negations", "gap", "negation_gap", "reach"),
            among="language",
        ),
    ),
)


def _declared(root: dict[str, Any], section: str) -> list[str] | None:
    """The names a section declares (languages, areas), None when it declares none to judge by."""
    names = root.get(section)
    return [str(name) for name in names] if isinstance(names, dict) and names else None


def _one_per_cause(root: dict[str, Any], problems: list[Problem]) -> list[Problem]:
    """Add the unknown names, and drop each problem that only repeats one already reported."""
    declared = {"language": _declared(root, "languages"), "area": _declared(root, "areas")}
    names = unknown_keys(root, _CONFIG_KEYS, declared)
    kept = list(names.problems)
    seen = {problem.path for problem in kept}
    for problem in problems:
        # A value wrong once is reported once: a check made with the reader's fallback for it
        # (a default number, an empty text) says nothing new.
        if problem.path in seen or names.explains(problem):
            continue
        seen.add(problem.path)
        kept.append(problem)
    return kept


def _nearest(name: str, valid: Iterable[str]) -> str:
    """ "; did you mean X?" for the valid name closest to a wrong one, or nothing."""
    close = difflib.get_close_matches(name, sorted(valid), n=1)
    return f"; did you mean {close[0]}?" if close else ""
