"""Logging set-up: one format, and phone numbers masked in every record whatever logs it."""

from __future__ import annotations

import logging

from routing.privacy import mask_text


class MaskingFilter(logging.Filter):
    """Rewrites each record's message with phone numbers masked before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message; never drops a record."""
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: int = logging.INFO) -> None:
    """Install the masking filter on the root handlers (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    # twilio-python logs every request's headers at INFO: noise, and it names phone numbers.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    for handler in root.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
