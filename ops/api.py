"""What the JSON API under /api/v1/ shares: its error answers, body checks and OpenAPI document.

The API's routes live in the feature modules beside their console pages (`ops.features`); this
blueprint serves only the document itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from ops import auth
from ops.errors import Invalid, OpsError, TooManyAttempts, Unavailable
from ops.openapi import body_schema, document
from ops.schema import problems

bp = Blueprint("ops_api", __name__, url_prefix="/api/v1")
auth.install(bp, anonymous_forms=False)


@bp.errorhandler(OpsError)
def error_answer(error: OpsError) -> tuple[Response, int]:
    """Answer a refused request with a JSON error naming the field at fault."""
    response = jsonify(error.body())
    if isinstance(error, TooManyAttempts | Unavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="hotline"'
    return response, error.status


def body(*, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (form fields accepted too), checked against its schema."""
    data = request.get_json(silent=True)
    form = data is None and bool(request.form)
    if form:
        data = request.form.to_dict()
        data.pop(auth.CSRF_FIELD, None)
    if data is None and optional and not request.get_data():
        data = {}
    if not isinstance(data, dict):
        raise Invalid("expected a JSON object", field="body")
    checked(data, names_only=form)
    return data


def checked(data: dict[str, Any], *, names_only: bool = False) -> None:
    """Refuse a body its operation's schema in the OpenAPI document does not allow (422).

    A form's values are all text, so a form is checked for its field names only; the services
    check every value again either way.
    """
    rule = request.url_rule.rule if request.url_rule else ""
    schema = body_schema(rule, request.method)
    if schema is None:
        return
    found = problems(schema, data, names_only=names_only)
    if found:
        first = found[0]
        raise Invalid(first.message, field=first.field, problems=[p.public() for p in found])


def int_arg(name: str, default: int) -> int:
    """An integer query parameter."""
    value = request.args.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid("expected a whole number", field=name) from None


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(document())
