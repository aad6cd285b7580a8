"""One blueprint per console feature, holding the feature's pages and its JSON API routes.

A feature module (staffing, opening, planning, monitoring, accounts, desk, safety, inbox,
followups) keeps its services, its pages under /ops and its API under /api/v1 together, so a
change to one feature is a change to one module. Two features have one channel and their own
blueprint: `ops.escalation` (API only; its lockout answers say where help is) and `ops.feeds`
(calendar clients, answered in JSON even for a page's URL). Each request is still answered in its
channel's way: pages get the console's sign-in redirect, flashed refusals and error page, and
check the CSRF token of every form (the sign-in form too, against login CSRF); the API answers
JSON errors, 401 to an anonymous request, and checks CSRF only on session requests (a token
request carries no cookie to forge).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request

from ops import api, auth, pages
from ops.errors import OpsError

API = "/api/"


def blueprint(name: str, *, anonymous_forms: bool = True) -> Blueprint:
    """A feature's blueprint: who is asking, CSRF and errors, each as its channel needs.

    `anonymous_forms=False` checks a page's form for CSRF only when someone is signed in, so an
    anonymous form is sent to sign in rather than refused 403 (the safety and follow-up pages
    have always answered so).
    """
    bp = Blueprint(name, __name__)
    bp.before_request(auth.authenticate)
    bp.before_request(_check_csrf if anonymous_forms else _check_csrf_when_signed_in)
    bp.context_processor(pages._helpers)
    bp.register_error_handler(OpsError, _error)
    return bp


def is_api() -> bool:
    """Whether the request is for the JSON API rather than a console page."""
    return request.path.startswith(API)


def _check_csrf() -> None:
    """Pages check every form; the API checks session requests only."""
    if not is_api() or g.get("via") == "session":
        auth.check_csrf()


def _check_csrf_when_signed_in() -> None:
    """Pages and the API alike check session requests only."""
    if g.get("via") == "session":
        auth.check_csrf()


def _error(error: OpsError) -> Any:
    """A JSON error for the API; the console's sign-in redirect or error page for pages."""
    return api.error_answer(error) if is_api() else pages._error(error)
