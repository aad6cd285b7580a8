"""Every `hotline` command as a real process with an unreachable Redis, in production mode
without its secrets: each fails with one line on stderr and no traceback, or clearly succeeds.

The commands are found by walking the parser, so a new command is covered without a change
here; one that needs arguments gets minimal valid ones, from its arguments' names and choices.
Each runs in a process of its own, forked from one that imported the command line once in the
same environment (tests/fixtures/cli_forks.py): a fresh interpreter for each cost about 30 s of
CPU. The start-up refusals below run as plain `python -m hotline.cli` processes.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline.cli import COMMAND_GROUPS, build_parser
from tests.fixtures.cli_forks import Forks

REPO = Path(__file__).resolve().parents[2]
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
# Nothing listens on port 1: the carrier and Twilio's API are as unreachable as Redis.
UNREACHABLE_API = "http://127.0.0.1:1"
PASSWORD = "a password long enough for the console"
# Values for positional and required arguments, by their dest; any other gets "x".
VALUES = {
    "file": str(REPO / "examples" / "roster.yaml"),
    "name": "olga",
    "agent_id": "a1",
    "recording_sid": "RE" + "0" * 32,
    "token_id": "0" * 16,
    "text": "my boss has not paid my wages",
    "start": "2025-03-01",
    "end": "2025-03-02",
}
# Per command: options beyond the required ones that keep it from waiting on a person or a port.
EXTRA = {
    ("user", "add"): ["--password-stdin"],
    ("user", "password"): ["--password-stdin"],
    ("bench",): ["--redis-url", UNREACHABLE_REDIS],
    ("call",): ["--timeout", "5"],
}


def leaf_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every runnable command under a parser, with the words that name it."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
        return
    for group in groups:
        for name, child in group.choices.items():
            yield from leaf_commands(child, (*path, name))


def minimal_arguments(parser: argparse.ArgumentParser) -> list[str]:
    """Positional and required arguments filled with valid values (the first choice, if any)."""
    words: list[str] = []
    for action in parser._actions:
        if action.option_strings and not action.required:
            continue
        if not action.option_strings and action.nargs in ("?", "*"):
            continue
        value = str(action.choices[0]) if action.choices else VALUES.get(action.dest, "x")
        words += [action.option_strings[0], value] if action.option_strings else [value]
    return words


COMMANDS = sorted(path for path, _ in leaf_commands(build_parser()))


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    """A port something listens on, so the carrier cannot take it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def production_without_secrets(home: Path) -> dict[str, str]:
    """A real Twilio account's settings, no secrets, and nothing reachable."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("TWILIO_", "HOTLINE_", "REDIS_", "CARRIER_", "BENCH_", "VOICEMAIL_")
        )
    }
    env.update(
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="a-production-token",
        TWILIO_API_BASE_URL=UNREACHABLE_API,
        REDIS_URL=UNREACHABLE_REDIS,
        BENCH_REDIS_URL=UNREACHABLE_REDIS,
        HOTLINE_VAR_DIR=str(home / "var"),
    )
    return env


def test_the_walk_finds_the_commands_of_every_group():
    assert {("serve",), ("worker",), ("user", "add"), ("user", "token", "revoke"),
            ("voicemail", "play"), ("carrier",), ("call",), ("doctor",), ("bench",),
            ("roster", "import"), ("storage", "accept-key")} <= set(COMMANDS)  # fmt: skip


def top_level(parser: argparse.ArgumentParser) -> set[str]:
    """The top-level commands a parser knows."""
    [group] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(group.choices)


def test_each_command_is_parsed_by_its_own_group_alone():
    # A process builds only its command's group: the table must name every command's group.
    assert set(COMMAND_GROUPS) == top_level(build_parser())
    for command, group in COMMAND_GROUPS.items():
        alone = top_level(build_parser(command))
        assert command in alone
        assert {COMMAND_GROUPS[other] for other in alone} == {group}


@pytest.fixture(scope="module")
def forks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Forks]:
    """The command line imported once, in the commands' environment, each command forked."""
    home = tmp_path_factory.mktemp("forks")
    server = Forks(production_without_secrets(home), home)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_command_fails_in_one_line_or_succeeds(command, tmp_path, taken_port, forks):
    parser = dict(leaf_commands(build_parser()))[command]
    extra = list(EXTRA.get(command, []))
    if command == ("carrier",):
        extra += ["--port", str(taken_port)]
    if command == ("serve",):
        extra += ["--port", str(free_port())]
    done = forks.run(
        [*command, *minimal_arguments(parser), *extra],
        cwd=tmp_path,
        env=production_without_secrets(tmp_path),
        input=PASSWORD + "\n",
        timeout=60,
    )

    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode == 0:
        # A clear success: it printed what it is for, and nothing went wrong on the side.
        assert done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr
    else:
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("hotline"), done.stderr


def test_serve_in_production_without_secrets_refuses_before_any_banner(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=production_without_secrets(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("hotline: cannot start:")
    assert "HOTLINE_SECRET_KEY" in line and "VOICEMAIL_KEY" in line
    # Nothing was started: no state file, no embedded Redis, no secrets made up.
    assert not (tmp_path / "var" / "serve.json").exists()
    assert not (tmp_path / "var" / "secrets").exists()


def test_an_unreachable_redis_is_named_with_what_to_do(tmp_path):
    env = production_without_secrets(tmp_path)
    env.update(HOTLINE_SECRET_KEY="s", VOICEMAIL_KEY="v")
    for command in (["user", "list"], ["worker"], ["serve", "--port", str(free_port())]):
        done = subprocess.run(
            [sys.executable, "-m", "hotline.cli", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert done.returncode == 2, command
        [line] = done.stderr.splitlines()
        assert line.startswith("hotline: cannot reach Redis (") and "127.0.0.1:1" in line
        assert "REDIS_URL" in line
