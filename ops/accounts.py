"""Console accounts: signing in (rate-limited), users, sessions and tokens, changes audited.

One blueprint holds the console pages (sign-in and out, one's API tokens, the language switch,
`/ops/users` for supervisors) and the JSON API (`/api/v1/me`, `/api/v1/users...`). Anyone may
see and revoke their own tokens and end their own sessions; ops and supervisors anyone's; only
supervisors add or remove users or make tokens for others, and tokens are made only from a
console session (a token that made tokens could outlive its own expiry).
"""

from __future__ import annotations

from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, session, url_for

from ops import api, auth, context, features, pages
from ops.auth import OPS_ROLES, SUPERVISORS, require
from ops.errors import Conflict, Invalid, NotFound, TooManyAttempts
from ops.i18n import LANGUAGES, word
from queues.users import TOKEN_DAYS, User, UserError, UserExists

bp = features.blueprint("ops_accounts")


def sign_in(name: object, password: object, ip: str) -> User | None:
    """Check a name and password; None when wrong; TooManyAttempts when over the limit."""
    if not isinstance(name, str) or not name:
        raise Invalid("missing user name", field="name")
    if not isinstance(password, str):
        raise Invalid("missing password", field="password")
    limiter = context.login_limiter()
    # Counted before the slow check, so a burst of guesses gets no more checks than the limit.
    attempt = limiter.take({"user": name, "ip": ip or "-"})
    if not attempt.allowed:
        raise TooManyAttempts("too many failed sign-ins; try again later", attempt.retry_after)
    user = context.users().check_password(name, password)
    if user is None:
        limiter.failed(attempt, context.now())
        return None
    # A right password clears the name's count; the address only gets this try back.
    limiter.succeeded(attempt, clear=("user",))
    return user


def add_user(actor: str, fields: dict[str, Any]) -> User:
    """Create a console user; the password is never audited, only that one was set."""
    name, role = fields.get("name"), fields.get("role")
    agent_id = fields.get("agent_id") or None
    password = fields.get("password")
    for field, value in (("name", name), ("role", role), ("password", password)):
        if not isinstance(value, str):
            raise Invalid("missing or not text", field=field)
    if agent_id is not None and not isinstance(agent_id, str):
        raise Invalid("expected an agent id", field="agent_id")
    if agent_id and context.board().get(agent_id) is None:
        raise Invalid(f"no agent {agent_id!r} on the roster", field="agent_id")
    now = context.now()
    try:
        user = context.users().add(name, role, password, now, agent_id=agent_id)
    except UserExists as error:
        raise Conflict(error.message, field=error.field) from None
    except UserError as error:
        raise Invalid(error.message, field=error.field) from None
    context.audit_log().record(actor, "user.add", user.name, after=user.public(), now=now)
    return user


def remove_user(actor: str, name: str) -> None:
    """Delete a user and their tokens."""
    user = context.users().get(name)
    if user is None:
        raise NotFound(f"no user {name!r}", field="name")
    if name == actor:
        raise Conflict("you cannot remove yourself", field="name")
    context.users().remove(name)
    context.audit_log().record(actor, "user.remove", name, before=user.public(), now=context.now())


def end_sessions(actor: str, name: str) -> None:
    """Sign a user out of every console session."""
    if not context.users().end_sessions(name):
        raise NotFound(f"no user {name!r}", field="name")
    context.audit_log().record(actor, "user.sessions-end", name, now=context.now())


