"""The agent roster: who the agents are, what they know, and when they are on shift.

`parse_roster(text, source=..., area_ids=..., languages=...)` reads a YAML roster (or a CSV one
when the source ends in ".csv") and either returns an immutable `Roster` or raises
`ProblemsError` with every problem and its line, so a roster is never applied half-checked.
`export_roster` and `export_roster_csv` write what the reader reads back to an equal roster:
agents, supervisors and their on-call hours, dated exceptions, time zones and PIN hashes.

A roster holds no YAML anchors or aliases (refused, with their lines, before anything is built),
no overlapping weekly hours for one person (the rule the shift API's 409 keeps), and nothing past
the bounds below: a file can never make reading it, or the consoles showing it, slow.

An agent's PIN is read either plain (`pin: "1234"`) or as the hash an export wrote
(`pin_hash: scrypt:...`). Reading never hashes; `hash_pins` does, before a roster is stored or
written out, and `export_roster` refuses a roster that still holds a plain PIN.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers

from routing.hours import DAY_IDS, MINUTES_PER_DAY, format_clock, parse_range
from routing.pins import PIN_METHOD, PLAIN_PIN, hash_pin, is_pin_hash
from routing.problems import Problem, ProblemsError
from routing.spreadsheet import SafeDictWriter, read_cell
from routing.yamldoc import Limits, dump_yaml, read_yaml

DEFAULT_TIMEZONE = "Asia/Shanghai"
LEVELS = (1, 2, 3)
AGENT_FIELDS = frozenset(
    {
        "id",
        "name",
        "phone",
        "languages",
        "skills",
        "crisis_trained",
        "pin",
        "pin_hash",
        "shifts",
        "exceptions",
        "timezone",
    }
)
# A CSV roster is one row per person, the `role` column saying whose: an agent (also when the
# column is left out, as in files written before supervisors had rows), a supervisor (on-call
# hours in `on_call`), or the one `roster` row, whose `timezone` is the default for every row
# that leaves its own empty.
AGENT_ROW = "agent"
SUPERVISOR_ROW = "supervisor"
ROSTER_ROW = "roster"
CSV_ROLES = (AGENT_ROW, SUPERVISOR_ROW, ROSTER_ROW)
CSV_COLUMNS = (
    "role",
    "id",
    "name",
    "phone",
    "languages",
    "skills",
    "crisis_trained",
    "pin",
    "pin_hash",
    "shifts",
    "on_call",
    "exceptions",
    "timezone",
)
CSV_REQUIRED_COLUMNS = ("id", "name", "phone", "languages", "skills")
# An export never has a plain PIN, only its hash.
CSV_EXPORT_COLUMNS = tuple(name for name in CSV_COLUMNS if name != "pin")
# The columns that belong to agents alone, and to supervisors alone.
_AGENT_ONLY = ("languages", "skills", "crisis_trained", "pin", "pin_hash", "shifts")
_SUPERVISOR_ONLY = ("on_call",)
SUPERVISOR_FIELDS = frozenset({"id", "name", "phone", "on_call", "exceptions", "timezone"})
_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

# Bounds far past any hotline's roster, so that no file can make reading it slow: the work is
# linear in the file, and the file is bounded.
MAX_ROSTER_CHARS = 2_000_000
MAX_AGENTS = 2_000
MAX_SUPERVISORS = 200
MAX_NAME = 100
# E.164 is at most 16 characters; a typed number gets some room before it is told the form.
MAX_PHONE = 32
MAX_LANGUAGES = 10
MAX_SKILLS = 50
# Weekly {days, hours} entries per person ("daily" is one), and dated exceptions per person.
MAX_SHIFT_ENTRIES = 50
MAX_EXCEPTIONS = 100
# Any one YAML value, and any one CSV cell (a cell holds a person's shifts or exceptions).
# Both stay under Python's 4300-digit bound on reading an integer.
MAX_VALUE = 1_000
MAX_CELL = 4_000
# A CSV roster: a row per agent and supervisor, and the roster row.
MAX_ROWS = MAX_AGENTS + MAX_SUPERVISORS + 1
# A refused roster lists this many problems, then says how many more it has.
MAX_LISTED = 200
# A roster nests five deep (agents, an agent, shifts, a shift, days); nothing needs more than 8.
YAML_LIMITS = Limits(what="a roster", max_depth=8, max_value=MAX_VALUE)
# A roster the hotline already holds was accepted by the rules of its day: it is read without
# the bounds and overlap checks added since, so an upgrade never leaves the crisis pages with
# no roster to find a supervisor in.
ACCEPTED_LIMITS = Limits(what="a roster", max_depth=8, max_value=MAX_ROSTER_CHARS)
WEEK_MINUTES = 7 * MINUTES_PER_DAY

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Shift:
    """A weekly shift: minutes from a weekday's midnight; an end past 1440 runs overnight."""

    weekday: int
    start: int
    end: int


def overlaps(one: Shift, other: Shift) -> bool:
    """Tell whether two weekly shifts share a minute (overnight shifts and the week end too)."""
    a_start, a_end = _week_span(one)
    b_start, b_end = _week_span(other)
    # Compare on the week's circle: shift B also as it falls a week earlier and later.
    return any(
        a_start < b_end + lap and b_start + lap < a_end for lap in (-WEEK_MINUTES, 0, WEEK_MINUTES)
    )


