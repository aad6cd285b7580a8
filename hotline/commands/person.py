"""`hotline person export|erase`: a person's data (China's PIPL), for supervisors at a terminal.

The command builds the app, so it reaches every store the console does (Redis, the call
records, both vaults, Twilio for recordings' copies). The number is read from standard input
(a prompt at a terminal), never taken as an argument:
arguments are seen in the process list and kept in shell histories. The export is written to a
file only its owner can read; the erasure needs the number's last four digits with `--confirm`.
Both are audited as `cli:<user>`, with the reason and the masked number.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.commands import CommandError, Commands, redis_client

if TYPE_CHECKING:
    from queues.person_data import PersonData


def register(commands: Commands) -> None:
    """Add `person export` and `person erase`."""
    person = commands.add(
        "person",
        "operations",
        "a person's data: export or erase everything kept about one number",
        description="Export or erase everything the hotline keeps about one phone number. The "
        "number is read from standard input, never from the command line.",
    )
    person_commands = person.add_subparsers(title="person commands", metavar="PERSON_COMMAND")
    export = person_commands.add_parser(
        "export", help="write everything kept about a number to a zip file (or JSON)"
    )
    export.add_argument("--reason", required=True, help="why (the request, its date, reference)")
    export.add_argument("-o", "--output", required=True, help="file to write, owner-only")
    export.add_argument(
        "--json", action="store_true", help="the manifest alone as JSON, without audio"
    )
    export.set_defaults(func=_export)
    erase = person_commands.add_parser("erase", help="erase a number everywhere (audited)")
    erase.add_argument("--reason", required=True, help="why (the request, its date, reference)")
    erase.add_argument("--confirm", required=True, help="the number's last four digits")
    erase.set_defaults(func=_erase)


def _read_number() -> str:
    """The number from standard input (asked for at a terminal)."""
    if sys.stdin.isatty():
        print("number (E.164, e.g. +8613812345678): ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.strip()


def _service() -> PersonData:
    """The person-data service on the hotline's stores, as the console has it (the app built)."""
    from hotline.app import create_app
    from voicemail.person_data import for_app

    # An unreachable Redis is said before the app is built (which, in demo, makes secrets).
    redis_client().close()
    app = create_app()
    try:
        return for_app(app)
    except Exception as error:  # noqa: BLE001 - one line to the user, nothing done
        raise CommandError(
            f"the hotline's stores cannot be reached ({error}): nothing was done", 2
        ) from None


def _export(args: argparse.Namespace) -> int:
    """Write everything kept about the number read from stdin; audited."""
    from queues.audit import command_line_actor
    from queues.person_data import PersonDataError, Unreachable, person_number, reason_given

    try:
        number = person_number(_read_number())
        reason = reason_given(args.reason)
        found = _service().export(
            number, actor=command_line_actor(), reason=reason, now=time.time()
        )
    except PersonDataError as error:
        raise CommandError(str(error), 2 if isinstance(error, Unreachable) else 1) from None
    data = found.manifest_json().encode() if args.json else found.archive()
    path = Path(args.output)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        path.chmod(0o600)
    except OSError as error:
        raise CommandError(f"{args.output}: cannot write: {error.strerror}") from None
    counts = ", ".join(f"{name} {count}" for name, count in found.counts().items() if count)
    print(f"{args.output}: {found.person.masked}: {counts or 'nothing kept'}", file=sys.stderr)
    return 0


def _erase(args: argparse.Namespace) -> int:
    """Erase the number read from stdin everywhere; print what was erased and kept."""
    from queues.audit import command_line_actor
    from queues.person_data import (
        Incomplete,
        PersonDataError,
        Unreachable,
        confirmed,
        person_number,
        reason_given,
    )

    try:
        number = person_number(_read_number())
        reason = reason_given(args.reason)
        confirmed(number, args.confirm)
        done = _service().erase(number, actor=command_line_actor(), reason=reason, now=time.time())
    except Incomplete as error:
        print(json.dumps(error.erasure.public(), ensure_ascii=False, indent=2))
        raise CommandError(str(error), 1) from None
    except PersonDataError as error:
        raise CommandError(str(error), 2 if isinstance(error, Unreachable) else 1) from None
    print(json.dumps(done.public(), ensure_ascii=False, indent=2))
    return 0
