"""The `hotline user` (users, their sessions and API tokens) and `hotline agent` commands."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from queues.agents import PRESENCES, AgentBoard, UnknownAgent
from queues.audit import AuditLog, command_line_actor
from queues.connection import from_environment
from queues.users import ROLES, TOKEN_DAYS, UserError, UserExists, UserStore
from routing.config import HotlineConfig

ConfigLoader = Callable[[], HotlineConfig | None]


def register(subparsers: Any, *, load_config: ConfigLoader | None = None) -> None:
    """Add the console users, API tokens and agent presence commands to the hotline CLI."""
    user = subparsers.add_parser("user", help="console users (ops, supervisor, agent)")
    user_commands = user.add_subparsers(title="user commands")
    add = user_commands.add_parser("add", help="create a console user (password prompted)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--agent", dest="agent_id", help="roster agent id (role agent)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=_user_add)
    listing = user_commands.add_parser("list", help="list console users")
    listing.set_defaults(func=_user_list)
    remove = user_commands.add_parser("remove", help="delete a user and their API tokens")
    remove.add_argument("name")
    remove.set_defaults(func=_user_remove)
    password = user_commands.add_parser(
        "password", help="set a user's password (ends their console sessions)"
    )
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    password.set_defaults(func=_user_password)
    role = user_commands.add_parser("role", help="change a role (ends the user's sessions)")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    role.add_argument("--agent", dest="agent_id", help="roster agent id (role agent)")
    role.set_defaults(func=_user_role)
    signout = user_commands.add_parser("signout", help="end every console session of a user")
    signout.add_argument("name")
    signout.set_defaults(func=_user_signout)
    _register_tokens(user_commands.add_parser("token", help="a user's API bearer tokens"))

    # The older spelling of `hotline user token add`, kept for scripts that use it.
    token = subparsers.add_parser("token", help="API bearer tokens (see `hotline user token`)")
    token_commands = token.add_subparsers(title="token commands")
    create = token_commands.add_parser("create", help="make a token for a user (shown once)")
    create.add_argument("name")
    create.set_defaults(func=_token_add, label="", days=TOKEN_DAYS)

    agent = subparsers.add_parser("agent", help="set an agent's presence")
    agent.add_argument("agent_id")
    agent.add_argument("status", choices=PRESENCES)
    agent.set_defaults(func=_agent_presence, load_config=load_config)


def _register_tokens(token: Any) -> None:
    """Add `hotline user token add/list/revoke`."""
    commands = token.add_subparsers(title="token commands")
    add = commands.add_parser("add", help="make a named token that expires (shown once)")
    add.add_argument("name", help="the user")
    add.add_argument("--name", dest="label", default="", help="what the token is for")
    add.add_argument(
        "--days", type=int, default=TOKEN_DAYS, help=f"days until it expires ({TOKEN_DAYS})"
    )
    add.set_defaults(func=_token_add)
    listing = commands.add_parser("list", help="a user's tokens: id, name, expiry, last use")
    listing.add_argument("name", help="the user")
    listing.set_defaults(func=_token_list)
    revoke = commands.add_parser("revoke", help="revoke one token by its id")
    revoke.add_argument("name", help="the user")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=_token_revoke)


def _read_password(from_stdin: bool) -> str | None:
    """A new password from stdin or typed twice at a prompt; None when the two differ."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        print("the passwords differ", file=sys.stderr)
        return None
    return password


def _user_add(args: argparse.Namespace) -> int:
    """Create a user, reading the password from stdin or a prompt."""
    redis = from_environment()
    if redis is None:
        return 2
    password = _read_password(args.password_stdin)
    if password is None:
        return 1
    now = time.time()
    try:
        user = UserStore(redis).add(args.name, args.role, password, now, agent_id=args.agent_id)
    except UserExists as error:
        print(str(error), file=sys.stderr)
        return 1
    except UserError as error:
        print(str(error), file=sys.stderr)
        return 2
    AuditLog(redis).record(
        command_line_actor(), "user.add", user.name, after=user.public(), now=now
    )
    linked = f", agent {user.agent_id}" if user.agent_id else ""
    print(f"user {user.name} added ({user.role}{linked})")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    """Print every user with role and agent."""
    redis = from_environment()
    if redis is None:
        return 2
    for user in UserStore(redis).all():
        print(f"{user.name}\t{user.role}\t{user.agent_id}")
    return 0


def _user_remove(args: argparse.Namespace) -> int:
    """Delete a user and their tokens."""
    redis = from_environment()
    if redis is None:
        return 2
    store = UserStore(redis)
    user = store.get(args.name)
    if user is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    store.remove(args.name)
    AuditLog(redis).record(
        command_line_actor(), "user.remove", args.name, before=user.public(), now=time.time()
    )
    print(f"user {args.name} removed")
    return 0


