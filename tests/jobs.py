"""Moved to tests/fixtures/jobs.py; this name lasts only until every test imports from there."""

from tests.fixtures.jobs import *  # noqa: F403
