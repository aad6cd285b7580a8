"""Moved to tests/fixtures/ops.py; this name lasts only until every test imports from there."""

from tests.fixtures.ops import *  # noqa: F403
