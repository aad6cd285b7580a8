"""Voicemail triage: the voice's urgency score and crisis words in a transcript."""

from __future__ import annotations

import pytest

from tools import voicemail_samples as samples
from voicemail import audio
from voicemail.triage import Cue, TriageRules, assess, voice_score


def measures(style: str, seconds: float = 60, seed: int = 0) -> audio.Measures:
    """Measure a synthetic caller speaking in a style."""
    return audio.analyse(audio.decode_wav(samples.speech_wav(seconds, style, seed=seed))).measures


@pytest.fixture(scope="module")
def calm() -> audio.Measures:
    return measures("calm")


@pytest.fixture(scope="module")
def agitated() -> audio.Measures:
    return measures("agitated")


def test_loud_fast_uneven_voice_scores_higher_than_calm(calm, agitated):
    low = assess(calm)
    high = assess(agitated)
    assert high.score > low.score + 0.4
    assert high.urgent and not low.urgent
    assert not high.crisis and not low.crisis


def test_urgent_voice_is_explained(agitated):
    reasons = " ".join(assess(agitated).reasons)
    for cue in ("loud voice", "fast speech", "uneven level", "few pauses"):
        assert cue in reasons


def test_calm_voice_is_not_urgent_across_callers():
    for seed in range(4):
        assert not assess(measures("calm", 30, seed)).urgent


def test_threshold_is_a_parameter(calm, agitated):
    strict = TriageRules(urgent_score=0.99)
    assert not assess(agitated, rules=strict).urgent
    lenient = TriageRules(urgent_score=0.0)
    assert assess(calm, rules=lenient).urgent


def test_silence_and_short_messages_score_zero(agitated):
    empty = audio.analyse(audio.decode_wav(samples.silence_wav(3))).measures
    assert voice_score(empty, TriageRules()) == (0.0, [])
    short = measures("agitated", 3)
    assert voice_score(short, TriageRules())[0] == 0.0


def test_cue_level_is_clipped_and_linear():
    cue = Cue(calm=-28.0, alarming=-12.0, weight=1.0)
    assert cue.level(-40.0) == 0.0
    assert cue.level(-20.0) == pytest.approx(0.5)
    assert cue.level(0.0) == 1.0


def test_crisis_words_in_a_transcript_make_a_crisis(calm, hotline_config):
    decision = assess(
        calm,
        transcript="我真的不想活了，工资也拿不到",
        lexicon=hotline_config.lexicon,
        language="zh",
    )
    assert decision.crisis and decision.urgent
    assert decision.score == 1.0
    assert decision.reasons[0] == "crisis words in transcript"
    assert "不想活" in decision.matched
    assert not any("不想活" in reason for reason in decision.reasons)


def test_english_crisis_words_count_too(hotline_config):
    decision = assess(None, transcript="I took all my pills", lexicon=hotline_config.lexicon)
    assert decision.crisis


def test_figures_of_speech_are_not_a_crisis(calm, hotline_config):
    decision = assess(
        calm, transcript="加班累死了，老板气死了", lexicon=hotline_config.lexicon, language="zh"
    )
    assert not decision.crisis
    assert not decision.urgent


def test_words_without_a_lexicon_change_nothing(calm):
    assert not assess(calm, transcript="不想活了").crisis
