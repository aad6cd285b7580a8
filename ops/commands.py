"""The `hotline user`, `hotline token` and `hotline agent` commands."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from collections.abc import Callable
from typing import Any

from queues.agents import PRESENCES, AgentBoard, UnknownAgent
from queues.audit import AuditLog, command_line_actor
from queues.connection import from_environment
from queues.users import ROLES, UserError, UserExists, UserStore
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

    token = subparsers.add_parser("token", help="API bearer tokens")
    token_commands = token.add_subparsers(title="token commands")
    create = token_commands.add_parser("create", help="make a token for a user (shown once)")
    create.add_argument("name")
    create.set_defaults(func=_token_create)

    agent = subparsers.add_parser("agent", help="set an agent's presence")
    agent.add_argument("agent_id")
    agent.add_argument("status", choices=PRESENCES)
    agent.set_defaults(func=_agent_presence, load_config=load_config)


def _user_add(args: argparse.Namespace) -> int:
    """Create a user, reading the password from stdin or a prompt."""
    redis = from_environment()
    if redis is None:
        return 2
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("the passwords differ", file=sys.stderr)
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


def _token_create(args: argparse.Namespace) -> int:
    """Make an API token and print it once; only its digest is kept."""
    redis = from_environment()
    if redis is None:
        return 2
    try:
        token = UserStore(redis).create_token(args.name, time.time())
    except UserError as error:
        print(str(error), file=sys.stderr)
        return 1
    AuditLog(redis).record(
        command_line_actor(), "token.create", args.name, after={"user": args.name}, now=time.time()
    )
    print(token)
    print("keep it now: it is not shown again", file=sys.stderr)
    return 0


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
