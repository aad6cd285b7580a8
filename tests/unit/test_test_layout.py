"""The tests' own layout: shared helpers live in tests/fixtures/, so no test module imports another
test module or a conftest (pytest collects each on its own; importing one drags in its tests'
fixtures and makes the two depend on each other's private names)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.fixtures.app import REPO

TESTS = REPO / "tests"


def imported_modules(source: str, package: str) -> list[tuple[int, str]]:
    """Every module a source imports, with its line; `from a import b` counts a and a.b."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def forbidden(module: str) -> bool:
    """Whether a module name is a test module or a conftest of the tests."""
    parts = module.split(".")
    return parts[0] == "tests" and (parts[-1].startswith("test_") or parts[-1] == "conftest")


def offences(path: Path) -> list[str]:
    """The lines of a file under tests/ that import a test module or a conftest."""
    package = ".".join(path.relative_to(REPO).parent.parts)
    source = path.read_text(encoding="utf-8")
    return [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for line, module in imported_modules(source, package)
        if forbidden(module)
    ]


def test_no_test_module_imports_another_test_module_or_a_conftest():
    found = [line for path in sorted(TESTS.rglob("*.py")) for line in offences(path)]
    assert found == [], "move what they share into tests/fixtures/:\n" + "\n".join(found)


def test_the_check_sees_each_way_of_importing_a_test_module():
    source = """
from tests.integration.test_crisis_path import AREAS
from tests.integration import test_crisis_alerts
import tests.e2e.test_calls
from tests.conftest import Clock
from .test_menu import thing
from . import test_survey
from tests.fixtures.app import Clock
from tests.e2e.harness import poll
import test_support_outside_tests
"""
    modules = {m for _, m in imported_modules(source, "tests.integration") if forbidden(m)}
    assert modules == {
        "tests.integration.test_crisis_path",
        "tests.integration.test_crisis_alerts",
        "tests.e2e.test_calls",
        "tests.conftest",
        "tests.integration.test_menu",
        "tests.integration.test_survey",
    }
