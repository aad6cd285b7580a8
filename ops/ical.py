"""An agent's shifts as an iCalendar feed (RFC 5545), written by hand: it is a small format."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from routing.roster import Agent, shift_intervals

PRODID = "-//Legal consultation hotline//Shifts//EN"
LINE_LIMIT = 75  # octets per line before folding


def shifts_calendar(agent: Agent, today: date, *, days: int = 28, stamp: datetime) -> str:
    """Every shift of an agent from today over the coming days as a VCALENDAR document."""
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    intervals = []
    # shift_intervals looks about a week ahead of its instant: walk the range a week at a time.
    for week in range(0, days, 7):
        intervals.extend(shift_intervals(agent, start + timedelta(days=week)))
    end = start + timedelta(days=days + 1)
    unique = sorted({(s, e) for s, e in intervals if e > start and s < end})
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(agent.name)} shifts",
    ]
    for begin, finish in unique:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{agent.id}-{_utc(begin)}@hotline",
            f"DTSTAMP:{_utc(stamp)}",
            f"DTSTART:{_utc(begin)}",
            f"DTEND:{_utc(finish)}",
            f"SUMMARY:{_text('Hotline shift / 值班')}",
            f"DESCRIPTION:{_text(f'{agent.name} ({agent.id}), {agent.timezone}')}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def _utc(moment: datetime) -> str:
    """A date-time in UTC form: 20261202T140000Z."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    """Escape a TEXT value: backslash, semicolon, comma and newlines."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold a content line at 75 octets, never inside a UTF-8 character (RFC 5545 3.1)."""
    parts = []
    current = b""
    limit = LINE_LIMIT
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > limit:
            parts.append(current.decode())
            current = b""
            limit = LINE_LIMIT - 1  # continuation lines start with a space
        current += encoded
    parts.append(current.decode())
    return "\r\n ".join(parts)
