"""assist.transcription_languages: Twilio's transcription language per caller's language."""

from __future__ import annotations

from routing.config import check_config, load_config
from tests.fixtures.config import edited_config


def _problems(edit) -> dict[tuple, str]:
    """The problems of the shipped config after one edit, by path."""
    return {problem.path: problem.message for problem in check_config(edited_config(edit))}


def test_each_language_has_its_transcription_code_and_back():
    assist = load_config(edited_config(lambda data: None)).assist

    assert assist.transcription_language("zh") == "zh-CN"
    assert assist.transcription_language("en") == "en-US"
    assert assist.language_of_transcription("en-US") == "en"
    assert assist.language_of_transcription("fr-FR") is None


def test_voicemail_keeps_its_codes_without_the_assist_section():
    # Messages are transcribed whether or not live assist is on.
    assist = load_config(edited_config(lambda data: data.pop("assist"))).assist

    assert assist.enabled is False
    assert assist.transcription_language("en") == "en-US"


def test_a_bad_code_or_an_unknown_language_is_refused():
    def edit(data):
        data["assist"]["transcription_languages"] = {"zh": "mandarin please", "fr": "fr-FR"}

    problems = _problems(edit)

    assert problems[("assist", "transcription_languages", "zh")].startswith("expected a language")
    assert ("assist", "transcription_languages", "fr") in problems
