"""Signing in and out of the consoles, and the language switch."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for

from ops import accounts, auth, pages
from ops.errors import TooManyAttempts
from ops.i18n import LANGUAGES, word

bp = Blueprint("ops_login", __name__, url_prefix="/ops", template_folder="templates")
pages.install(bp)


@bp.get("/login")
def login() -> str:
    """The sign-in form."""
    return render_template("ops/login.html", next=_next())


@bp.post("/login")
def login_post() -> Response | tuple[str, int]:
    """Check the name and password and start a session."""
    try:
        user = accounts.sign_in(
            request.form.get("name", ""),
            request.form.get("password", ""),
            request.remote_addr or "",
        )
    except TooManyAttempts as error:
        flash(word("too_many"), "error")
        page = render_template("ops/login.html", next=_next())
        return page, 429, {"Retry-After": str(error.retry_after)}
    if user is None:
        flash(word("bad_login"), "error")
        return render_template("ops/login.html", next=_next()), 401
    auth.start_session(user)
    return redirect(_next() or url_for("ops_console.home"), code=303)


@bp.post("/logout")
def logout() -> Response:
    """End the session."""
    auth.end_session()
    return redirect(url_for("ops_login.login"), code=303)


@bp.get("/lang/<code>")
def language(code: str) -> Response:
    """Switch the console language (a preference, so a plain link is enough)."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_next() or url_for("ops_console.home"), code=303)


def _next() -> str:
    """Where to go after signing in: only a path on this console, never another site."""
    target = request.values.get("next", "")
    return target if target.startswith("/ops") and not target.startswith("//") else ""
