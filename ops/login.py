"""Signing in and out of the consoles, one's API tokens, and the language switch."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for

from ops import accounts, auth, pages
from ops.auth import OPS_ROLES, SUPERVISORS, require
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
    if user is None or not auth.start_session(user):
        flash(word("bad_login"), "error")
        return render_template("ops/login.html", next=_next()), 401
    return redirect(_next() or url_for("ops_console.home"), code=303)


@bp.post("/logout")
def logout() -> Response:
    """End the session, or with `everywhere` every session of the user."""
    auth.end_session(everywhere=bool(request.form.get("everywhere")))
    return redirect(url_for("ops_login.login"), code=303)


@bp.get("/tokens")
@require()
def tokens() -> str:
    """One's API tokens (ops and supervisors may open another user's with ?user=)."""
    return _tokens_page(_token_owner())


@bp.post("/tokens")
@require()
def make_token() -> str:
    """Make a token and show it on this page once; it is never shown again."""
    auth.ensure_session()
    owner = _token_owner()
    if owner != auth.user().name:
        auth.ensure(*SUPERVISORS)
    made = accounts.create_token(auth.actor(), owner, request.form.to_dict())
    return _tokens_page(owner, made=made)


@bp.post("/tokens/<token_id>/revoke")
@require()
def revoke_token(token_id: str) -> Response:
    """Revoke one token."""
    owner = _token_owner()
    accounts.revoke_token(auth.actor(), owner, token_id)
    flash(word("revoked"), "ok")
    target = url_for(".tokens", user=owner) if owner != auth.user().name else url_for(".tokens")
    return redirect(target, code=303)


def _token_owner() -> str:
    """Whose tokens a tokens page shows: one's own, or for ops and supervisors anyone's."""
    owner = request.values.get("user") or auth.user().name
    auth.ensure_self_or(owner, *OPS_ROLES)
    return owner


def _tokens_page(owner: str, *, made: dict | None = None) -> str:
    """The tokens page for a user, with a token just made when there is one."""
    return render_template(
        "ops/tokens.html",
        owner=owner,
        tokens=accounts.tokens_of(owner),
        made=made,
        may_make=owner == auth.user().name or auth.user().role in SUPERVISORS,
        others=[u["name"] for u in accounts.all_users()] if auth.user().role in OPS_ROLES else [],
    )


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
