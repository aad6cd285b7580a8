"""The JSON depth check: exact on any JSON up to the limit, and never a recursion."""

from __future__ import annotations

import json

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from hotline.edge import MAX_JSON_DEPTH, BadJSON, GuardedJSONProvider, json_depth

LIMIT = 6
# Text full of brackets, quotes and backslashes: none of it may count.
TRICKY = st.text(alphabet='[]{}"\\ab', max_size=8)
values = st.recursive(
    st.one_of(st.none(), st.integers(), TRICKY),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(TRICKY, inner, max_size=3)
    ),
    max_leaves=20,
)


def depth(value) -> int:
    """The nesting depth of a parsed value (a scalar is 0, an empty list 1)."""
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


@given(values)
def test_exact_up_to_the_limit_and_over_it_beyond(value):
    found = json_depth(json.dumps(value).encode(), LIMIT)
    if depth(value) <= LIMIT:
        assert found == depth(value)
    else:
        assert found > LIMIT


def test_deep_piles_closed_or_not_are_over_the_limit():
    assert json_depth(b"[" * 1_000_000, 32) > 32
    assert json_depth(b"[" * 40 + b"]" * 40, 32) > 32
    assert json_depth(b'{"a":' * 40 + b"1" + b"}" * 40, 32) > 32
    assert json_depth(b"]" * 50 + b"[" * 40, 32) > 32
    assert json_depth(b'["' + b"[" * 100 + b'"]', 32) == 1


def test_the_app_parser_refuses_too_deep_and_parses_the_rest():
    provider = GuardedJSONProvider(Flask(__name__))
    assert provider.loads("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH)
    for text in ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "[" * 100_000):
        with pytest.raises(BadJSON):
            provider.loads(text)
