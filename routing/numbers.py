"""Phone numbers: those callers key in, checked with Google's libphonenumber, and the caller
IDs carriers send in place of a withheld number."""

from __future__ import annotations

import re

import phonenumbers

# What carriers send as the caller ID of someone who withholds their number. Twilio passes
# the word, or the word spelt on a keypad as a number: +266696687 is ANONYMOUS, +7378742833
# RESTRICTED, +2562533 BLOCKED, +86282452253 UNAVAILABLE, +8656696 UNKNOWN, +7748283 PRIVATE.
# None of these digit strings is a valid number in any country, so no real caller is mistaken.
WITHHELD_WORDS = frozenset(
    {"anonymous", "restricted", "blocked", "unavailable", "unknown", "private", "withheld"}
)
_KEYPAD_LETTERS = ("", "", "abc", "def", "ghi", "jkl", "mno", "pqrs", "tuv", "wxyz")
_KEYPAD = {letter: str(digit) for digit, group in enumerate(_KEYPAD_LETTERS) for letter in group}
WITHHELD_DIGITS = frozenset("".join(_KEYPAD[ch] for ch in word) for word in WITHHELD_WORDS)


def is_withheld(number: str | None) -> bool:
    """Tell whether a caller ID holds no number: empty, a word such as anonymous, or its digits.

    Such an ID is shared by everyone who hides their number: it can never be called back, nor
    tell one caller from another.
    """
    text = (number or "").strip().lower()
    # SIP callers without a number come as sip:anonymous@anonymous.invalid and the like.
    text = re.sub(r"^(sip|tel):", "", text).split("@", 1)[0]
    if not any(ch.isdigit() for ch in text):
        # No digit at all: a word (anonymous, Restricted...) or nothing, but no number.
        return True
    digits = re.sub(r"[\s\-().]", "", text).removeprefix("+")
    return digits in WITHHELD_DIGITS


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