def overlapping_shifts(shifts: Sequence[Shift]) -> list[tuple[int, int]]:
    """Positions (i, j), i < j, of shifts that overlap; empty only when no two do (n log n)."""
    # Sweep two laps of the week in order of start, so Sunday night meets Monday morning; the
    # span reaching furthest so far overlaps whatever starts before it ends.
    spans = sorted(
        (start + lap, end + lap, position)
        for position, (start, end) in enumerate(map(_week_span, shifts))
        for lap in (0, WEEK_MINUTES)
    )
    pairs: set[tuple[int, int]] = set()
    reach, holder = -1, -1
    for start, end, position in spans:
        # A shift is at most a day long: it never reaches its own next lap.
        if start < reach and holder != position:
            pairs.add((min(holder, position), max(holder, position)))
        if end > reach:
            reach, holder = end, position
    return sorted(pairs)


def _week_span(shift: Shift) -> tuple[int, int]:
    """A shift as minutes from Monday's midnight (an overnight Sunday ends past the week)."""
    offset = shift.weekday * MINUTES_PER_DAY
    return offset + shift.start, offset + shift.end


def describe_shift(shift: Shift) -> str:
    """A shift as a roster writes it: "sun 22:00-06:00"."""
    return f"{DAY_IDS[shift.weekday]} {_format_span(shift.start, shift.end)}"


@dataclass(frozen=True)
class DatedException:
    """A change to one date: the agent is off that day, or works an extra shift."""

    day: date
    start: int | None = None
    end: int | None = None

    @property
    def off(self) -> bool:
        """Tell whether this exception takes the agent off for the whole date."""
        return self.start is None


@dataclass(frozen=True)
class Agent:
    """A consultant: contact, languages, skill level per legal area, crisis training, shifts."""

    id: str
    name: str
    phone: str
    languages: tuple[str, ...]
    skills: Mapping[str, int]
    crisis_trained: bool = False
    # A plain PIN as read from a file, only until hash_pins turns it into pin_hash.
    pin: str | None = None
    shifts: tuple[Shift, ...] = ()
    exceptions: tuple[DatedException, ...] = ()
    timezone: str = DEFAULT_TIMEZONE
    pin_hash: str | None = None

    def level(self, area: str) -> int:
        """The agent's level in an area, 0 when they do not take that area."""
        return self.skills.get(area, 0)


@dataclass(frozen=True)
class Supervisor:
    """A supervisor paged for crisis calls while on call; `shifts` are their on-call hours."""

    id: str
    name: str
    phone: str
    shifts: tuple[Shift, ...] = ()
    exceptions: tuple[DatedException, ...] = ()
    timezone: str = DEFAULT_TIMEZONE


@dataclass(frozen=True)
class Roster:
    """Every agent and supervisor of the hotline, in file order, with the default time zone."""

    agents: tuple[Agent, ...]
    timezone: str = DEFAULT_TIMEZONE
    supervisors: tuple[Supervisor, ...] = ()
    by_id: Mapping[str, Agent] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {agent.id: agent for agent in self.agents})

    def agent(self, agent_id: str) -> Agent | None:
        """Return an agent by id, or None."""
        return self.by_id.get(agent_id)


# --- shifts in time -------------------------------------------------------------------------


def shift_intervals(agent: Agent | Supervisor, now: datetime) -> list[tuple[datetime, datetime]]:
    """List the agent's shifts (start, end) from the day before now to eight days after."""
    zone = ZoneInfo(agent.timezone)
    today = now.astimezone(zone).date()
    off_days = {exception.day for exception in agent.exceptions if exception.off}
    intervals = []
    for offset in range(-1, 9):
        day = today + timedelta(days=offset)
        ranges = (
            []
            if day in off_days
            else [
                (shift.start, shift.end) for shift in agent.shifts if shift.weekday == day.weekday()
            ]
        )
        ranges += [(e.start, e.end) for e in agent.exceptions if e.day == day and not e.off]
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        for start, end in ranges:
            intervals.append(
                (
                    (midnight + timedelta(minutes=start)).astimezone(zone),
                    (midnight + timedelta(minutes=end)).astimezone(zone),
                )
            )
    return sorted(intervals)


@overload
def on_shift(who: Agent, now: datetime) -> bool: ...
@overload
def on_shift(who: Roster, now: datetime) -> set[str]: ...
def on_shift(who: Agent | Roster, now: datetime) -> bool | set[str]:
    """Tell whether an agent is on shift at an aware instant, or which roster agents are."""
    if isinstance(who, Roster):
        return {agent.id for agent in who.agents if on_shift(agent, now)}
    return any(start <= now < end for start, end in shift_intervals(who, now))


def on_call(roster: Roster, now: datetime) -> list[Supervisor]:
    """The supervisors on call at an aware instant, in roster order."""
    return [
        supervisor
        for supervisor in roster.supervisors
        if any(start <= now < end for start, end in shift_intervals(supervisor, now))
    ]


def next_shift_change(agent: Agent, now: datetime) -> datetime | None:
    """Return the next instant after now when the agent goes on or off shift, if any."""
    edges = [edge for interval in shift_intervals(agent, now) for edge in interval if edge > now]
    # Back-to-back shifts share an edge that changes nothing; the next real change still wins
    # soon enough, since whoever reads this re-checks on_shift at that instant.
    return min(edges) if edges else None


# --- reading ---------------------------------------------------------------------------------


