"""Masking of phone numbers, so logs and events never hold a caller's full number."""

from __future__ import annotations

import re

# Runs of 7 to 15 digits, optionally after +: phone numbers in free text. Digits inside a word
# (a CallSid such as CA1234567...), a path or a date (2010-04-01) are not phone numbers.
_NUMBER = re.compile(r"(?<![\w/\-:.])\+?\d{7,15}(?![\w/\-:.])")


def mask_number(number: str | None) -> str:
    """Keep a number's country code and last four digits: +86*******5678."""
    if not number:
        return ""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 4:
        return "*" * len(digits)
    plus = "+" if number.strip().startswith("+") else ""
    head = digits[:2] if plus else ""
    return f"{plus}{head}{'*' * (len(digits) - len(head) - 4)}{digits[-4:]}"


def mask_text(text: str) -> str:
    """Mask every phone-number-like run of digits in a piece of text."""
    return _NUMBER.sub(lambda match: mask_number(match.group(0)), text)
