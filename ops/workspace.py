"""The agent console: presence, the call ringing with its summary, wrap-up note and flags."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from ops import auth, desk, pages, staffing
from ops.auth import require
from ops.i18n import word

bp = Blueprint("ops_workspace", __name__, url_prefix="/ops/desk", template_folder="templates")
pages.install(bp)


def _agent_id() -> str:
    """The roster agent the signed-in agent user is."""
    return auth.user().agent_id


@bp.get("/")
@require("agent")
def desk_page() -> str:
    """The desk: presence buttons and the current call."""
    return render_template("ops/desk.html", view=desk.current_call(_agent_id()))


@bp.post("/presence")
@require("agent")
def presence() -> Response:
    """Set my presence."""
    staffing.set_presence(auth.actor(), _agent_id(), request.form.get("presence"))
    return redirect(url_for("ops_workspace.desk_page"), code=303)


@bp.post("/note")
@require("agent")
def note() -> Response:
    """Save my wrap-up note on the call."""
    desk.write_note(_agent_id(), request.form.get("reservation"), request.form.get("note", ""))
    flash(word("saved"), "ok")
    return redirect(url_for("ops_workspace.desk_page"), code=303)


@bp.post("/flag")
@require("agent")
def flag() -> Response:
    """Flag the call heavy or crisis."""
    desk.flag_call(_agent_id(), request.form.get("reservation"), request.form.get("flag"))
    flash(word("saved"), "ok")
    return redirect(url_for("ops_workspace.desk_page"), code=303)
