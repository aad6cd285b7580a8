"""The miss rule of an agent's leg picked up and over with its offer still open."""

from __future__ import annotations

import pytest

from routing.leg_miss import call_duration, missed_after_pickup, whisper_seconds
from routing.wording import speaking_seconds

WHISPER = ["A caller is waiting for family.", "Press 1 to accept, 2 to decline."]


def test_the_whisper_lasts_as_long_as_its_sentences():
    assert whisper_seconds(WHISPER) == pytest.approx(sum(map(speaking_seconds, WHISPER)))
    assert whisper_seconds([]) == 0.0


@pytest.mark.parametrize(
    ("duration_s", "missed"),
    [
        (0, False),  # cut at once: the whisper's fetch failed and Twilio hung up
        (3, False),  # the application error, or the agent hanging up mid-whisper
        (9, False),  # heard the whisper, hung up before the choice timed out
        (10, True),  # within Twilio's whole-second rounding of the full time
        (11, True),  # the whisper and the choice's time-out: a voicemail box answering
        (300, True),
    ],
)
def test_a_leg_is_a_miss_only_once_the_choice_could_time_out(duration_s, missed):
    # A whisper of 5 s and a choice of 6 s: 11 s before the choice times out.
    assert missed_after_pickup(duration_s, 5.0, 6) is missed


def test_a_leg_of_unknown_length_is_a_miss_as_before():
    assert missed_after_pickup(None, 5.0, 6) is True


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("0", 0), ("12", 12), (" 7 ", 7), ("", None), ("-3", None), ("1.5", None), ("9" * 9, None)],
)
def test_call_duration_reads_whole_seconds_only(raw, seconds):
    assert call_duration(raw) == seconds