def create_token(actor: str, name: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Make a named API token for a user, shown once; the audit names it, never shows it."""
    fields = fields or {}
    label, days = fields.get("name") or "", fields.get("days")
    if days is None or days == "":
        days = TOKEN_DAYS
    elif isinstance(days, str) and days.strip().isdigit():
        days = int(days)  # from a form
    store = context.users()
    if store.get(name) is None:
        raise NotFound(f"no user {name!r}", field="name")
    now = context.now()
    try:
        token, made = store.issue_token(name, now, label=label, days=days)
    except UserError as error:
        raise Invalid(error.message, field=error.field) from None
    context.audit_log().record(
        actor, "token.create", name, after={"user": name, **_audited(made.public(now))}, now=now
    )
    return {"token": token, **made.public(now)}


def tokens_of(name: str) -> list[dict[str, Any]]:
    """A user's tokens as the API shows them (never the tokens themselves)."""
    store = context.users()
    if store.get(name) is None:
        raise NotFound(f"no user {name!r}", field="name")
    now = context.now()
    return [token.public(now) for token in store.tokens(name)]


def revoke_token(actor: str, name: str, token_id: str) -> None:
    """Revoke one of a user's tokens by its id."""
    now = context.now()
    gone = context.users().revoke_token(name, token_id)
    if gone is None:
        raise NotFound(f"no token {token_id!r} of user {name!r}", field="token_id")
    context.audit_log().record(
        actor, "token.revoke", name, before=_audited(gone.public(now)), now=now
    )


def _audited(token: dict[str, Any]) -> dict[str, Any]:
    """What the audit log keeps of a token: its id, name and times."""
    return {k: token[k] for k in ("id", "name", "created_at", "expires_at")}


def all_users() -> list[dict[str, Any]]:
    """Every console user as the API shows them."""
    return [user.public() for user in context.users().all()]


# --- console pages: signing in and out, one's tokens, the language ---------------------------


@bp.get("/ops/login")
def page_login() -> str:
    """The sign-in form."""
    return render_template("ops/login.html", next=_next())


@bp.post("/ops/login")
def page_login_post() -> Response | tuple[str, int]:
    """Check the name and password and start a session."""
    try:
        user = sign_in(
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


@bp.post("/ops/logout")
def page_logout() -> Response:
    """End the session, or with `everywhere` every session of the user."""
    auth.end_session(everywhere=bool(request.form.get("everywhere")))
    return redirect(url_for("ops_accounts.page_login"), code=303)


@bp.get("/ops/tokens")
@require()
def page_tokens() -> str:
    """One's API tokens (ops and supervisors may open another user's with ?user=)."""
    return _tokens_page(_token_owner())


@bp.post("/ops/tokens")
@require()
def page_make_token() -> str:
    """Make a token and show it on this page once; it is never shown again."""
    auth.ensure_session()
    owner = _token_owner()
    if owner != auth.user().name:
        auth.ensure(*SUPERVISORS)
    made = create_token(auth.actor(), owner, request.form.to_dict())
    return _tokens_page(owner, made=made)


@bp.post("/ops/tokens/<token_id>/revoke")
@require()
def page_revoke_token(token_id: str) -> Response:
    """Revoke one token."""
    owner = _token_owner()
    revoke_token(auth.actor(), owner, token_id)
    flash(word("revoked"), "ok")
    mine = owner == auth.user().name
    target = url_for(".page_tokens") if mine else url_for(".page_tokens", user=owner)
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
        tokens=tokens_of(owner),
        made=made,
        may_make=owner == auth.user().name or auth.user().role in SUPERVISORS,
        others=[u["name"] for u in all_users()] if auth.user().role in OPS_ROLES else [],
    )


@bp.get("/ops/lang/<code>")
def page_language(code: str) -> Response:
    """Switch the console language (a preference, so a plain link is enough)."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(_next() or url_for("ops_console.home"), code=303)


def _next() -> str:
    """Where to go after signing in: only a path on this console, never another site."""
    target = request.values.get("next", "")
    return target if target.startswith("/ops") and not target.startswith("//") else ""


# --- console pages: users ---------------------------------------------------------------------


@bp.get("/ops/users")
@require(*SUPERVISORS)
def page_users() -> str:
    """Console users."""
    return render_template("ops/users.html", users=all_users())


@bp.post("/ops/users")
@require(*SUPERVISORS)
def page_add_user() -> Response:
    """Create a user from the form."""
    add_user(auth.actor(), request.form.to_dict())
    return pages.saved()


@bp.post("/ops/users/<name>/remove")
@require(*SUPERVISORS)
def page_remove_user(name: str) -> Response:
    """Delete a user."""
    remove_user(auth.actor(), name)
    return pages.saved()


# --- JSON API ---------------------------------------------------------------------------------


@bp.get("/api/v1/me")
@require()
def api_me() -> Response:
    """The user behind the request."""
    return jsonify(auth.user().public())


@bp.get("/api/v1/users")
@require(*SUPERVISORS)
def api_users() -> Response:
    """Every console user."""
    return jsonify({"users": all_users()})


@bp.post("/api/v1/users")
@require(*SUPERVISORS)
def api_add_user() -> tuple[Response, int]:
    """Create a user: {name, role, password, agent_id}."""
    return jsonify(add_user(auth.actor(), api.body()).public()), 201


@bp.delete("/api/v1/users/<name>")
@require(*SUPERVISORS)
def api_remove_user(name: str) -> tuple[str, int]:
    """Delete a user and their tokens."""
    remove_user(auth.actor(), name)
    return "", 204


@bp.delete("/api/v1/users/<name>/sessions")
def api_end_sessions(name: str) -> tuple[str, int]:
    """Sign a user out of every console session (oneself, or anyone for ops and supervisors)."""
    auth.ensure_self_or(name, *OPS_ROLES)
    end_sessions(auth.actor(), name)
    return "", 204


@bp.get("/api/v1/users/<name>/tokens")
def api_tokens(name: str) -> Response:
    """A user's API tokens with name, expiry and last use (ops and supervisors see anyone's)."""
    auth.ensure_self_or(name, *OPS_ROLES)
    return jsonify({"user": name, "tokens": tokens_of(name)})


@bp.post("/api/v1/users/<name>/tokens")
def api_create_token(name: str) -> tuple[Response, int]:
    """Make a named API token, shown once: for oneself, or by a supervisor for anyone."""
    auth.ensure_self_or(name, *SUPERVISORS)
    # Made by a person at a console: a token that made tokens could outlive its own expiry.
    auth.ensure_session()
    fields = api.body(optional=True)
    return jsonify({"user": name, **create_token(auth.actor(), name, fields)}), 201


@bp.delete("/api/v1/users/<name>/tokens/<token_id>")
def api_revoke_token(name: str, token_id: str) -> tuple[str, int]:
    """Revoke one API token (one's own, or anyone's for ops and supervisors)."""
    auth.ensure_self_or(name, *OPS_ROLES)
    revoke_token(auth.actor(), name, token_id)
    return "", 204
