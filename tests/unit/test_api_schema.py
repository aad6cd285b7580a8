"""The API's body validator: it agrees with jsonschema on the document's own schemas."""

from __future__ import annotations

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.openapi import _body_schemas, body_schema, document, paths
from ops.schema import ANNOTATIONS, KEYWORDS, MESSAGES, keywords_used, problems

SCHEMAS = sorted(_body_schemas().items())
NAMES = ["id", "name", "phone", "languages", "skills", "labor", "mon", "weekly", "holidays",
         "public", "makeup", "message", "zh", "en", "until", "presence", "day", "start", "end",
         "note", "reservation", "flag", "target", "agent_id", "pin", "reason", "number", "role",
         "password", "region", "crisis_trained", "days", "bogus"]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 400),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        [
            "",
            "mon",
            "09:00-12:00",
            "9:00-24:00",
            "closed",
            "weekly",
            "available",
            "heavy",
            "supervisor",
            "crisis_line",
            "ops",
            "zh",
            "x",
            "x" * 81,
        ]
    ),  # fmt: skip
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(NAMES), inner, max_size=4)
    ),
    max_leaves=12,
)


def test_every_json_body_in_the_document_has_a_schema_the_validator_reads():
    assert len(SCHEMAS) >= 12
    for (rule, method), schema in SCHEMAS:
        unknown = keywords_used(schema) - KEYWORDS - ANNOTATIONS - MESSAGES
        assert not unknown, (rule, method, unknown)
        assert schema["additionalProperties"] is False, (rule, method)


def test_every_body_the_document_describes_is_found_by_its_flask_rule():
    described = sum(
        "application/json" in op.get("requestBody", {}).get("content", {})
        for ops in paths().values()
        for op in ops.values()
    )
    assert described == len(SCHEMAS)
    assert body_schema("/api/v1/agents/<agent_id>", "patch") is not None
    assert body_schema("/api/v1/agents/<string:agent_id>", "PATCH") is not None
    assert body_schema("/api/v1/agents/<agent_id>", "GET") is None


@pytest.mark.parametrize(("rule", "method"), [key for key, _ in SCHEMAS], ids=str)
def test_the_validator_agrees_with_jsonschema(rule, method):
    schema = body_schema(rule, method)
    reference = jsonschema.Draft202012Validator(schema)

    @settings(max_examples=60, deadline=None)
    @given(st.one_of(VALUES, st.dictionaries(st.sampled_from(NAMES), VALUES, max_size=5)))
    def agree(value):
        assert (not problems(schema, value)) == reference.is_valid(value), value

    agree()


def test_problems_name_the_field_at_fault():
    hours = body_schema("/api/v1/hours/<area>", "PUT")
    found = problems(hours, {"weekly": {"mon": ["09:00-12:00", 5], "xx": []}, "extra": 1})
    assert {p.field for p in found} == {"weekly.mon.1", "weekly.xx", "extra"}
    words = {p.field: p.message for p in found}
    assert words["weekly.xx"].startswith("unknown day") and "HH:MM" in words["weekly.mon.1"]
    users = body_schema("/api/v1/users", "POST")
    assert [p.field for p in problems(users, {"name": "a"})] == ["role", "password"]
    assert problems(users, {"name": "a", "role": "ops", "password": "p", "x": 1}, names_only=True)
    assert not problems(users, {"name": "a", "role": "?", "password": "p"}, names_only=True)


def _refs(node: object) -> list[str]:
    """Every local $ref under a part of the document."""
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_reference_in_the_document_points_at_something_it_defines():
    whole = document()
    refs = set(_refs(whole))
    # The answers an outcome code gets: an unknown code's 400 is one the document defines.
    assert "#/components/responses/E400" in refs
    for ref in sorted(refs):
        node: object = whole
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(node, dict) and part in node, f"{ref} points at nothing"
            node = node[part]
