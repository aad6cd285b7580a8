"""The `hotline` command: run the hotline, operate it, simulate callers, measure it.

This module builds the parser from the groups in hotline/commands/ and runs the command chosen.
A command that cannot go on prints one line, `hotline: what is wrong and what to do`, and exits
non-zero: the errors a person can fix (Redis unreachable or refusing, a missing secret, a broken
config, a refused argument, input that ended) are turned into that line here, in one place;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hotline.commands import CommandError, Commands, Parser

if TYPE_CHECKING:
    from routing.problems import ProblemsError

# The exit code of a command stopped by Ctrl-C, as a shell reports SIGINT.
INTERRUPTED = 130

# The command groups (modules of hotline/commands/, and the benchmarks here), in the order the
# top-level help lists their commands.
BENCH = "bench"
GROUPS = (
    "carrier",
    "configuration",
    "users",
    "roster",
    "staffing",
    "voicemail",
    "incidents",
    "person",
    "records",
    "report",
    "doctor",
    "processes",
    BENCH,
)
# Each top-level command's group: a process builds the parser of its own command only, so it
# imports that group alone (serve's carrier and worker start again and again). A test checks
# this table against what the groups register.
COMMAND_GROUPS = {
    "carrier": "carrier",
    "call": "carrier",
    "config": "configuration",
    "classify": "configuration",
    "fallback-twiml": "configuration",
    "user": "users",
    "token": "users",
    "agent": "users",
    "roster": "roster",
    "staffing": "staffing",
    "voicemail": "voicemail",
    "incidents": "incidents",
    "storage": "incidents",
    "person": "person",
    "records": "records",
    "report": "report",
    "doctor": "doctor",
    "serve": "processes",
    "worker": "processes",
    "bench": BENCH,
}


def main(argv: list[str] | None = None) -> int:
    """Run the hotline command line; returns the exit code."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env", override=False)
    args = build_parser(_command_word(argv)).parse_args(argv)
    if not hasattr(args, "func"):
        # A group named without its command: the whole help, every group listed.
        build_parser().print_help()
        return 2
    _install_sealer()
    try:
        return int(args.func(args) or 0)
    except CommandError as error:
        return _fail(str(error), error.code)
    except EOFError:
        return _fail("the input ended before the command had what it asks for", 2)
    except KeyboardInterrupt:
        return _fail("interrupted", INTERRUPTED)
    except Exception as error:
        return _known_failure(error)


def _install_sealer() -> None:
    """Let commands that read callers' sealed data (incidents, voicemail) open it with the
    hotline's secret, read on first use only; a command that builds the app installs its own."""
    from hotline.settings import Settings, secret
    from queues import sealing
    from queues.sealing import Sealer

    sealing.install(lambda: Sealer(secret("HOTLINE_SECRET_KEY", Settings.from_env())))


def _known_failure(error: Exception) -> int:
    """The one line and exit code of an error a person can fix; any other is re-raised."""
    # Imported here, when a command has failed: the modules that define them are heavy, and
    # most commands never fail (serve's carrier, for one, does not need Redis's).
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout

    from hotline.settings import StartupError
    from queues.connection import RedisUrlError, explain
    from routing.problems import ProblemsError

    if isinstance(error, RedisConnectionError | RedisTimeout):
        return _fail(explain(error), 2)
    if isinstance(error, StartupError | RedisUrlError):
        return _fail(str(error), 2)
    if isinstance(error, ProblemsError):
        return _fail(_config_problems(error), 2)
    raise error


def _fail(message: str, code: int) -> int:
    """Print the one line a failed command leaves on stderr; return its exit code."""
    print(f"hotline: {' '.join(message.split())}", file=sys.stderr, flush=True)
    return code


def _config_problems(error: ProblemsError) -> str:
    """A config's problems in one line: the first, and where to see them all."""
    first = f"{error.source}: {error.problems[0]}" if error.problems else str(error)
    more = len(error.problems) - 1
    if more <= 0:
        return first
    return f"{first} (and {more} more: hotline config check {error.source} lists them all)"


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, the top-level help listing them by audience; given the
    command about to run, only that command's group (so only its imports)."""
    parser = Parser(
        prog="hotline",
        description="The legal consultation hotline: run it, operate it, simulate callers, "
        "measure it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", help="one of the commands below"
    )
    commands = Commands(subparsers)
    group = COMMAND_GROUPS.get(command or "")
    for name in GROUPS if group is None else (group,):
        if name == BENCH:
            _register_bench(commands)
        else:
            importlib.import_module(f"hotline.commands.{name}").register(commands)
    parser.epilog = commands.epilog()
    return parser


def _command_word(argv: list[str] | None) -> str | None:
    """The command a command line names first, if it starts with one (not an option)."""
    words = sys.argv[1:] if argv is None else argv
    return words[0] if words and not words[0].startswith("-") else None


def _register_bench(commands: Commands) -> None:
    """Add `hotline bench`."""
    bench = commands.add("bench", "benchmarks", "measure the hotline (prints figures)")
    bench.add_argument(
        "part",
        choices=("routing", "voicemail", "crisis", "classifier", "webhooks", "assist"),
        help="what to measure",
    )
    bench.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL"),
        help="an empty Redis database the bench may fill and flush (routing: default"
        " redis://127.0.0.1:6379/15; webhooks: default an embedded Redis)",
    )
    bench.add_argument("--callers", type=int, default=2000, help="webhooks: callers (2000)")
    bench.add_argument(
        "--rate", type=float, default=30.0, help="webhooks: callers arriving a second (30)"
    )
    bench.add_argument(
        "--hold",
        type=float,
        default=30.0,
        help="webhooks: seconds every caller keeps waiting after the last is queued (30)",
    )
    bench.add_argument(
        "--flat-out", type=float, default=10.0, help="webhooks: seconds of greeting flat out (10)"
    )
    bench.add_argument(
        "--streams", type=int, default=50, help="assist: callers' audio streams at once (50)"
    )
    bench.add_argument(
        "--seconds", type=float, default=60.0, help="assist: seconds of audio per stream (60)"
    )
    bench.set_defaults(func=_bench)


def _bench(args: argparse.Namespace) -> int:
    """Run one benchmark from the checkout's tools/ folder and print its figures."""
    # The benchmarks live in the repository, not the installed packages; the editable install
    # maps the packages only, so the checkout's root goes on sys.path for tools/ to import.
    root = Path(__file__).resolve().parents[1]
    if not (root / "tools" / f"bench_{args.part}.py").is_file():
        raise CommandError("bench needs a clone of the repository: tools/ is not installed", 2)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    tool = importlib.import_module(f"tools.bench_{args.part}")
    if args.part == "routing":
        tool.run(args.redis_url or "redis://127.0.0.1:6379/15")
    elif args.part == "webhooks":
        tool.run(args.callers, args.rate, args.hold, args.flat_out, args.redis_url)
    elif args.part == "assist":
        tool.run(args.streams, args.seconds, args.redis_url)
    else:
        tool.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
