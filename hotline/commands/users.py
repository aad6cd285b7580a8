"""`hotline user` (console users, sessions, API tokens), `hotline token` and `hotline agent`."""

from __future__ import annotations

import argparse
import difflib
import getpass
import sys
import time
from datetime import UTC, datetime

from redis import Redis

from hotline.commands import CommandError, Commands, load_config, redis_client
from queues.agents import PRESENCES, AgentBoard, UnknownAgent
from queues.audit import AuditLog, command_line_actor
from queues.users import ROLES, TOKEN_DAYS, UserError, UserExists, UserStore

# How many roster ids a refused --agent names as the likely ones meant.
NEAREST_IDS = 3


def register(commands: Commands) -> None:
    """Add the console users, API tokens and agent presence commands."""
    user = commands.add(
        "user",
        "operations",
        "console users (ops, supervisor, agent), their sessions and API tokens",
    )
    user_commands = user.add_subparsers(title="user commands", metavar="USER_COMMAND")
    add = user_commands.add_parser("add", help="create a console user (password prompted)")
    add.add_argument("name", help="the user's sign-in name")
    add.add_argument("--role", choices=ROLES, required=True, help="what the user may do")
    add.add_argument(
        "--agent", dest="agent_id", help="the roster agent id this user is (role agent only)"
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin (one line) instead of prompting twice",
    )
    add.set_defaults(func=_user_add)
    listing = user_commands.add_parser("list", help="list console users: name, role, agent")
    listing.set_defaults(func=_user_list)
    remove = user_commands.add_parser("remove", help="delete a user and their API tokens")
    remove.add_argument("name", help="the user")
    remove.set_defaults(func=_user_remove)
    password = user_commands.add_parser(
        "password", help="set a user's password (ends their console sessions)"
    )
    password.add_argument("name", help="the user")
    password.add_argument(
        "--password-stdin", action="store_true", help="read it from stdin instead of prompting"
    )
    password.set_defaults(func=_user_password)
    role = user_commands.add_parser("role", help="change a role (ends the user's sessions)")
    role.add_argument("name", help="the user")
    role.add_argument("role", choices=ROLES, help="the new role")
    role.add_argument(
        "--agent", dest="agent_id", help="the roster agent id this user is (role agent only)"
    )
    role.set_defaults(func=_user_role)
    signout = user_commands.add_parser("signout", help="end every console session of a user")
    signout.add_argument("name", help="the user")
    signout.set_defaults(func=_user_signout)
    _register_tokens(user_commands.add_parser("token", help="a user's API bearer tokens"))

    # The older spelling of `hotline user token add`, kept for scripts that use it.
    token = commands.add(
        "token", "operations", "API bearer tokens (older spelling of `hotline user token`)"
    )
    token_commands = token.add_subparsers(title="token commands", metavar="TOKEN_COMMAND")
    create = token_commands.add_parser("create", help="make a token for a user (shown once)")
    create.add_argument("name", help="the user")
    create.set_defaults(func=_token_add, label="", days=TOKEN_DAYS)

    agent = commands.add(
        "agent", "operations", "set an agent's presence, as the agents' console does"
    )
    agent.add_argument("agent_id", help="the agent's id on the roster")
    agent.add_argument("status", choices=PRESENCES, help="the agent's new presence")
    agent.set_defaults(func=_agent_presence)


def _register_tokens(token: argparse.ArgumentParser) -> None:
    """Add `hotline user token add/list/revoke`."""
    commands = token.add_subparsers(title="token commands", metavar="TOKEN_COMMAND")
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
    revoke.add_argument("token_id", help="the token's id, as `hotline user token list` shows it")
    revoke.set_defaults(func=_token_revoke)