class _Reader:
    """Collects every problem while reading agents, with the line of each when known."""

    def __init__(
        self, area_ids: Iterable[str], languages: Iterable[str], *, accepted: bool = False
    ):
        self.area_ids = list(area_ids)
        self.languages = list(languages)
        self.problems: list[Problem] = []
        # Reading a roster already held (see ACCEPTED_LIMITS): length and overlap rules skipped.
        self.accepted = accepted

    def fail(self, path: Path, message: str, line: int | None = None) -> None:
        """Record a problem at a path."""
        self.problems.append(Problem(path, message, line))

    def zone(self, value: object, path: Path) -> str:
        """Return a valid IANA time zone, or record a problem and return the default."""
        if not isinstance(value, str) or not value:
            self.fail(path, "expected a time zone name such as Asia/Shanghai")
            return DEFAULT_TIMEZONE
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(path, f"unknown time zone {_shown(value)}")
            return DEFAULT_TIMEZONE
        return value

    def agent(self, data: Mapping[str, Any], path: Path, timezone: str) -> Agent | None:
        """Read one agent's fields; return None when a problem was recorded."""
        before = len(self.problems)
        for extra in sorted(set(map(str, data)) - AGENT_FIELDS):
            self.fail((*path, extra), f"unknown field {_shown(extra)}")
        agent_id = self.text(data.get("id"), (*path, "id"))
        if agent_id and not _AGENT_ID.match(agent_id):
            self.fail((*path, "id"), "use letters, digits, '.', '_' or '-' (at most 64)")
        name = self.text(data.get("name"), (*path, "name"), longest=MAX_NAME)
        phone = self.phone(data.get("phone"), (*path, "phone"))
        languages = self.language_list(data.get("languages"), (*path, "languages"))
        skills = self.skills(data.get("skills"), (*path, "skills"))
        crisis = data.get("crisis_trained", False)
        if not isinstance(crisis, bool):
            self.fail((*path, "crisis_trained"), "expected true or false")
        pin = self.pin(data.get("pin"), (*path, "pin"))
        pin_hash = self.pin_hash(data.get("pin_hash"), (*path, "pin_hash"))
        if pin is not None and pin_hash is not None:
            self.fail((*path, "pin_hash"), "give either pin (a new PIN) or pin_hash, not both")
        zone = self.zone(data["timezone"], (*path, "timezone")) if "timezone" in data else timezone
        shifts = self.shifts(data.get("shifts", []), (*path, "shifts"))
        exceptions = self.exceptions(data.get("exceptions", []), (*path, "exceptions"))
        if len(self.problems) > before:
            return None
        return Agent(
            id=agent_id,
            name=name,
            phone=phone,
            languages=languages,
            skills=skills,
            crisis_trained=bool(crisis),
            pin=pin,
            shifts=shifts,
            exceptions=exceptions,
            timezone=zone,
            pin_hash=pin_hash,
        )

    def supervisor(self, data: Mapping[str, Any], path: Path, timezone: str) -> Supervisor | None:
        """Read one supervisor's fields; return None when a problem was recorded."""
        before = len(self.problems)
        for extra in sorted(set(map(str, data)) - SUPERVISOR_FIELDS):
            self.fail((*path, extra), f"unknown field {_shown(extra)}")
        supervisor_id = self.text(data.get("id"), (*path, "id"))
        if supervisor_id and not _AGENT_ID.match(supervisor_id):
            self.fail((*path, "id"), "use letters, digits, '.', '_' or '-' (at most 64)")
        name = self.text(data.get("name"), (*path, "name"), longest=MAX_NAME)
        phone = self.phone(data.get("phone"), (*path, "phone"))
        zone = self.zone(data["timezone"], (*path, "timezone")) if "timezone" in data else timezone
        # A supervisor nobody can page is no supervisor: on-call hours are required.
        if not data.get("on_call"):
            self.fail((*path, "on_call"), "expected a list of on-call {days, hours}")
        shifts = self.shifts(data.get("on_call") or [], (*path, "on_call"))
        exceptions = self.exceptions(data.get("exceptions", []), (*path, "exceptions"))
        if len(self.problems) > before:
            return None
        return Supervisor(supervisor_id, name, phone, shifts, exceptions, zone)

    def check_supervisors(self, supervisors: list[tuple[Supervisor, Path]]) -> None:
        """Record supervisors that share an id or a phone number."""
        seen_ids: set[str] = set()
        seen_phones: dict[str, str] = {}
        for supervisor, path in supervisors:
            if supervisor.id in seen_ids:
                self.fail((*path, "id"), f"supervisor id {supervisor.id!r} is used twice")
            seen_ids.add(supervisor.id)
            if supervisor.phone in seen_phones:
                self.fail(
                    (*path, "phone"), f"same phone as supervisor {seen_phones[supervisor.phone]!r}"
                )
            seen_phones.setdefault(supervisor.phone, supervisor.id)

    def text(self, value: object, path: Path, *, longest: int | None = None) -> str:
        """Return a non-empty string (numbers accepted as text) within a length, or a problem."""
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail(path, "missing or not a non-empty string")
            return ""
        text = value.strip()
        if longest is not None and len(text) > longest and not self.accepted:
            self.fail(path, f"at most {longest} characters (this one has {len(text)})")
            return ""
        return text

    def phone(self, value: object, path: Path) -> str:
        """Return a valid E.164 phone number, or record a problem."""
        if not isinstance(value, str) or not value.strip():
            self.fail(path, 'missing; write the number in E.164 form, such as "+8613900000001"')
            return ""
        if len(value) > MAX_PHONE:
            self.fail(
                path,
                f"at most {MAX_PHONE} characters; "
                'write the number in E.164 form, such as "+8613900000001"',
            )
            return ""
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            self.fail(path, f"not a phone number in E.164 form: {value!r}")
            return ""
        if not phonenumbers.is_valid_number(number):
            self.fail(path, f"not a valid phone number: {value!r}")
            return ""
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if e164 != value:
            self.fail(path, f"write the number in E.164 form: {e164!r}")
        return e164

    def language_list(self, value: object, path: Path) -> tuple[str, ...]:
        """Return the agent's languages, each one the hotline speaks."""
        if not isinstance(value, list) or not value:
            self.fail(path, f"expected a list of languages from {self.languages}")
            return ()
        if len(value) > MAX_LANGUAGES:
            self.fail(path, f"at most {MAX_LANGUAGES} languages")
            return ()
        for index, language in enumerate(value):
            if language not in self.languages:
                self.fail(
                    (*path, index), f"unknown language {_shown(language)}; use {self.languages}"
                )
        if len(set(map(str, value))) != len(value):
            self.fail(path, "a language is listed twice")
        return tuple(str(language) for language in value)

    def skills(self, value: object, path: Path) -> dict[str, int]:
        """Return {area: level} with known areas and levels 1 to 3."""
        if not isinstance(value, Mapping) or not value:
            self.fail(path, "expected a mapping of area to level, such as {labor: 3}")
            return {}
        if len(value) > MAX_SKILLS:
            self.fail(path, f"at most {MAX_SKILLS} areas")
            return {}
        skills = {}
        for area, level in value.items():
            area = str(area)
            if area not in self.area_ids:
                self.fail((*path, area), f"unknown area {_shown(area)}; use {self.area_ids}")
            if not isinstance(level, int) or isinstance(level, bool) or level not in LEVELS:
                self.fail((*path, area), "expected a level of 1, 2 or 3")
                continue
            skills[area] = level
        return skills

    def pin(self, value: object, path: Path) -> str | None:
        """Return an optional keypad PIN of 4 to 8 digits."""
        if value is None:
            return None
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not PLAIN_PIN.match(text):
            self.fail(path, "expected a PIN of 4 to 8 digits, quoted")
            return None
        return text

    def pin_hash(self, value: object, path: Path) -> str | None:
        """Return an optional PIN hash as an export writes it (scrypt:N:r:p$salt$hash)."""
        if value is None:
            return None
        if not isinstance(value, str) or not is_pin_hash(value.strip()):
            self.fail(
                path,
                "expected a PIN hash as a roster export writes it (scrypt:...); "
                'to set a new PIN, write pin: "1234" instead',
            )
            return None
        return value.strip()

    def shifts(self, value: object, path: Path) -> tuple[Shift, ...]:
        """Return weekly shifts from entries like {days: mon-fri, hours: "09:00-17:00"}."""
        if not isinstance(value, list):
            self.fail(path, "expected a list of {days, hours}")
            return ()
        if len(value) > MAX_SHIFT_ENTRIES:
            self.fail(path, f"at most {MAX_SHIFT_ENTRIES} entries")
            return ()
        shifts: list[Shift] = []
        entries: list[int] = []
        for index, entry in enumerate(value):
            where = (*path, index)
            if not isinstance(entry, Mapping):
                self.fail(where, "expected {days: mon-fri, hours: HH:MM-HH:MM}")
                continue
            for extra in sorted(set(map(str, entry)) - {"days", "hours"}):
                self.fail((*where, extra), f"unknown field {extra!r}")
            days = self.days(entry.get("days"), (*where, "days"))
            span = self.span(entry.get("hours"), (*where, "hours"))
            if span is not None:
                shifts.extend(Shift(day, *span) for day in days)
                entries.extend(index for _ in days)
        self.overlaps(shifts, entries, path)
        return tuple(sorted(set(shifts), key=lambda s: (s.weekday, s.start, s.end)))

    def overlaps(self, shifts: list[Shift], entries: list[int], path: Path) -> None:
        """Record each entry whose hours overlap an earlier entry's, as the shift API refuses."""
        if self.accepted:
            return
        # One person cannot work (or be on call) the same minute twice: an overlap is a typo
        # that would count them twice in coverage and show hours that were never meant.
        told: set[int] = set()
        for earlier, later in overlapping_shifts(shifts):
            entry = entries[later]
            if entry not in told:
                told.add(entry)
                message = (
                    f"{describe_shift(shifts[later])} overlaps {describe_shift(shifts[earlier])}"
                )
                self.fail((*path, entry, "hours"), message)

    def days(self, value: object, path: Path) -> list[int]:
        """Return weekdays from "mon-fri", "sat,sun", "daily" or a list of day ids."""
        try:
            return parse_days(value)
        except ValueError as error:
            self.fail(path, str(error))
            return []

    def span(self, value: object, path: Path) -> tuple[int, int] | None:
        """Return (start, end) minutes from "HH:MM-HH:MM", or record a problem."""
        try:
            return parse_range(str(value)) if isinstance(value, str) else parse_range("")
        except ValueError as error:
            self.fail(path, str(error))
            return None

    def exceptions(self, value: object, path: Path) -> tuple[DatedException, ...]:
        """Return dated exceptions: {date: 2026-10-01, day_off: true} or {date, hours}."""
        if not isinstance(value, list):
            self.fail(path, "expected a list of {date, day_off} or {date, hours}")
            return ()
        if len(value) > MAX_EXCEPTIONS:
            self.fail(path, f"at most {MAX_EXCEPTIONS} dated exceptions")
            return ()
        found = []
        for index, entry in enumerate(value):
            where = (*path, index)
            if not isinstance(entry, Mapping):
                self.fail(where, "expected {date: YYYY-MM-DD, day_off: true} or {date, hours}")
                continue
            for extra in sorted(set(map(str, entry)) - {"date", "day_off", "hours"}):
                self.fail((*where, extra), f"unknown field {extra!r}")
            day = entry.get("date")
            if isinstance(day, str):
                try:
                    day = date.fromisoformat(day)
                except ValueError:
                    day = None
            if not isinstance(day, date) or isinstance(day, datetime):
                self.fail((*where, "date"), "expected a date as YYYY-MM-DD")
                continue
            if entry.get("day_off") is True and "hours" not in entry:
                found.append(DatedException(day))
            elif "hours" in entry and "day_off" not in entry:
                span = self.span(entry.get("hours"), (*where, "hours"))
                if span is not None:
                    found.append(DatedException(day, *span))
            else:
                self.fail(where, "give either day_off: true or hours: HH:MM-HH:MM")
        return tuple(sorted(set(found), key=lambda e: (e.day, e.start or 0, e.end or 0)))

    def check_roster(self, agents: list[tuple[Agent, Path]]) -> None:
        """Record agents that share an id or a phone number."""
        seen_ids: dict[str, Path] = {}
        seen_phones: dict[str, str] = {}
        for agent, path in agents:
            if agent.id in seen_ids:
                self.fail((*path, "id"), f"agent id {agent.id!r} is used twice")
            seen_ids.setdefault(agent.id, path)
            if agent.phone in seen_phones:
                self.fail((*path, "phone"), f"same phone as agent {seen_phones[agent.phone]!r}")
            seen_phones.setdefault(agent.phone, agent.id)


