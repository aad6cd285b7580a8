"""Console accounts: signing in (rate-limited), users, sessions and tokens, changes audited."""

from __future__ import annotations

from typing import Any

from ops import context
from ops.errors import Conflict, Invalid, NotFound, TooManyAttempts
from queues.users import TOKEN_DAYS, User, UserError, UserExists


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