def _read_password(from_stdin: bool) -> str:
    """A new password from stdin or typed twice at a prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    # getpass falls back to reading stdin without a terminal, and a pipe ends in an EOFError.
    if not sys.stdin.isatty():
        raise CommandError(
            "no terminal to type the password at: pipe it in with --password-stdin", code=2
        )
    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise CommandError("the passwords differ: nothing was changed")
    return password


def _check_agent(redis: Redis, agent_id: str | None) -> None:
    """Refuse an agent id that is not on the stored roster, naming the nearest ones."""
    if not agent_id:
        return
    board = AgentBoard(redis, load_config().routing)
    if board.get(agent_id) is not None:
        return
    ids = board.ids()
    if not ids:
        raise CommandError(f"no agent {agent_id!r}: no roster is imported (hotline roster import)")
    nearest = difflib.get_close_matches(agent_id, ids, n=NEAREST_IDS, cutoff=0.0)
    raise CommandError(
        f"no agent {agent_id!r} on the roster; the nearest ids are {', '.join(nearest)}"
    )


def _user_add(args: argparse.Namespace) -> int:
    """Create a user, reading the password from stdin or a prompt."""
    redis = redis_client()
    # Checked before the prompt: nobody types a password twice for a user that is refused.
    _check_agent(redis, args.agent_id)
    password = _read_password(args.password_stdin)
    now = time.time()
    try:
        user = UserStore(redis).add(args.name, args.role, password, now, agent_id=args.agent_id)
    except UserExists as error:
        raise CommandError(str(error)) from None
    except UserError as error:
        raise CommandError(str(error), code=2) from None
    AuditLog(redis).record(
        command_line_actor(), "user.add", user.name, after=user.public(), now=now
    )
    linked = f", agent {user.agent_id}" if user.agent_id else ""
    print(f"user {user.name} added ({user.role}{linked})")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    """Print every user with role and agent."""
    for user in UserStore(redis_client()).all():
        print(f"{user.name}\t{user.role}\t{user.agent_id}")
    return 0


def _user_remove(args: argparse.Namespace) -> int:
    """Delete a user and their tokens."""
    redis = redis_client()
    store = UserStore(redis)
    user = store.get(args.name)
    if user is None:
        raise CommandError(f"no user {args.name!r}")
    store.remove(args.name)
    AuditLog(redis).record(
        command_line_actor(), "user.remove", args.name, before=user.public(), now=time.time()
    )
    print(f"user {args.name} removed")
    return 0


def _user_password(args: argparse.Namespace) -> int:
    """Set a user's password; their console sessions end."""
    redis = redis_client()
    password = _read_password(args.password_stdin)
    try:
        UserStore(redis).set_password(args.name, password)
    except UserError as error:
        raise CommandError(str(error), code=1 if error.field == "name" else 2) from None
    AuditLog(redis).record(command_line_actor(), "user.password", args.name, now=time.time())
    print(f"password of {args.name} set; their console sessions ended")
    return 0


def _user_role(args: argparse.Namespace) -> int:
    """Change a user's role; their console sessions end."""
    redis = redis_client()
    store = UserStore(redis)
    before = store.get(args.name)
    _check_agent(redis, args.agent_id)
    try:
        user = store.set_role(args.name, args.role, agent_id=args.agent_id)
    except UserError as error:
        raise CommandError(str(error), code=1 if error.field == "name" else 2) from None
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
    redis = redis_client()
    if not UserStore(redis).end_sessions(args.name):
        raise CommandError(f"no user {args.name!r}")
    AuditLog(redis).record(command_line_actor(), "user.sessions-end", args.name, now=time.time())
    print(f"every console session of {args.name} ended")
    return 0


def _existing_user(store: UserStore, name: str) -> None:
    """Refuse a user name nobody has."""
    if store.get(name) is None:
        raise CommandError(f"no user {name!r}")


def _token_add(args: argparse.Namespace) -> int:
    """Make a named API token and print it once; only its digest is kept."""
    redis = redis_client()
    store = UserStore(redis)
    _existing_user(store, args.name)
    now = time.time()
    try:
        token, made = store.issue_token(args.name, now, label=args.label, days=args.days)
    except UserError as error:
        raise CommandError(str(error), code=2) from None
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
    store = UserStore(redis_client())
    _existing_user(store, args.name)
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
    redis = redis_client()
    gone = UserStore(redis).revoke_token(args.name, args.token_id)
    if gone is None:
        raise CommandError(f"no token {args.token_id!r} of user {args.name!r}")
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
    redis = redis_client()
    config = load_config()
    now = time.time()
    try:
        change = AgentBoard(redis, config.routing).set_presence(args.agent_id, args.status, now)
    except UnknownAgent:
        raise CommandError(f"no agent {args.agent_id!r} on the roster") from None
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
