"""Who is on shift at an instant, with public holidays applied only when the roster asks for it.

Without holiday rules this is exactly `routing.roster.on_shift`: shifts are left alone. With
rules, a public holiday takes its weekly shifts off (or replaces them) and a make-up working day
works a named weekday's shifts. Dated exceptions still win: a day off is off, and an extra shift
is worked even on a holiday.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from routing.holidays import HolidayRules, Ranges
from routing.roster import Agent, Roster
from routing.roster import on_shift as weekly_on_shift


def ranges_on(agent: Agent, day: date, rules: HolidayRules | None) -> Ranges:
    """The shift ranges an agent starts on a local date, after holidays and exceptions."""
    if any(exception.day == day and exception.off for exception in agent.exceptions):
        planned: Ranges = ()
    elif rules is None:
        planned = _weekly(agent, day.weekday())
    else:
        planned = rules.ranges_on(day, lambda weekday: _weekly(agent, weekday))
    extra = tuple(
        (exception.start, exception.end)
        for exception in agent.exceptions
        if exception.day == day
        and not exception.off
        and exception.end is not None
        and exception.start is not None
    )
    return planned + extra


def agent_intervals(
    agent: Agent, first: date, last: date, rules: HolidayRules | None = None
) -> list[tuple[datetime, datetime]]:
    """The agent's shifts (start, end) that start from first to last, in their own zone."""
    zone = ZoneInfo(agent.timezone)
    found = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        for start, end in ranges_on(agent, day, rules):
            # Same arithmetic as the roster: a shift is one stretch of real time.
            found.append(
                (
                    (midnight + timedelta(minutes=start)).astimezone(zone),
                    (midnight + timedelta(minutes=end)).astimezone(zone),
                )
            )
    return sorted(found)


def agent_on_shift(agent: Agent, now: datetime, rules: HolidayRules | None = None) -> bool:
    """Tell whether an agent is on shift at an aware instant."""
    if rules is None:
        return weekly_on_shift(agent, now)
    today = now.astimezone(ZoneInfo(agent.timezone)).date()
    spans = agent_intervals(agent, today - timedelta(days=1), today, rules)
    return any(start <= now < end for start, end in spans)


def on_shift(roster: Roster, now: datetime, rules: HolidayRules | None = None) -> set[str]:
    """The ids of the roster's agents on shift at an aware instant."""
    return {agent.id for agent in roster.agents if agent_on_shift(agent, now, rules)}


def _weekly(agent: Agent, weekday: int) -> Ranges:
    """The agent's weekly shift ranges on one weekday."""
    return tuple((shift.start, shift.end) for shift in agent.shifts if shift.weekday == weekday)