def parse_days(value: object) -> list[int]:
    """Parse weekdays: "mon-fri", "sat,sun", "daily", "mon" or a list of day ids."""
    if isinstance(value, list):
        parts = [str(item).strip() for item in value]
    elif isinstance(value, str) and value.strip():
        parts = [part.strip() for part in value.split(",")]
    else:
        raise ValueError("expected days such as mon-fri, sat,sun or daily")
    days: list[int] = []
    for part in parts:
        if part == "daily":
            days.extend(range(7))
            continue
        first, _, last = part.partition("-")
        if first not in DAY_IDS or (last and last not in DAY_IDS):
            raise ValueError(f"unknown day {part!r}; use {', '.join(DAY_IDS)}, ranges or daily")
        start, end = DAY_IDS.index(first), DAY_IDS.index(last or first)
        # A range may wrap the week end: fri-mon is Friday to Monday.
        days.extend((start + step) % 7 for step in range((end - start) % 7 + 1))
    return sorted(set(days))


def parse_roster(
    text: str,
    *,
    source: str,
    area_ids: Iterable[str],
    languages: Iterable[str],
    accepted: bool = False,
) -> Roster:
    """Check a roster (YAML, or CSV when the source ends in .csv) and build it, or raise.

    `accepted` reads a roster the hotline already holds (as last imported): the bounds and the
    overlap rule that refuse new files are not applied to it again.
    """
    if len(text) > MAX_ROSTER_CHARS and not accepted:
        message = f"{len(text)} characters; a roster is at most {MAX_ROSTER_CHARS}"
        raise ProblemsError(source, [Problem((), message)])
    if source.lower().endswith(".csv"):
        return parse_roster_csv(text, source=source, area_ids=area_ids, languages=languages)
    # No alias is ever expanded: a roster with one is refused before it is built.
    document = read_yaml(text, source, ACCEPTED_LIMITS if accepted else YAML_LIMITS)
    reader = _Reader(area_ids, languages, accepted=accepted)
    roster = _read_yaml(reader, document.data)
    if reader.problems:
        raise ProblemsError(source, _listed(document.locate(reader.problems)))
    assert roster is not None
    return roster


