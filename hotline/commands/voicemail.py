"""`hotline voicemail list|play|close`: the voicemail inbox, for supervisors at a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from hotline.commands import CommandError, Commands, redis_client, settings
from hotline.settings import secret
from queues.audit import command_line_actor
from voicemail import inbox
from voicemail.runtime import open_vault
from voicemail.vault import Vault, VaultError


def register(commands: Commands) -> None:
    """Add the voicemail inbox commands."""
    voicemail = commands.add("voicemail", "operations", "the voicemail inbox: list, play, close")
    voicemail_commands = voicemail.add_subparsers(
        title="voicemail commands", metavar="VOICEMAIL_COMMAND"
    )
    listing = voicemail_commands.add_parser("list", help="list messages, newest first")
    listing.add_argument("--all", action="store_true", help="include closed messages")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (50)")
    listing.add_argument("--json", action="store_true", help="print them as a JSON list")
    listing.set_defaults(func=_list)
    play = voicemail_commands.add_parser(
        "play", help="write a message's audio (MP3) to a file or stdout"
    )
    play.add_argument("recording_sid", help="the message's recording SID (RE...)")
    play.add_argument("-o", "--output", help="file to write, owner-only (default: stdout)")
    play.set_defaults(func=_play)
    close = voicemail_commands.add_parser(
        "close", help="close a message (its callback is withdrawn)"
    )
    close.add_argument("recording_sid", help="the message's recording SID (RE...)")
    close.add_argument("--reason", default="", help="why, for the audit log")
    close.set_defaults(func=_close)


def vault() -> Vault:
    """The voicemail vault from VOICEMAIL_KEY and VOICEMAIL_DIR (or var/voicemail)."""
    current = settings()
    return open_vault(secret("VOICEMAIL_KEY", current), current.var_dir)


def _list(args: argparse.Namespace) -> int:
    """Print the inbox; numbers masked."""
    entries = inbox.list_messages(redis_client(), limit=args.limit, include_closed=args.all)
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
    redis = redis_client()
    try:
        audio = inbox.open_audio(
            redis, vault(), args.recording_sid, actor=command_line_actor(), now=datetime.now(UTC)
        )
    except (inbox.InboxError, VaultError, ValueError) as error:
        raise CommandError(str(error)) from None
    if not args.output:
        sys.stdout.buffer.write(audio)
        sys.stdout.buffer.flush()
        return 0
    path = Path(args.output)
    try:
        path.write_bytes(audio)
        path.chmod(0o600)
    except OSError as error:
        raise CommandError(f"{args.output}: cannot write: {error.strerror}") from None
    print(f"{args.output}: {len(audio)} bytes", file=sys.stderr)
    return 0


def _close(args: argparse.Namespace) -> int:
    """Close a message."""
    try:
        changed = inbox.close(
            redis_client(),
            args.recording_sid,
            actor=command_line_actor(),
            now=datetime.now(UTC),
            reason=args.reason,
        )
    except inbox.InboxError as error:
        raise CommandError(str(error)) from None
    print(f"{args.recording_sid}: {'closed' if changed else 'already closed'}")
    return 0
