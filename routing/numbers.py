"""Phone numbers callers key in: parsed and checked with Google's libphonenumber."""

from __future__ import annotations

import phonenumbers


def callback_number(digits: str, region: str) -> str | None:
    """Return a keyed number as E.164 if it is a valid number to call back, else None."""
    text = "".join(ch for ch in digits if ch.isdigit() or ch == "+")
    if not 5 <= len(text) <= 16:
        return None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