def _listed(problems: list[Problem]) -> list[Problem]:
    """The first MAX_LISTED problems, and how many more there are."""
    if len(problems) <= MAX_LISTED:
        return problems
    more = Problem((), f"{len(problems) - MAX_LISTED} more problems not listed")
    return [*problems[:MAX_LISTED], more]


def _shown(value: object) -> str:
    """A value as a problem quotes it: the start of a long one only."""
    text = str(value)
    return repr(text if len(text) <= 40 else f"{text[:40]}…")


def _read_yaml(reader: _Reader, data: object) -> Roster | None:
    """Read the roster document: an optional time zone and a list of agents."""
    if not isinstance(data, Mapping):
        reader.fail((), "expected a mapping with timezone and agents")
        return None
    for extra in sorted(set(map(str, data)) - {"timezone", "agents", "supervisors"}):
        reader.fail(
            (extra,), f"unknown field {_shown(extra)}; expected timezone, agents, supervisors"
        )
    zone = reader.zone(data.get("timezone", DEFAULT_TIMEZONE), ("timezone",))
    entries = data.get("agents")
    if not isinstance(entries, list) or not entries:
        reader.fail(("agents",), "expected a list with at least one agent")
        return None
    if len(entries) > MAX_AGENTS:
        reader.fail(("agents",), f"at most {MAX_AGENTS} agents")
        return None
    agents: list[tuple[Agent, Path]] = []
    for index, entry in enumerate(entries):
        path: Path = ("agents", index)
        if not isinstance(entry, Mapping):
            reader.fail(path, "expected an agent's fields")
            continue
        agent = reader.agent(entry, path, zone)
        if agent is not None:
            agents.append((agent, path))
    reader.check_roster(agents)
    supervisors = _read_supervisors(reader, data.get("supervisors", []), zone)
    return Roster(tuple(agent for agent, _ in agents), zone, supervisors)


