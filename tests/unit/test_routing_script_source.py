"""The routing script's Lua: found as package data, every placeholder filled from Python."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from importlib import resources
from pathlib import Path

from redis import Redis

from queues import keys
from queues.script import RoutingScript
from routing.matching import default_policy

AREAS = ["family", "labor", "contract", "traffic", "criminal", "corporate", "general"]
REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"@[A-Z_]+@")


def script_source() -> str:
    # A client connects only when an operation runs, so no server is needed to build the source.
    return RoutingScript(Redis(), default_policy(AREAS)).source


def test_the_queues_package_finds_its_lua_file():
    lua = resources.files("queues").joinpath("routing.lua")
    assert lua.is_file()
    text = lua.read_text(encoding="utf-8")
    # The placeholders are still there: the file is the template, not a filled copy.
    assert "'@AGENT@'" in text
    assert "@PLANS@" in text
    assert "if OP == 'match_call' then" in text


def test_the_script_source_has_no_unfilled_placeholder():
    source = script_source()
    assert PLACEHOLDER.findall(source) == []
    # Filled, not merely dropped: key prefixes and the policy's tables are in the source.
    assert f"local AGENT, HEAVY, QUEUED, RES = '{keys.agent('')}'," in source
    assert f"local EVENTS, MAX_EVENTS = '{keys.events()}', " in source
    assert "if area == 'labor' and language == 'zh' then return {" in source
    assert re.search(r"^local QUALIFY = \{\[", source, re.MULTILINE)


def test_every_placeholder_in_the_lua_file_is_filled():
    template = resources.files("queues").joinpath("routing.lua").read_text(encoding="utf-8")
    names = set(PLACEHOLDER.findall(template))
    # Key prefixes, numbers and policy tables alike: one of each kind is sure to be found.
    assert {"@AGENT@", "@DUE_HELD@", "@SPAN@", "@MAX_EVENTS@", "@PLANS@", "@GENERAL@"} <= names
    source = script_source()
    assert not {name for name in names if name in source}


def test_the_package_data_ships_the_lua_file():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = project["tool"]["setuptools"]
    assert "queues" in setuptools["packages"]
    patterns = setuptools["package-data"].get("queues", [])
    assert any(fnmatch.fnmatch("routing.lua", pattern) for pattern in patterns)
