"""The desk's view of a repeat caller's earlier calls, filtered by role, and the call's outcome.

Who sees what of a caller's earlier calls (within `records.history_keep_days`):
- the agent on the call: the date, area, language, who took it, flags, outcome and intake
  summary of every earlier call, and the notes they wrote themselves; another agent's note is
  withheld (`note_hidden`), since it tells what the caller confided to that agent;
- supervisors: everything, notes of every agent and the caller's ratings included; each showing
  of a note another person wrote is audited (`caller-history.note-shown`);
- ops staff: nothing (the desk's API is the agent's and supervisors').

An outcome code (config `outcomes:`) is given at wrap-up with the note; an unknown code is
refused with a 400 that lists the codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ops import auth, context
from ops.auth import SUPERVISORS
from ops.errors import OpsError
from queues import followup_calls
from queues.records import trigger
from queues.repeat_callers import CallerHistory, EarlierCall
from queues.users import User

NOTE_SHOWN = "caller-history.note-shown"


class UnknownOutcome(OpsError):
    """An outcome code the config does not list."""

    status = 400


def history() -> CallerHistory:
    """The callers' history store with this hotline's retention and sealer."""
    rt = context.runtime()
    return CallerHistory(
        context.redis(), keep_days=context.config().records.history_keep_days, sealer=rt.sealer
    )


def shown_to(viewer: User, call_sid: str, caller: str) -> list[dict[str, Any]]:
    """The caller's earlier calls, newest first, as the viewer's role may see them."""
    store = history()
    earlier = store.earlier_calls(store.digest(caller), context.now(), before=call_sid)
    supervisor = viewer.role in SUPERVISORS
    shown, others_notes = [], []
    for call in earlier:
        own = bool(viewer.agent_id) and call.note_by == viewer.agent_id
        item = _public(call)
        if supervisor or own:
            item["note"] = call.note
            if call.note and not own:
                others_notes.append(call.call_sid)
        else:
            item["note"], item["note_hidden"] = None, bool(call.note)
        if supervisor:
            item["rating"] = call.rating
        shown.append(item)
    if others_notes:
        # Notes are what a caller confided to one agent: every reading by someone else is kept.
        context.audit_log().record(
            auth.actor(),
            NOTE_SHOWN,
            call_sid,
            after={"calls": others_notes},
            now=context.now(),
        )
    return shown


def _public(call: EarlierCall) -> dict[str, Any]:
    """What every viewer of the desk may see of an earlier call."""
    zone = ZoneInfo(context.config().timezone)
    return {
        "call_sid": call.call_sid,
        "at": call.at,
        "date": datetime.fromtimestamp(call.at, zone).strftime("%Y-%m-%d"),
        "area": call.area,
        "language": call.language,
        "agent": call.agent,
        "summary": call.summary,
        "flags": list(call.flags),
        "outcome": call.outcome,
        "ended": call.ended,
    }


def known_outcome(code: object) -> str:
    """An outcome code the config lists; any other is refused (400) with the codes it lists."""
    outcomes = context.config().outcomes
    if not isinstance(code, str) or code not in outcomes:
        listed = ", ".join(outcomes) or "none configured"
        raise UnknownOutcome(
            f"unknown outcome code {str(code)[:40]!r}; one of: {listed}", field="outcome"
        )
    return code


def give_outcome(agent_id: str, call_sid: str, code: object) -> str:
    """Give a call its outcome code from the config; an unknown code is refused (400)."""
    outcomes = context.config().outcomes
    code = known_outcome(code)
    context.notes().set_outcome(
        call_sid, agent_id, code, context.now(), follow_up=outcomes[code].follow_up
    )
    if outcomes[code].follow_up:
        # 需回访: the caller is owed another call, made by a callback task (once per call).
        followup_calls.outcome_given(context.runtime(), call_sid, agent_id)
    written(call_sid)
    return code


def written(call_sid: str) -> None:
    """A note or outcome changed: the call's record and the caller's history are written again."""
    trigger.refresh_record(context.redis(), call_sid)


def choices(language: str) -> list[dict[str, str]]:
    """The outcome codes the wrap-up offers, with their labels in the page's language."""
    return [
        {"code": code, "label": outcome.labels.get(language, code)}
        for code, outcome in context.config().outcomes.items()
    ]
