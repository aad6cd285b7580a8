"""The `hotline` command's groups, one module each; hotline/cli.py builds the parser from them.

Every module adds its commands through `Commands.add`, which files each under the audience it
serves, for the top-level help. A command that cannot go on raises `CommandError` (or lets one of
the known errors through: Redis unreachable, a missing secret, a broken config) and the
dispatcher prints one line, `hotline: ...`, instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NoReturn

# Only what building the parser needs is imported here: every `hotline` process (serve's
# carrier and worker among them) builds it, and each command imports its own tools when run.
if TYPE_CHECKING:
    from redis import Redis

    from hotline.settings import Settings
    from routing.config import HotlineConfig

# Who each command is for, in the order the top-level help lists them.
AUDIENCES = ("caller simulation", "operations", "benchmarks", "set-up")


class CommandError(Exception):
    """A command cannot go on: one line saying what is wrong and what to do, and an exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


class Parser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line, like every other failure of the CLI."""

    def error(self, message: str) -> NoReturn:
        """Say what is wrong with the arguments in one line and where the help is; exit 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


@dataclass
class Commands:
    """The top-level commands, each with the audience it serves and a one-line summary."""

    subparsers: argparse._SubParsersAction
    listed: list[tuple[str, str, str]] = field(default_factory=list)

    def add(
        self, name: str, audience: str, summary: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        """Add a top-level command; its summary is what the top-level help lists."""
        if audience not in AUDIENCES:
            raise ValueError(f"{name}: unknown audience {audience!r}")
        self.listed.append((audience, name, summary))
        # No help= here: the top-level help lists commands by audience (epilog), not in one heap.
        return self.subparsers.add_parser(name, description=description or summary)

    def epilog(self) -> str:
        """The commands grouped by audience, for the top-level help."""
        width = max(len(name) for _, name, _ in self.listed) + 2
        blocks = []
        for audience in AUDIENCES:
            rows = [(name, summary) for who, name, summary in self.listed if who == audience]
            if rows:
                lines = [f"  {name:<{width}}{summary}" for name, summary in rows]
                blocks.append(f"{audience}:\n" + "\n".join(lines))
        blocks.append("`hotline COMMAND --help` tells what a command does and takes.")
        return "\n\n".join(blocks)


def settings() -> Settings:
    """The hotline's settings from the environment (and .env)."""
    from hotline.settings import Settings

    return Settings.from_env()


def load_config() -> HotlineConfig:
    """The hotline config (HOTLINE_CONFIG or the shipped one); its problems raise, listed."""
    from hotline.settings import read_hotline_config

    return read_hotline_config(settings().config_path)


def redis_url() -> str:
    """REDIS_URL, or a CommandError saying it is missing."""
    from queues.connection import MISSING

    url = os.environ.get("REDIS_URL")
    if not url:
        raise CommandError(MISSING, code=2)
    return url


def redis_client() -> Redis:
    """A client on REDIS_URL that answers; an unreachable one raises at once, before any work."""
    from queues.connection import cli_client

    client = cli_client(redis_url())
    # Asked before the command starts: work half done against a vanishing Redis logs on the way.
    client.ping()
    return client
