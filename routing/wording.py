"""Spoken phrasing of opening hours and next openings, from the config's calendar words, and
how long a sentence takes to say."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from routing.hours import WeeklyHours, format_clock

# How fast Twilio's voices speak, near enough: about 4 Chinese characters or 2.5 English words
# a second (a mark of punctuation on its own counts as a word), and a moment to start each
# sentence: the estimate the carrier's call clock uses too.
SECONDS_PER_CHARACTER = 0.25
SECONDS_PER_WORD = 0.4
SECONDS_PER_SENTENCE = 0.3


def speaking_seconds(text: str) -> float:
    """Estimate how long a <Say> of the text lasts, in seconds."""
    chinese = sum(1 for char in text if "\u3400" <= char <= "\u9fff")
    others = "".join(" " if "\u3400" <= char <= "\u9fff" else char for char in text)
    words = len(others.split())
    return SECONDS_PER_SENTENCE + chinese * SECONDS_PER_CHARACTER + words * SECONDS_PER_WORD


def describe_hours(hours: WeeklyHours, words: dict[str, Any]) -> str:
    """Say the weekly hours, grouping consecutive days that share the same ranges."""
    groups: list[tuple[int, int, tuple[tuple[int, int], ...]]] = []
    for weekday, ranges in hours.days():
        if groups and groups[-1][2] == ranges:
            first, _, same = groups[-1]
            groups[-1] = (first, weekday, same)
        else:
            groups.append((weekday, weekday, ranges))
    parts = []
    for first, last, ranges in groups:
        days = words["days"][first]
        if last != first:
            days = words["day_range"].format(first=words["days"][first], last=words["days"][last])
        if not ranges:
            spoken = words["closed_day"]
        else:
            spoken = ", ".join(
                words["range"].format(
                    start=format_clock(start), end=format_clock(end % 1440 or end)
                )
                for start, end in ranges
            )
        parts.append(f"{days} {spoken}")
    return words["list_separator"].join(parts)


def describe_next_opening(now: datetime, opening: datetime | None, words: dict[str, Any]) -> str:
    """Say when the next opening is: today, tomorrow or a weekday, and the time."""
    if opening is None:
        return words["closed_day"]
    local_now = now.astimezone(opening.tzinfo)
    days_ahead = (opening.date() - local_now.date()).days
    if days_ahead == 0:
        day = words["today"]
    elif days_ahead == 1:
        day = words["tomorrow"]
    else:
        day = words["days"][opening.weekday()]
    return f"{day} {format_clock(opening.hour * 60 + opening.minute)}"
