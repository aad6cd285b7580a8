"""The `hotline voicemail list|play|close` commands, for supervisors at a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from queues.audit import command_line_actor
from queues.connection import from_environment
from voicemail import inbox
from voicemail.vault import Vault, VaultError

# Builds the vault from the hotline's settings (VOICEMAIL_KEY, VOICEMAIL_DIR).
VaultLoader = Callable[[], Vault]


def register(subparsers: Any, *, load_vault: VaultLoader) -> None:
    """Add the voicemail inbox commands to the hotline CLI."""
    voicemail = subparsers.add_parser("voicemail", help="the voicemail inbox")
    commands = voicemail.add_subparsers(title="voicemail commands")
    listing = commands.add_parser("list", help="list messages, newest first")
    listing.add_argument("--all", action="store_true", help="include closed messages")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)
    play = commands.add_parser("play", help="write a message's audio (MP3) to a file or stdout")
    play.add_argument("recording_sid")
    play.add_argument("-o", "--output", help="file to write (default: stdout)")
    play.set_defaults(func=_play, load_vault=load_vault)
    close = commands.add_parser("close", help="close a message (its callback is withdrawn)")
    close.add_argument("recording_sid")
    close.add_argument("--reason", default="")
    close.set_defaults(func=_close)


def _list(args: argparse.Namespace) -> int:
    """Print the inbox; numbers masked."""
    redis = from_environment()
    if redis is None:
        return 2
    entries = inbox.list_messages(redis, limit=args.limit, include_closed=args.all)
    if args.json:
        rows = [{**vars(entry), "caller": entry.caller_masked} for entry in entries]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    for entry in entries:
        left = datetime.fromtimestamp(entry.created_at, UTC).strftime("%Y-%m-%d %H:%M")
        flags = "CRISIS" if entry.crisis else "urgent" if entry.urgent else ""
        seconds = f"{entry.seconds:.0f}s" if entry.seconds is not None else "-"
        caller = "withheld" if entry.withheld else entry.caller_masked or "-"
        print(
            f"{entry.recording_sid}  {left}Z  {entry.state:8} {entry.area or '-':9} "
            f"{entry.language or '-':3} {caller:16} {seconds:>5} "
            f"{entry.callback or '-':10} {'closed' if entry.closed else ''} {flags}".rstrip()
        )
    if not entries:
        print("no messages", file=sys.stderr)
    return 0


def _play(args: argparse.Namespace) -> int:
    """Write a message's decrypted audio; the access is audited."""
    redis = from_environment()
    if redis is None:
        return 2
    try:
        audio = inbox.open_audio(
            redis,
            args.load_vault(),
            args.recording_sid,
            actor=command_line_actor(),
            now=datetime.now(UTC),
        )
    except (inbox.InboxError, VaultError, ValueError) as error:
        print(str(error), file=sys.stderr)
        return 1
    if args.output:
        path = Path(args.output)
        path.write_bytes(audio)
        path.chmod(0o600)
        print(f"{args.output}: {len(audio)} bytes", file=sys.stderr)
    else:
        sys.stdout.buffer.write(audio)
        sys.stdout.buffer.flush()
    return 0


def _close(args: argparse.Namespace) -> int:
    """Close a message."""
    redis = from_environment()
    if redis is None:
        return 2
    try:
        changed = inbox.close(
            redis,
            args.recording_sid,
            actor=command_line_actor(),
            now=datetime.now(UTC),
            reason=args.reason,
        )
    except inbox.InboxError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"{args.recording_sid}: {'closed' if changed else 'already closed'}")
    return 0
