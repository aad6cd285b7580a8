"""Opening hours and holiday rules for the consoles: effective hours, edits and resets, audited.

The hotline config's hours are the default. Ops and supervisors edit an area's weekly hours and
holiday rule here (the same document shape as the config's `hours:`); the phone menu, the closed
message and voicemail callbacks keep the edit from the next call on, until the area is reset.

One blueprint holds the console page (`/ops/hours`) and the JSON API (`/api/v1/hours`), both for
ops and supervisors. Named `opening` (when the hotline answers), not `hours`, so it is not taken
for `routing.hours`, the pure parser of hour ranges it builds on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, jsonify, render_template, request

from ops import api, auth, context, features, pages
from ops.auth import OPS_ROLES, require
from ops.errors import Invalid, NotFound
from queues import keys
from queues.hours_edits import HoursEdit
from routing.holidays import china_calendar
from routing.hours import (
    CLOSED,
    DAY_IDS,
    WEEKLY,
    WeeklyHours,
    format_clock,
    hours_document,
    parse_hours_document,
)
from routing.problems import Problem, ProblemsError

# How far ahead the consoles list public holidays and make-up working days.
HOLIDAY_DAYS = 90
# The form's choice for holiday hours typed as ranges (beside "closed" and "weekly").
SPECIAL_HOURS = "hours"
EDITABLE = ("weekly", "holidays")
_DASH = re.compile(r"\s*[-–~～]\s*")
_SEPARATOR = re.compile(r"[,，;；、\s]+")

bp = features.blueprint("ops_opening")


# --- reading ----------------------------------------------------------------------------------


def effective_hours() -> dict[str, WeeklyHours]:
    """Every area's hours as calls keep them now: ops' edit, else the config's."""
    edits = context.hours_board().edits()
    return {area_id: _hours(area_id, edits.get(area_id)) for area_id in context.config().areas}


def _hours(area_id: str, edit: HoursEdit | None) -> WeeklyHours:
    """An area's hours from its edit, or the config's."""
    default = context.config().areas[area_id].hours
    return default if edit is None else parse_hours_document(edit.document, default.timezone)


def area_view(area_id: str, hours: WeeklyHours, edit: HoursEdit | None) -> dict[str, Any]:
    """One area's hours as the console and the API show them, with where they come from."""
    area = context.config().areas[area_id]
    return {
        "area": area_id,
        "name": area.name,
        "timezone": hours.timezone,
        "days": {DAY_IDS[weekday]: _spoken(ranges) for weekday, ranges in hours.days()},
        **hours_document(hours),
        "source": "ops" if edit is not None else "config",
        "updated_by": edit.by if edit is not None else None,
        "updated_at": _local(edit.at).isoformat() if edit is not None else None,
        "default": hours_document(area.hours),
    }


def areas_view() -> list[dict[str, Any]]:
    """Every area's hours, in the config's order."""
    edits = context.hours_board().edits()
    return [
        area_view(area_id, _hours(area_id, edits.get(area_id)), edits.get(area_id))
        for area_id in context.config().areas
    ]


def one_area(area_id: str) -> dict[str, Any]:
    """One area's hours as shown, read afresh."""
    edit = context.hours_board().edit(area_id)
    return area_view(area_id, _hours(area_id, edit), edit)


def coming_holidays(days: int = HOLIDAY_DAYS) -> dict[str, Any]:
    """China's public holidays and make-up working days ahead, with each area's hours on them."""
    today = _local(context.now()).date()
    last = today + timedelta(days=days - 1)
    calendar = china_calendar()
    hours = effective_hours()
    return {
        "from": today.isoformat(),
        "to": last.isoformat(),
        "days": [
            {
                "date": found.day.isoformat(),
                "weekday": DAY_IDS[found.day.weekday()],
                "kind": found.kind,
                "name": found.name,
                "hours": {area_id: _spoken(h.ranges_on(found.day)) for area_id, h in hours.items()},
            }
            for found in calendar.special_days(today, last)
        ],
        # Set when the period runs past the years the calendar package knows.
        "known_until": calendar.last_year if calendar.warning(today, last) else None,
        "warning": calendar.warning(today, last),
    }


def _spoken(ranges: Iterable[tuple[int, int]]) -> list[str]:
    """Ranges as the consoles print them: "9:00-21:00", an overnight end as its clock time."""
    return [
        f"{format_clock(start)}-{format_clock(end % 1440 if end > 1440 else end)}"
        for start, end in ranges
    ]


def _local(epoch: float) -> datetime:
    """An epoch time in the hotline's time zone."""
    return datetime.fromtimestamp(epoch, ZoneInfo(context.config().timezone))


# --- changing ---------------------------------------------------------------------------------


