"""Who is asking: a bearer token or a signed-in session, its role, and CSRF on every form.

Sessions expire after a spell of inactivity and after a fixed lifetime, measured on the app's
clock; a request from an expired session is treated as anonymous, so it cannot change anything.
The cookie only names a session kept in Redis (`queues.users`): signing out deletes it, and a
new password, a new role, "sign out everywhere" or the user's removal ends every session of the
user, so a copied cookie is worth nothing afterwards. Token requests carry no cookie, so they
need no CSRF token; every session request that changes something must send the session's CSRF
token (form field or X-CSRF-Token header).
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, g, request, session

from ops import context
from ops.errors import Forbidden, TooManyAttempts, Unauthorized
from queues.users import User

OPS_ROLES = ("ops", "supervisor")
SUPERVISORS = ("supervisor",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def install(bp: Blueprint, *, anonymous_forms: bool = True) -> None:
    """Authenticate every request of a blueprint, then check its CSRF token.

    Pages check anonymous forms too (the sign-in form, against login CSRF); the API answers an
    anonymous request 401 instead, since it has no session to forge.
    """
    bp.before_request(authenticate)
    bp.before_request(check_csrf if anonymous_forms else _check_csrf_when_signed_in)


# At most how stale a session's last-seen time may be before a request writes it again.
SEEN_STEP_S = 60.0


def _limits() -> tuple[float, float]:
    """Idle and absolute session lifetimes in seconds."""
    config = current_app.config
    return float(config.get("OPS_SESSION_IDLE_S", 1800)), float(
        config.get("OPS_SESSION_MAX_S", 12 * 3600)
    )


def authenticate() -> None:
    """Find the user behind the request: a bearer token, or a live session."""
    g.user, g.via, g.expired = None, None, False
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        _authenticate_token(header[7:].strip())
        return
    name = session.get("user")
    if not name:
        return
    now = context.now()
    idle, lifetime = _limits()
    if now - session.get("seen", 0) > idle or now - session.get("issued", 0) > lifetime:
        _end_session()
        g.expired = True
        return
    # A cookie from before sessions were kept in Redis names none: it signs in again.
    session_id = session.get("sid")
    user = context.users().session_user(session_id, name) if session_id else None
    if user is None or user.role != session.get("role"):
        _end_session()
        return
    # Written again only once a step has passed: a session written back on every request lets
    # a page's poll, answered after a form's post, put back the cookie from before the post
    # and lose what the post said (its flash). The idle limit is kept to within one step.
    if now - session.get("seen", 0) >= min(SEEN_STEP_S, idle / 30):
        session["seen"] = now
    g.user, g.via = user, "session"


def _authenticate_token(token: str) -> None:
    """Accept a live bearer token, or refuse the request with the reason."""
    found = context.users().check_token(token, context.now(), source=request.remote_addr or "")
    if found.problem == "held":
        raise TooManyAttempts("too many unknown tokens from this address", found.retry_after)
    if found.problem == "expired" and found.token is not None:
        expired_on = datetime.fromtimestamp(found.token.expires_at, UTC).date().isoformat()
        raise Unauthorized(f"the token expired on {expired_on}; make a new one")
    if found.user is None:
        raise Unauthorized("unknown or revoked token")
    g.user, g.via = found.user, "token"


def start_session(user: User) -> bool:
    """Sign a user in with a fresh session (a new CSRF token too, against fixation)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    now = context.now()
    _, lifetime = _limits()
    session_id = context.users().start_session(user.name, now, lifetime_s=int(lifetime))
    if session_id is None:
        return False
    session.update(user=user.name, role=user.role, sid=session_id, issued=now, seen=now)
    session.permanent = True
    csrf_token()
    return True


def _end_session() -> None:
    """Forget the signed-in user but keep the page language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def end_session(*, everywhere: bool = False) -> None:
    """Sign out of this session, or of every session of the user."""
    name, session_id = session.get("user"), session.get("sid")
    if everywhere and name and g.get("via") == "session":
        context.users().end_sessions(name)
        context.audit_log().record(name, "user.sessions-end", name, now=context.now())
    elif session_id:
        context.users().end_session(session_id)
    _end_session()


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse a session request that changes something without the session's CSRF token."""
    if request.method in SAFE_METHODS or g.get("via") == "token":
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise Forbidden("missing or wrong CSRF token", field=CSRF_FIELD)


def _check_csrf_when_signed_in() -> None:
    """Check the CSRF token of session requests only."""
    if g.get("via") == "session":
        check_csrf()


def user() -> User:
    """The signed-in user (after `require`)."""
    return g.user


def actor() -> str:
    """The name the audit log records for this request."""
    via = g.get("via") or "anonymous"
    return f"{g.user.name}" if via == "session" else f"{g.user.name} (token)"


def require(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let a view run only for a signed-in user with one of the roles (any role when none)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            ensure(*roles)
            return view(*args, **kwargs)

        return guarded

    return decorate


def ensure(*roles: str) -> User:
    """Raise Unauthorized or Forbidden unless the user may go on."""
    if g.get("user") is None:
        if g.get("expired"):
            raise Unauthorized("the session expired; sign in again")
        raise Unauthorized("sign in or send a bearer token")
    if roles and g.user.role not in roles:
        raise Forbidden(f"needs the role {' or '.join(roles)}")
    return g.user


def ensure_self_or(name: str, *roles: str) -> User:
    """Let the user named, or staff with the roles, go on."""
    who = ensure()
    if who.name != name and who.role not in roles:
        raise Forbidden(f"only {name} or the role {' or '.join(roles)} may do this")
    return who


def ensure_session() -> None:
    """Refuse a request made with a token (for what only a person at a console may do)."""
    if g.get("via") != "session":
        raise Forbidden("only from a signed-in console session, or with the command line")


def ensure_for_agent(agent_id: str, *roles: str) -> User:
    """Let staff with the roles, or the agent themselves, act on an agent."""
    who = ensure()
    if who.role == "agent":
        if who.agent_id != agent_id:
            raise Forbidden("agents may act only for themselves")
        return who
    if who.role not in roles:
        raise Forbidden(f"needs the role {' or '.join(roles)}")
    return who