def _read_supervisors(reader: _Reader, entries: object, zone: str) -> tuple[Supervisor, ...]:
    """Read the optional list of supervisors paged for crisis calls."""
    if not isinstance(entries, list):
        reader.fail(("supervisors",), "expected a list of supervisors")
        return ()
    if len(entries) > MAX_SUPERVISORS:
        reader.fail(("supervisors",), f"at most {MAX_SUPERVISORS} supervisors")
        return ()
    found: list[tuple[Supervisor, Path]] = []
    for index, entry in enumerate(entries):
        path: Path = ("supervisors", index)
        if not isinstance(entry, Mapping):
            reader.fail(path, "expected a supervisor's fields")
            continue
        supervisor = reader.supervisor(entry, path, zone)
        if supervisor is not None:
            found.append((supervisor, path))
    reader.check_supervisors(found)
    return tuple(supervisor for supervisor, _ in found)


def parse_roster_csv(
    text: str,
    *,
    source: str,
    area_ids: Iterable[str],
    languages: Iterable[str],
    timezone: str = DEFAULT_TIMEZONE,
) -> Roster:
    """Check a CSV roster (a row per person, compact columns) and build it, or raise."""
    reader = _Reader(area_ids, languages)
    rows = csv.DictReader(io.StringIO(text))
    cells: list[tuple[str, dict[str, str], int]] = []
    try:
        header = rows.fieldnames or []
        missing = [name for name in CSV_REQUIRED_COLUMNS if name not in header]
        for name in missing:
            reader.fail(("header", name), "missing column", 1)
        for name in header:
            if name not in CSV_COLUMNS:
                unknown = f"unknown column {_shown(name)}; use {', '.join(CSV_COLUMNS)}"
                reader.fail(("header", name[:40]), unknown, 1)
        for row in [] if missing else rows:
            if len(cells) == MAX_ROWS:
                reader.fail(("rows",), f"at most {MAX_ROWS} rows in a roster", rows.line_num)
                break
            # A cell an export quoted against spreadsheet formulas reads back as it was.
            cell = {
                name: read_cell((value or "").strip())
                for name, value in row.items()
                if name is not None
            }
            cells.append((cell.get("role", "").lower() or AGENT_ROW, cell, rows.line_num))
    except csv.Error as error:
        # The csv module's own bound (a cell past 131072 characters); its line count stops
        # before the row that failed.
        reader.fail((), f"not valid CSV: {error}", rows.line_num + 1)
    zone = _csv_zone(reader, [(cell, line) for role, cell, line in cells if role == ROSTER_ROW])
    zone = zone or timezone
    lines: dict[Path, int] = {}
    agents: list[tuple[Agent, Path]] = []
    supervisors: list[tuple[Supervisor, Path]] = []
    counts = {AGENT_ROW: 0, SUPERVISOR_ROW: 0}
    for role, cell, line in cells:
        if role not in counts:
            if role != ROSTER_ROW:
                message = f"expected agent, supervisor or roster, got {_shown(role)}"
                reader.fail(("role",), message, line)
            continue
        kind, most = (
            ("agents", MAX_AGENTS) if role == AGENT_ROW else ("supervisors", MAX_SUPERVISORS)
        )
        path: Path = (kind, counts[role])
        counts[role] += 1
        if counts[role] > most:
            if counts[role] == most + 1:
                reader.fail((kind,), f"at most {most} {kind}", line)
            continue
        lines[path] = line
        if _long_cells(reader, cell, path):
            continue
        if role == AGENT_ROW:
            agent = _csv_agent(reader, cell, path, zone)
            if agent is not None:
                agents.append((agent, path))
        else:
            supervisor = _csv_supervisor(reader, cell, path, zone)
            if supervisor is not None:
                supervisors.append((supervisor, path))
    reader.check_roster(agents)
    reader.check_supervisors(supervisors)
    if not agents and not reader.problems:
        reader.fail(("agents",), "the roster has no agents", 1)
    if reader.problems:
        # Every problem of a row is reported on the row's line in the file.
        located = [p if p.line else p.located(lines.get(p.path[:2])) for p in reader.problems]
        raise ProblemsError(source, _listed(located))
    return Roster(
        tuple(agent for agent, _ in agents),
        zone,
        tuple(supervisor for supervisor, _ in supervisors),
    )


def _long_cells(reader: _Reader, cell: Mapping[str, str], path: Path) -> bool:
    """Record each cell of a row past MAX_CELL; tell whether there was one."""
    long = [name for name, value in cell.items() if len(value) > MAX_CELL]
    for name in long:
        message = f"a cell of {len(cell[name])} characters; at most {MAX_CELL}"
        reader.fail((*path, name), message)
    return bool(long)


