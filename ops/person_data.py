"""A person's data for supervisors: export everything kept about one number, or erase it.

One blueprint holds the console page (`/ops/person`) and the JSON API (`/api/v1/person/export`,
`/api/v1/person/erase`), and the legal hold on crisis incidents (`/ops/incidents/<call>/hold`,
`/api/v1/incidents/<call>/hold`), all for supervisors only. The number is typed into a form or
a JSON body, never put in a URL. An export is one zip file (manifest.json and the decrypted
audio of voicemail and recorded consultations), or the manifest alone as JSON (`"format":
"json"`); an erasure needs a reason and the number's last four digits as confirmation, and
answers what was erased per place and what was kept (incidents under legal hold). Each is
audited (`queues.person_data`).
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, jsonify, redirect, render_template, request, url_for

from ops import api, auth, context, features
from ops.auth import SUPERVISORS, require
from ops.errors import Invalid, NotFound, Unavailable
from ops.i18n import word
from queues.incidents import UnknownIncident
from queues.person_data import (
    Erasure,
    Export,
    Incomplete,
    PersonData,
    PersonDataError,
    Unreachable,
    confirmed,
    person_number,
    reason_given,
)
from voicemail.person_data import for_app

bp = features.blueprint("ops_person_data", anonymous_forms=False)


# --- services ---------------------------------------------------------------------------------


def _service() -> PersonData:
    """The person-data service over every place, on the app's stores."""
    try:
        return for_app(current_app._get_current_object())
    except Exception as error:  # noqa: BLE001 - told to the supervisor, nothing done
        raise Unavailable(
            f"the hotline's stores cannot be reached ({error}): nothing was done"
        ) from error


def export(actor: str, data: dict[str, Any]) -> Export:
    """Everything kept about the number in the request; audited."""
    try:
        number = person_number(data.get("number"))
        reason = reason_given(data.get("reason"))
        return _service().export(number, actor=actor, reason=reason, now=context.now())
    except Unreachable as error:
        raise Unavailable(str(error)) from error
    except PersonDataError as error:
        raise Invalid(str(error), field=error.field or None) from error


def erase(actor: str, data: dict[str, Any]) -> Erasure:
    """Erase the number in the request everywhere it may be; audited, confirmed first."""
    try:
        number = person_number(data.get("number"))
        reason = reason_given(data.get("reason"))
        confirmed(number, data.get("confirm"))
        return _service().erase(number, actor=actor, reason=reason, now=context.now())
    except Incomplete as error:
        raise Unavailable(str(error)) from error
    except Unreachable as error:
        raise Unavailable(str(error)) from error
    except PersonDataError as error:
        raise Invalid(str(error), field=error.field or None) from error


def hold(actor: str, call_sid: str, reason: object) -> dict[str, Any]:
    """Put an incident under legal hold; audited."""
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("say why the incident must be kept (the case, the authority)", field="reason")
    try:
        held = context.incidents().hold(call_sid, by=actor, reason=reason, now=context.now())
    except UnknownIncident:
        raise NotFound("no incident for this call", field="call") from None
    context.audit_log().record(
        actor, "incident.hold", call_sid, after=held.public(), now=context.now()
    )
    return held.public()


def lift(actor: str, call_sid: str) -> bool:
    """Lift an incident's legal hold; audited. False when it was not held."""
    lifted = context.incidents().lift(call_sid, by=actor, now=context.now())
    if lifted is not None:
        context.audit_log().record(
            actor, "incident.hold_lifted", call_sid, before=lifted.public(), now=context.now()
        )
    return lifted is not None


def _download(found: Export) -> Response:
    """The export as one zip file to save."""
    return _attachment(found, found.archive(), "application/zip", "zip")


def _manifest(found: Export) -> Response:
    """The export's manifest alone, as JSON."""
    return _attachment(found, found.manifest_json(), "application/json", "json")


def _attachment(found: Export, body: Any, mimetype: str, extension: str) -> Response:
    """A file of the export to save, named after it and never cached (it is personal data)."""
    return Response(
        body,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{found.file_name(extension)}"',
            "Cache-Control": "no-store",
        },
    )


# --- console pages ----------------------------------------------------------------------------


@bp.get("/ops/person")
@require(*SUPERVISORS)
def page() -> str:
    """The form: a number and a reason, to export or to erase."""
    return render_template("ops/person.html", erasure=None)


@bp.post("/ops/person/export")
@require(*SUPERVISORS)
def page_export() -> Response:
    """Download everything kept about the number typed in."""
    found = export(auth.actor(), request.form.to_dict())
    return _manifest(found) if request.form.get("format") == "json" else _download(found)


@bp.post("/ops/person/erase")
@require(*SUPERVISORS)
def page_erase() -> str:
    """Erase the number typed in, and show what was erased and what was kept."""
    result = erase(auth.actor(), request.form.to_dict())
    return render_template("ops/person.html", erasure=result.public())


@bp.post("/ops/incidents/<call>/hold")
@require(*SUPERVISORS)
def page_hold(call: str) -> Response:
    """Put an incident under legal hold from the incidents page."""
    hold(auth.actor(), call, request.form.get("reason", ""))
    flash(word("pd_held"), "ok")
    return redirect(url_for("ops_monitoring.page_incidents"), code=303)


@bp.post("/ops/incidents/<call>/lift")
@require(*SUPERVISORS)
def page_lift(call: str) -> Response:
    """Lift an incident's legal hold from the incidents page."""
    lifted = lift(auth.actor(), call)
    flash(word("pd_lifted" if lifted else "pd_not_held"), "ok")
    return redirect(url_for("ops_monitoring.page_incidents"), code=303)


# --- JSON API ---------------------------------------------------------------------------------


@bp.post("/api/v1/person/export")
@require(*SUPERVISORS)
def api_export() -> Response:
    """Export: {"number", "reason", "format": "zip"|"json"}; a zip file unless json is asked."""
    data = api.body()
    found = export(auth.actor(), data)
    return _manifest(found) if data.get("format") == "json" else _download(found)


@bp.post("/api/v1/person/erase")
@require(*SUPERVISORS)
def api_erase() -> Response:
    """Erase: {"number", "reason", "confirm": last four digits}; what was erased and kept."""
    return jsonify(erase(auth.actor(), api.body()).public())


@bp.post("/api/v1/incidents/<call>/hold")
@require(*SUPERVISORS)
def api_hold(call: str) -> Response:
    """Put an incident under legal hold: {"reason"}."""
    return jsonify(hold(auth.actor(), call, api.body().get("reason")))


@bp.delete("/api/v1/incidents/<call>/hold")
@require(*SUPERVISORS)
def api_lift(call: str) -> Response:
    """Lift an incident's legal hold."""
    return jsonify({"call": call, "lifted": lift(auth.actor(), call)})
