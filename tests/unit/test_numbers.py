"""Caller IDs that hold no number (withheld, in every form carriers send) and keyed numbers."""

from __future__ import annotations

import phonenumbers
import pytest

from routing.numbers import WITHHELD_DIGITS, callback_number, is_withheld


@pytest.mark.parametrize(
    "caller_id",
    [
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "restricted",
        "Restricted",
        "unknown",
        "unavailable",
        "private",
        "blocked",
        "withheld",
        "",
        "   ",
        None,
        # Twilio's keypad spellings: ANONYMOUS, RESTRICTED, BLOCKED, UNAVAILABLE, UNKNOWN, PRIVATE.
        "+266696687",
        "+7378742833",
        "+2562533",
        "+86282452253",
        "+8656696",
        "+7748283",
        "266696687",
        " +266696687 ",
        "sip:anonymous@anonymous.invalid",
        "sip:Restricted@example.org",
    ],
)
def test_every_withheld_form_is_recognised(caller_id):
    assert is_withheld(caller_id)


@pytest.mark.parametrize(
    "caller_id",
    [
        "+8613812345678",
        "+861012348000",
        "+14155550100",
        "+442071838750",
        # Close to a keypad spelling, but a longer, real-looking number.
        "+2666966871",
        "+17378742833",
        "sip:+8613812345678@example.org",
    ],
)
def test_real_numbers_are_not_withheld(caller_id):
    assert not is_withheld(caller_id)


def test_no_keypad_spelling_is_a_valid_number_anywhere():
    # So a real caller can never be taken for a withheld one.
    for digits in WITHHELD_DIGITS:
        assert not phonenumbers.is_valid_number(phonenumbers.parse("+" + digits))


def test_keyed_numbers_are_checked_and_written_in_e164():
    assert callback_number("13812345678", "CN") == "+8613812345678"
    assert callback_number("+8613812345678", "CN") == "+8613812345678"
    assert callback_number("12345", "CN") is None
    assert callback_number("", "CN") is None