def _csv_zone(reader: _Reader, rows: list[tuple[dict[str, str], int]]) -> str | None:
    """The default time zone from the roster row, if there is one."""
    if not rows:
        return None
    (cell, line), *others = rows
    for name in sorted(set(CSV_COLUMNS) - {"role", "timezone"}):
        if cell.get(name):
            reader.fail(("roster", name), "the roster row only sets timezone", line)
    before = len(reader.problems)
    zone = reader.zone(cell.get("timezone", ""), ("roster", "timezone"))
    reader.problems[before:] = [p.located(line) for p in reader.problems[before:]]
    for _, later in others:
        reader.fail(("roster",), "give one roster row only", later)
    return zone


def _csv_agent(reader: _Reader, cell: dict[str, str], path: Path, zone: str) -> Agent | None:
    """Read an agent's row; None when it has a problem."""
    before = len(reader.problems)
    for name in _SUPERVISOR_ONLY:
        if cell.get(name):
            reader.fail(
                (*path, name), f"only supervisors have {name}; an agent's hours go in shifts"
            )
    entry = _csv_entry(reader, cell, path)
    agent = reader.agent(entry, path, zone)
    return agent if len(reader.problems) == before else None


def _csv_supervisor(
    reader: _Reader, cell: dict[str, str], path: Path, zone: str
) -> Supervisor | None:
    """Read a supervisor's row; None when it has a problem."""
    before = len(reader.problems)
    for name in _AGENT_ONLY:
        if cell.get(name):
            reader.fail((*path, name), f"only agents have {name}")
    entry: dict[str, Any] = {
        "id": cell.get("id", ""),
        "name": cell.get("name", ""),
        "phone": cell.get("phone", ""),
        "on_call": [_csv_shift(item) for item in _items(cell.get("on_call", ""))],
        "exceptions": [_csv_exception(item) for item in _items(cell.get("exceptions", ""))],
    }
    if cell.get("timezone"):
        entry["timezone"] = cell["timezone"]
    supervisor = reader.supervisor(entry, path, zone)
    return supervisor if len(reader.problems) == before else None


def _csv_entry(reader: _Reader, cell: Mapping[str, str], path: Path) -> dict[str, Any]:
    """Turn one CSV row's compact columns into the fields of a YAML agent."""
    entry: dict[str, Any] = {
        "id": cell.get("id", ""),
        "name": cell.get("name", ""),
        "phone": cell.get("phone", ""),
        "languages": cell.get("languages", "").replace(",", " ").split(),
        "crisis_trained": _csv_bool(reader, cell.get("crisis_trained", ""), path),
    }
    skills: dict[str, Any] = {}
    for item in cell.get("skills", "").replace(",", " ").split():
        area, _, level = item.partition(":")
        # isdecimal, not isdigit: "²" is a digit that int() refuses.
        skills[area] = int(level) if level.isdecimal() else level
    entry["skills"] = skills
    for name in ("pin", "pin_hash"):
        if cell.get(name):
            entry[name] = cell[name]
    if cell.get("timezone"):
        entry["timezone"] = cell["timezone"]
    entry["shifts"] = [_csv_shift(item) for item in _items(cell.get("shifts", ""))]
    entry["exceptions"] = [_csv_exception(item) for item in _items(cell.get("exceptions", ""))]
    return entry


def _items(text: str) -> list[str]:
    """Split a compact column on semicolons."""
    return [item.strip() for item in text.split(";") if item.strip()]


def _csv_bool(reader: _Reader, text: str, path: Path) -> bool:
    """Read yes/no style booleans from a CSV cell."""
    lowered = text.lower()
    if lowered in ("", "no", "false", "0", "n"):
        return False
    if lowered in ("yes", "true", "1", "y"):
        return True
    reader.fail((*path, "crisis_trained"), f"expected yes or no, got {text!r}")
    return False


def _csv_shift(item: str) -> dict[str, str]:
    """Read "mon-fri 09:00-17:00" into a shift entry."""
    days, _, hours = item.partition(" ")
    return {"days": days, "hours": hours.strip()}


def _csv_exception(item: str) -> dict[str, Any]:
    """Read "2026-10-01 off" or "2026-10-10 09:00-17:00" into an exception entry."""
    day, _, rest = item.partition(" ")
    rest = rest.strip()
    return {"date": day, "day_off": True} if rest == "off" else {"date": day, "hours": rest}


# --- writing ---------------------------------------------------------------------------------


def hash_pins(roster: Roster, *, method: str = PIN_METHOD) -> Roster:
    """The roster with each plain PIN replaced by a salted hash (slow: one scrypt per PIN)."""
    if all(agent.pin is None for agent in roster.agents):
        return roster
    agents = tuple(hash_agent_pin(agent, method=method) for agent in roster.agents)
    return Roster(agents, roster.timezone, roster.supervisors)


def hash_agent_pin(agent: Agent, *, method: str = PIN_METHOD) -> Agent:
    """The agent with a plain PIN replaced by a salted hash; unchanged without one."""
    if agent.pin is None:
        return agent
    return replace(agent, pin=None, pin_hash=hash_pin(agent.pin, method=method))


def export_roster(roster: Roster) -> str:
    """Render a roster as YAML that parse_roster reads back to an equal roster, PINs as hashes."""
    document: dict[str, Any] = {
        "timezone": roster.timezone,
        "agents": [agent_document(agent, roster.timezone) for agent in roster.agents],
    }
    if roster.supervisors:
        document["supervisors"] = [
            supervisor_document(supervisor, roster.timezone) for supervisor in roster.supervisors
        ]
    return dump_yaml(document)