def _user_password(args: argparse.Namespace) -> int:
    """Set a user's password; their console sessions end."""
    redis = from_environment()
    if redis is None:
        return 2
    password = _read_password(args.password_stdin)
    if password is None:
        return 1
    try:
        UserStore(redis).set_password(args.name, password)
    except UserError as error:
        print(str(error), file=sys.stderr)
        return 1 if error.field == "name" else 2
    AuditLog(redis).record(command_line_actor(), "user.password", args.name, now=time.time())
    print(f"password of {args.name} set; their console sessions ended")
    return 0


def _user_role(args: argparse.Namespace) -> int:
    """Change a user's role; their console sessions end."""
    redis = from_environment()
    if redis is None:
        return 2
    store = UserStore(redis)
    before = store.get(args.name)
    try:
        user = store.set_role(args.name, args.role, agent_id=args.agent_id)
    except UserError as error:
        print(str(error), file=sys.stderr)
        return 1 if error.field == "name" else 2
    AuditLog(redis).record(
        command_line_actor(),
        "user.role",
        args.name,
        before=before.public() if before else None,
        after=user.public(),
        now=time.time(),
    )
    print(f"{args.name} is now {user.role}; their console sessions ended")
    return 0


def _user_signout(args: argparse.Namespace) -> int:
    """End every console session of a user."""
    redis = from_environment()
    if redis is None:
        return 2
    if not UserStore(redis).end_sessions(args.name):
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    AuditLog(redis).record(command_line_actor(), "user.sessions-end", args.name, now=time.time())
    print(f"every console session of {args.name} ended")
    return 0


def _token_add(args: argparse.Namespace) -> int:
    """Make a named API token and print it once; only its digest is kept."""
    redis = from_environment()
    if redis is None:
        return 2
    store = UserStore(redis)
    if store.get(args.name) is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    now = time.time()
    try:
        token, made = store.issue_token(args.name, now, label=args.label, days=args.days)
    except UserError as error:
        print(str(error), file=sys.stderr)
        return 2
    AuditLog(redis).record(
        command_line_actor(),
        "token.create",
        args.name,
        after={"user": args.name, "id": made.id, "name": made.name, "expires_at": made.expires_at},
        now=now,
    )
    print(token)
    print(
        f"token {made.id} expires on {_when(made.expires_at)}; keep it now: it is not shown again",
        file=sys.stderr,
    )
    return 0


def _token_list(args: argparse.Namespace) -> int:
    """Print a user's tokens: id, name, expiry and last use, one a line."""
    redis = from_environment()
    if redis is None:
        return 2
    store = UserStore(redis)
    if store.get(args.name) is None:
        print(f"no user {args.name!r}", file=sys.stderr)
        return 1
    now = time.time()
    for token in store.tokens(args.name):
        expiry = ("expired " if now >= token.expires_at else "expires ") + _when(token.expires_at)
        used = (
            f"last used {_when(token.last_used_at)} from {token.last_used_from or '?'}"
            if token.last_used_at
            else "never used"
        )
        print(f"{token.id}\t{token.name or '-'}\t{expiry}\t{used}")
    return 0


def _token_revoke(args: argparse.Namespace) -> int:
    """Revoke one of a user's tokens by its id."""
    redis = from_environment()
    if redis is None:
        return 2
    gone = UserStore(redis).revoke_token(args.name, args.token_id)
    if gone is None:
        print(f"no token {args.token_id!r} of user {args.name!r}", file=sys.stderr)
        return 1
    AuditLog(redis).record(
        command_line_actor(),
        "token.revoke",
        args.name,
        before={"id": gone.id, "name": gone.name, "expires_at": gone.expires_at},
        now=time.time(),
    )
    print(f"token {gone.id} of {args.name} revoked")
    return 0


def _when(epoch: float) -> str:
    """An epoch time as a UTC date and minute."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _agent_presence(args: argparse.Namespace) -> int:
    """Set an agent's presence through the routing state, as the consoles do."""
    redis = from_environment()
    if redis is None:
        return 2
    config = args.load_config() if args.load_config else None
    if config is None:
        print("cannot load the hotline config", file=sys.stderr)
        return 2
    now = time.time()
    try:
        change = AgentBoard(redis, config.routing).set_presence(args.agent_id, args.status, now)
    except UnknownAgent:
        print(f"no agent {args.agent_id!r} on the roster", file=sys.stderr)
        return 1
    if change.before != change.after:
        AuditLog(redis).record(
            command_line_actor(),
            "agent.presence",
            args.agent_id,
            before={"presence": change.before},
            after={"presence": change.after},
            now=now,
        )
    print(f"{args.agent_id}: {change.before} -> {change.after}")
    return 0
