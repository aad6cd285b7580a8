"""The floors: every import points down the list in pyproject.toml, routing/ stays pure, only the
top floor starts the stand-in; and docs/architecture.md shows the same floors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def importlinter() -> dict:
    """The import rules as pyproject.toml declares them."""
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter on the packages under root, with the repository's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_import_points_down_the_floors():
    result = lint(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = re.findall(r"^(.+) KEPT$", result.stdout, re.M)
    assert len(kept) == len(importlinter()["contracts"]), result.stdout


def test_an_upward_import_is_caught(tmp_path):
    # A copy of the packages with one import pointing up: queues/ reaching the app factory.
    for package in importlinter()["root_packages"]:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    keys = tmp_path / "queues" / "keys.py"
    keys.write_text(keys.read_text(encoding="utf-8") + "\nimport hotline.app  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    assert "queues.keys -> hotline.app" in result.stdout, result.stdout


def test_the_architecture_page_shows_the_declared_floors():
    (floors,) = [c for c in importlinter()["contracts"] if c["id"] == "floors"]
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    drawn = re.search(r"<!-- floors -->\n```\n(.*?)```", page, re.S)
    assert drawn, "docs/architecture.md has no floors drawing between <!-- floors --> marks"
    # A floor's line starts with its packages (then a wide gap); indented lines continue it.
    shown = [
        " | ".join(re.findall(r"(\w+)/", re.split(r"\s{4,}", line)[0]))
        for line in drawn.group(1).splitlines()
        if line[:1].strip()
    ]
    assert shown == floors["layers"]
