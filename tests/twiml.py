"""Moved to tests/fixtures/twiml.py; this name lasts only until every test imports from there."""

from tests.fixtures.twiml import *  # noqa: F403
