"""A small validator for the subset of JSON Schema the API's OpenAPI document uses.

The document's request-body schemas are the one source: the API checks each body against
them, so a field the document does not list, a wrong type or a missing field is refused with
the field named, and what the document says is what the API does. `KEYWORDS` lists what is
understood; a test fails when the document uses anything else. Two extension keywords give a
refusal the domain's words: `x-message` replaces the generic reason a value breaks its own
schema, `x-unknown` the reason a field is not one an object allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# Keywords that constrain a value; the others only describe it.
KEYWORDS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "pattern",
        "minLength",
        "maxLength",
        "minimum",
        "maximum",
        "oneOf",
    }
)
ANNOTATIONS = frozenset({"description", "format", "title", "example"})
MESSAGES = frozenset({"x-message", "x-unknown"})

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    # JSON has one number type: 2.0 is an integer, true is not.
    "integer": lambda v: (
        not isinstance(v, bool)
        and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    ),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


@dataclass(frozen=True)
class Problem:
    """One way a value breaks its schema: the dotted path of the field, and why."""

    field: str
    message: str

    def public(self) -> dict[str, str]:
        """The problem as the API's error document lists it."""
        return {"field": self.field, "message": self.message}


def problems(schema: dict[str, Any], value: Any, *, names_only: bool = False) -> list[Problem]:
    """Every problem of a value against a schema, outermost first (none when it conforms).

    With `names_only`, only the top level's field names are checked (unknown or missing):
    what a form can be checked for, since every form value is text.
    """
    if names_only:
        return _names(schema, value, "")
    return _check(schema, value, "")


def _join(path: str, name: object) -> str:
    """A field's dotted path: weekly.mon.0."""
    return f"{path}.{name}" if path else str(name)


def _same(value: Any, option: Any) -> bool:
    """JSON equality: true is not 1."""
    return value == option and isinstance(value, bool) == isinstance(option, bool)


def _check(schema: dict[str, Any], value: Any, path: str) -> list[Problem]:
    """The problems of one value at a path."""
    own = _own(schema, value, path or "body")
    if own is not None:
        return [Problem(own.field, schema.get("x-message", own.message))]
    found: list[Problem] = []
    if isinstance(value, dict):
        found += _names(schema, value, path)
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                found += _check(properties[name], item, _join(path, name))
            elif isinstance(extra, dict):
                found += _check(extra, item, _join(path, name))
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += _check(schema["items"], item, _join(path, index))
    return found


def _own(schema: dict[str, Any], value: Any, field: str) -> Problem | None:
    """How a value breaks its schema's own constraints (not its fields' or items'), if it does."""
    kinds = schema.get("type")
    if kinds is not None:
        allowed = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_TYPES[kind](value) for kind in allowed):
            return Problem(field, f"expected {' or '.join(allowed)}")
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        options = ", ".join("null" if o is None else str(o) for o in schema["enum"])
        return Problem(field, f"must be one of {options}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return Problem(field, f"does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            return Problem(field, f"at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return Problem(field, f"at most {schema['maxLength']} characters")
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            return Problem(field, f"at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            return Problem(field, f"at most {schema['maximum']}")
    if "oneOf" in schema:
        matching = sum(not _check(option, value, field) for option in schema["oneOf"])
        if matching != 1:
            return Problem(field, "does not match exactly one of the allowed forms")
    return None


def _names(schema: dict[str, Any], value: Any, path: str) -> list[Problem]:
    """Missing required fields and fields the schema does not allow."""
    if not isinstance(value, dict):
        return []
    properties = schema.get("properties", {})
    found = []
    # An unknown field first: it is often the missing one misspelt.
    if schema.get("additionalProperties", True) is False:
        unknown = schema.get(
            "x-unknown", f"unknown field; allowed: {', '.join(properties) or 'none'}"
        )
        found += [Problem(_join(path, name), unknown) for name in value if name not in properties]
    found += [
        Problem(_join(path, name), "missing required field")
        for name in schema.get("required", [])
        if name not in value
    ]
    return found


def keywords_used(schema: Any) -> set[str]:
    """Every keyword a schema uses, nested ones included (property names are not keywords)."""
    if not isinstance(schema, dict):
        return set()
    used = set(schema)
    for name, part in schema.items():
        if name == "properties":
            for item in part.values():
                used |= keywords_used(item)
        elif name in ("items", "additionalProperties"):
            used |= keywords_used(part)
        elif name == "oneOf":
            for option in part:
                used |= keywords_used(option)
    return used
