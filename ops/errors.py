"""Errors a console service raises, each with the HTTP status the API answers with."""

from __future__ import annotations

from typing import Any


class OpsError(Exception):
    """A request that cannot be done as asked; `field` names the input at fault."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        problems: list[dict[str, Any]] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.problems = problems or []

    def body(self) -> dict[str, Any]:
        """The JSON error document."""
        error: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.problems:
            error["problems"] = self.problems
        return {"error": error}


class Unauthorized(OpsError):
    """No valid session or token (or the session expired)."""

    status = 401


class Forbidden(OpsError):
    """Signed in, but this role or user may not do this."""

    status = 403


class NotFound(OpsError):
    """No such agent, user, shift or call."""

    status = 404


class Conflict(OpsError):
    """The request clashes with what exists: a duplicate id, an overlapping shift."""

    status = 409


class Invalid(OpsError):
    """A field is missing or malformed."""

    status = 422


class TooManyAttempts(OpsError):
    """Too many failed sign-ins, tokens or PINs; `retry_after` says when to try again."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Upstream(OpsError):
    """Twilio refused or failed what the request needed done (adding someone to a call)."""

    status = 502


class Unavailable(OpsError):
    """The hotline's state cannot be reached right now; `retry_after` says when to try again."""

    status = 503

    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after
