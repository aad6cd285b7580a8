"""Console accounts: signing in (rate-limited), users and tokens, every change audited."""

from __future__ import annotations

from typing import Any

from ops import context
from ops.errors import Conflict, Invalid, NotFound, TooManyAttempts
from queues.users import User, UserError, UserExists


def sign_in(name: object, password: object, ip: str) -> User | None:
    """Check a name and password; None when wrong; TooManyAttempts when over the limit."""
    if not isinstance(name, str) or not name:
        raise Invalid("missing user name", field="name")
    if not isinstance(password, str):
        raise Invalid("missing password", field="password")
    limiter = context.login_limiter()
    wait = limiter.blocked(name, ip)
    if wait:
        raise TooManyAttempts("too many failed sign-ins; try again later", wait)
    user = context.users().check_password(name, password)
    if user is None:
        limiter.failed(name, ip)
        return None
    limiter.succeeded(name)
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


def create_token(actor: str, name: str) -> str:
    """Make an API token for a user, shown once; the audit names the user, not the token."""
    if context.users().get(name) is None:
        raise NotFound(f"no user {name!r}", field="name")
    token = context.users().create_token(name, context.now())
    context.audit_log().record(actor, "token.create", name, after={"user": name}, now=context.now())
    return token


def all_users() -> list[dict[str, Any]]:
    """Every console user as the API shows them."""
    return [user.public() for user in context.users().all()]