def export_roster_csv(roster: Roster) -> str:
    """Render a roster as CSV that parse_roster reads back to an equal roster, PINs as hashes."""
    out = io.StringIO()
    # No name or phone can become a spreadsheet formula; the reader strips the quote again.
    writer = SafeDictWriter(out, fieldnames=CSV_EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerow({"role": ROSTER_ROW, "timezone": roster.timezone})
    for agent in roster.agents:
        document = agent_document(agent, roster.timezone)
        writer.writerow(
            {
                "role": AGENT_ROW,
                "id": agent.id,
                "name": agent.name,
                "phone": agent.phone,
                "languages": " ".join(agent.languages),
                "skills": " ".join(f"{area}:{level}" for area, level in agent.skills.items()),
                "crisis_trained": "yes" if agent.crisis_trained else "no",
                "pin_hash": agent.pin_hash or "",
                "shifts": _csv_hours(document["shifts"]),
                "exceptions": _csv_exceptions(document.get("exceptions", [])),
                "timezone": document.get("timezone", ""),
            }
        )
    for supervisor in roster.supervisors:
        document = supervisor_document(supervisor, roster.timezone)
        writer.writerow(
            {
                "role": SUPERVISOR_ROW,
                "id": supervisor.id,
                "name": supervisor.name,
                "phone": supervisor.phone,
                "on_call": _csv_hours(document["on_call"]),
                "exceptions": _csv_exceptions(document.get("exceptions", [])),
                "timezone": document.get("timezone", ""),
            }
        )
    return out.getvalue()


def _csv_hours(entries: Iterable[Mapping[str, str]]) -> str:
    """Weekly hours in one cell: "mon-fri 09:00-17:00;sat 09:00-13:00"."""
    return ";".join(f"{entry['days']} {entry['hours']}" for entry in entries)


def _csv_exceptions(entries: Iterable[Mapping[str, Any]]) -> str:
    """Dated exceptions in one cell: "2026-10-01 off;2026-10-10 09:00-17:00"."""
    return ";".join(
        f"{e['date']} off" if e.get("day_off") else f"{e['date']} {e['hours']}" for e in entries
    )


def agent_document(agent: Agent, default_zone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """Render one agent as the plain fields of a roster entry; a plain PIN is refused."""
    if agent.pin is not None:
        raise ValueError(f"agent {agent.id!r} has a plain PIN: hash_pins before writing it out")
    entry: dict[str, Any] = {
        "id": agent.id,
        "name": agent.name,
        "phone": agent.phone,
        "languages": list(agent.languages),
        "skills": dict(agent.skills),
        "crisis_trained": agent.crisis_trained,
    }
    if agent.pin_hash is not None:
        entry["pin_hash"] = agent.pin_hash
    if agent.timezone != default_zone:
        entry["timezone"] = agent.timezone
    entry["shifts"] = [
        {"days": format_days(days), "hours": _format_span(start, end)}
        for (start, end), days in _group_shifts(agent.shifts)
    ]
    if agent.exceptions:
        entry["exceptions"] = [
            {"date": e.day.isoformat(), "day_off": True}
            if e.off
            else {"date": e.day.isoformat(), "hours": _format_span(e.start or 0, e.end or 0)}
            for e in agent.exceptions
        ]
    return entry


def supervisor_document(
    supervisor: Supervisor, default_zone: str = DEFAULT_TIMEZONE
) -> dict[str, Any]:
    """Render one supervisor as the plain fields of a roster entry."""
    entry: dict[str, Any] = {
        "id": supervisor.id,
        "name": supervisor.name,
        "phone": supervisor.phone,
    }
    if supervisor.timezone != default_zone:
        entry["timezone"] = supervisor.timezone
    entry["on_call"] = [
        {"days": format_days(days), "hours": _format_span(start, end)}
        for (start, end), days in _group_shifts(supervisor.shifts)
    ]
    if supervisor.exceptions:
        entry["exceptions"] = [_exception_document(e) for e in supervisor.exceptions]
    return entry


def _exception_document(exception: DatedException) -> dict[str, Any]:
    """Render a dated exception as a roster entry."""
    if exception.off:
        return {"date": exception.day.isoformat(), "day_off": True}
    hours = _format_span(exception.start or 0, exception.end or 0)
    return {"date": exception.day.isoformat(), "hours": hours}


def _group_shifts(shifts: Iterable[Shift]) -> list[tuple[tuple[int, int], list[int]]]:
    """Group weekly shifts that share hours, so Monday to Friday is written once."""
    groups: dict[tuple[int, int], list[int]] = {}
    for shift in shifts:
        groups.setdefault((shift.start, shift.end), []).append(shift.weekday)
    return [(span, sorted(days)) for span, days in groups.items()]


def format_days(days: list[int]) -> str:
    """Render weekdays compactly: [0..4] is "mon-fri", all seven is "daily"."""
    if len(days) == 7:
        return "daily"
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = [
        DAY_IDS[run[0]] if len(run) == 1 else f"{DAY_IDS[run[0]]}-{DAY_IDS[run[-1]]}"
        for run in runs
    ]
    return ",".join(parts)


def _format_span(start: int, end: int) -> str:
    """Render a shift's minutes as "HH:MM-HH:MM" (overnight ends wrap past midnight)."""
    end_clock = end - 1440 if end > 1440 else end
    return f"{_clock(start)}-{_clock(end_clock)}"


def _clock(minutes: int) -> str:
    """Render minutes after midnight as zero-padded "HH:MM"."""
    return format_clock(minutes).rjust(5, "0")
