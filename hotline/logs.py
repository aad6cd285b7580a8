"""Logging set-up: one format, and phone numbers masked in every record whatever logs it.

LOG_FORMAT=json writes one JSON object per line (time, level, logger, message, and call_sid,
request_id and event when known), for a log shipper; anything else keeps the text lines.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from datetime import UTC, datetime
from typing import IO

from flask import has_request_context, request

from routing.privacy import mask_text

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The handler configure() installs, known by name so it is set up once and only it is changed.
HANDLER_NAME = "hotline"
# A request id a client or a proxy sends is kept only when it is short and plain.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Headers naming the request: a proxy's, or Twilio's own id for a webhook delivery.
_REQUEST_ID_HEADERS = ("X-Request-Id", "I-Twilio-Idempotency-Token")
_REQUEST_ID_KEY = "hotline.request_id"
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")


class MaskingFilter(logging.Filter):
    """Rewrites each record's message with phone numbers masked before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message; never drops a record."""
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; call_sid, request_id and event only when known."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, numbers masked in every text it carries."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            # The masking filter has masked it already; masking again costs little and covers
            # a handler someone added without the filter.
            "message": mask_text(record.getMessage()),
        }
        context = _request_context()
        for name in ("call_sid", "request_id", "event"):
            value = getattr(record, name, None) or context.get(name)
            if value:
                entry[name] = mask_text(str(value)) if name == "event" else str(value)
        if record.exc_info:
            entry["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def _request_context() -> dict[str, str]:
    """The call SID and request id of the request being served, when there is one."""
    if not has_request_context():
        return {}
    known = {"request_id": request_id()}
    call_sid = request.args.get("CallSid", "")
    # Only a form body is read: parsing any other body here could consume it before its view.
    if not call_sid and request.mimetype == "application/x-www-form-urlencoded":
        call_sid = request.form.get("CallSid", "")
    if _CALL_SID.fullmatch(call_sid):
        known["call_sid"] = call_sid
    return known


def request_id() -> str:
    """This request's id: the one a proxy or Twilio sent when plain, else a new one, kept."""
    environ = request.environ
    if _REQUEST_ID_KEY not in environ:
        sent = next((request.headers[h] for h in _REQUEST_ID_HEADERS if h in request.headers), "")
        environ[_REQUEST_ID_KEY] = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    return environ[_REQUEST_ID_KEY]


def handler(stream: IO[str] | None = None, log_format: str | None = None) -> logging.Handler:
    """A stream handler in the chosen format (LOG_FORMAT by default), with numbers masked."""
    made = logging.StreamHandler(stream)
    made.set_name(HANDLER_NAME)
    made.setFormatter(formatter(log_format))
    made.addFilter(MaskingFilter())
    return made


def formatter(log_format: str | None = None) -> logging.Formatter:
    """JSON lines when the format (LOG_FORMAT by default) is `json`, else the text lines."""
    chosen = log_format if log_format is not None else os.environ.get("LOG_FORMAT", "")
    return JsonFormatter() if chosen.strip().lower() == "json" else logging.Formatter(TEXT_FORMAT)


def configure(level: int = logging.INFO) -> None:
    """Install the masking filter on the root handlers (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(handler())
    root.setLevel(level)
    # twilio-python logs every request's headers at INFO: noise, and it names phone numbers.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    for each in root.handlers:
        if not any(isinstance(f, MaskingFilter) for f in each.filters):
            each.addFilter(MaskingFilter())
