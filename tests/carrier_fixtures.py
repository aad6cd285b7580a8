"""Moved to tests/fixtures/carrier.py; this name lasts only until every test imports from there."""

from tests.fixtures.carrier import *  # noqa: F403