def save(actor: str, area_id: str, fields: object) -> dict[str, Any]:
    """Set an area's weekly hours and/or holiday rule (a field left out keeps its value)."""
    _area_or_404(area_id)
    if not isinstance(fields, Mapping):
        raise Invalid("expected a JSON object", field="body")
    for name in fields:
        if name not in EDITABLE:
            raise Invalid("unknown field; expected weekly and holidays", field=str(name))
    if not fields:
        raise Invalid("send weekly, holidays or both", field="weekly")
    board, now = context.hours_board(), context.now()

    def change(pipe: Any) -> None:
        edit = board.edit(area_id, client=pipe)
        current = _hours(area_id, edit)
        document = {**hours_document(current), **fields}
        try:
            hours = parse_hours_document(document, current.timezone)
        except ProblemsError as error:
            raise _invalid(error.problems) from None
        checked = hours_document(hours)
        pipe.multi()
        board.save(area_id, checked, by=actor, now=now, pipeline=pipe)
        context.audit_log().record(
            actor,
            "hours.set",
            area_id,
            before=_audited(current, edit),
            after={**checked, "source": "ops"},
            now=now,
            pipeline=pipe,
        )

    # Watched, so two consoles saving at once cannot lose an edit or misstate "before".
    context.redis().transaction(change, keys.opening_hours())
    return one_area(area_id)


def reset(actor: str, area_id: str) -> dict[str, Any]:
    """Drop ops' edit of an area, back to the config's hours (audited when there was one)."""
    _area_or_404(area_id)
    board, now = context.hours_board(), context.now()
    default = context.config().areas[area_id].hours

    def change(pipe: Any) -> None:
        edit = board.edit(area_id, client=pipe)
        if edit is None:
            return
        before = _audited(_hours(area_id, edit), edit)
        pipe.multi()
        board.clear(area_id, pipeline=pipe)
        context.audit_log().record(
            actor,
            "hours.reset",
            area_id,
            before=before,
            after=_audited(default, None),
            now=now,
            pipeline=pipe,
        )

    context.redis().transaction(change, keys.opening_hours())
    return one_area(area_id)


def form_document(form: Mapping[str, str]) -> dict[str, Any]:
    """An hours document from the console's form: ranges typed per day, the holiday choices."""
    public_choice = form.get("public", CLOSED)
    public: str | list[str] = public_choice
    if public_choice == SPECIAL_HOURS:
        public = _typed_ranges(form.get("public_hours", ""))
        if not public:
            raise Invalid("enter the hours kept on public holidays", field="holidays.public")
    return {
        "weekly": {day: _typed_ranges(form.get(day, "")) for day in DAY_IDS},
        "holidays": {"public": public, "makeup": form.get("makeup", WEEKLY)},
    }


def _typed_ranges(text: str) -> list[str]:
    """Ranges typed in one box: "09:00-12:00, 13:00-21:00" (Chinese commas and dashes too)."""
    return [part for part in _SEPARATOR.split(_DASH.sub("-", text.strip())) if part]


def _area_or_404(area_id: str) -> None:
    """Raise NotFound unless the config has the area."""
    if area_id not in context.config().areas:
        raise NotFound(f"no area {area_id!r} in the hotline config", field="area")


def _audited(hours: WeeklyHours, edit: HoursEdit | None) -> dict[str, Any]:
    """What the audit log keeps of an area's hours: the document and where it came from."""
    return {**hours_document(hours), "source": "ops" if edit is not None else "config"}


def _invalid(problems: list[Problem]) -> Invalid:
    """A refusal naming the first field at fault, and listing every problem when several."""
    listed = [{"field": _field(p.path), "message": p.message} for p in problems]
    first = problems[0]
    return Invalid(
        first.message, field=_field(first.path), problems=listed if len(listed) > 1 else None
    )


def _field(path: tuple[str | int, ...]) -> str:
    """A problem's path as a field name, such as weekly.mon.0."""
    return ".".join(str(part) for part in path) or "body"


# --- console page -----------------------------------------------------------------------------


@bp.get("/ops/hours")
@require(*OPS_ROLES)
def page_hours() -> str:
    """Each area's hours and holiday rule, editable, and the public holidays coming up."""
    return render_template(
        "ops/hours.html",
        areas=areas_view(),
        coming=coming_holidays(),
        days=DAY_IDS,
        special_hours=SPECIAL_HOURS,
        holiday_days=HOLIDAY_DAYS,
    )


@bp.post("/ops/hours/<area>")
@require(*OPS_ROLES)
def page_save_hours(area: str) -> Response:
    """Save an area's weekly hours and holiday rule from its form."""
    save(auth.actor(), area, form_document(request.form))
    return pages.saved(f"#area-{area}")


@bp.post("/ops/hours/<area>/reset")
@require(*OPS_ROLES)
def page_reset_hours(area: str) -> Response:
    """Put an area back on the hotline config's hours."""
    reset(auth.actor(), area)
    return pages.saved(f"#area-{area}")


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/hours")
@require(*OPS_ROLES)
def api_hours() -> Response:
    """Each area's effective hours and holiday rule, and the public holidays coming up."""
    return jsonify({"areas": areas_view(), "holidays": coming_holidays()})


@bp.put("/api/v1/hours/<area>")
@require(*OPS_ROLES)
def api_set_hours(area: str) -> Response:
    """Set an area's hours: {"weekly": {...}, "holidays": {...} or null}; a field left out stays."""
    return jsonify(save(auth.actor(), area, api.body()))


@bp.delete("/api/v1/hours/<area>")
@require(*OPS_ROLES)
def api_reset_hours(area: str) -> Response:
    """Put an area back on the hotline config's hours."""
    return jsonify(reset(auth.actor(), area))
