"""Decisions of the phone menu: what a key or a spoken sentence means at each step."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from routing.classifier import classify
from routing.config import HotlineConfig

# Twilio's Digits can be arbitrarily long when a caller leans on the keypad; one key decides.
MAX_DIGITS_READ = 1


class Step(Enum):
    """What the menu does next after an answer."""

    CHOSEN = "chosen"
    REPROMPT = "reprompt"
    GENERAL = "general"
    CRISIS = "crisis"


@dataclass(frozen=True)
class Choice:
    """The outcome of one menu answer: the next step and, when chosen, the value."""

    step: Step
    value: str | None = None
    reason: str = ""
    matched: tuple[str, ...] = ()
    confidence: float = 0.0

    def reason_prompt(self) -> str:
        """The prompt that tells the caller why they are asked again."""
        return "invalid_key" if self.reason == "invalid_key" else "not_understood"


def first_key(digits: str | None) -> str:
    """Return the first keypad key pressed, ignoring anything after it."""
    return (digits or "").strip()[:MAX_DIGITS_READ]


def choose_language(config: HotlineConfig, digits: str | None, tries: int) -> Choice:
    """Pick the language from the key pressed at the greeting; silence means the default."""
    key = first_key(digits)
    if key == config.danger_key:
        return Choice(Step.CRISIS, reason="danger_key")
    if not key:
        return Choice(Step.CHOSEN, config.default_language, reason="timeout")
    language = config.language_for_key(key)
    if language:
        return Choice(Step.CHOSEN, language, reason="key")
    if tries < config.max_tries:
        return Choice(Step.REPROMPT, reason="invalid_key")
    return Choice(Step.CHOSEN, config.default_language, reason="invalid_key")


def choose_area(
    config: HotlineConfig, language: str, digits: str | None, speech: str | None, tries: int
) -> Choice:
    """Pick the legal area from a key or from what the caller said."""
    key = first_key(digits)
    spoken = (speech or "").strip()
    if key:
        if key == config.danger_key:
            return Choice(Step.CRISIS, reason="danger_key")
        area = config.area_for_key(key)
        if area:
            return Choice(Step.CHOSEN, area, reason="key")
        return _retry_or_general(config, tries, "invalid_key")
    if spoken:
        result = classify(spoken, config.lexicon, language)
        # Crisis words outrank everything else the caller said.
        if result.crisis:
            return Choice(Step.CRISIS, reason="crisis_words", matched=result.matched)
        if result.area:
            return Choice(
                Step.CHOSEN,
                result.area,
                reason="speech",
                matched=result.matched,
                confidence=result.confidence,
            )
        return _retry_or_general(config, tries, "not_understood")
    return _retry_or_general(config, tries, "no_input")


def choose_answer(
    config: HotlineConfig,
    area: str,
    question: int,
    digits: str | None,
    speech: str | None,
    tries: int,
) -> Choice:
    """Read an intake answer: a listed key, the danger key, crisis words, or nothing usable."""
    key = first_key(digits)
    if key == config.danger_key:
        return Choice(Step.CRISIS, reason="danger_key")
    if speech and speech.strip():
        result = classify(speech, config.lexicon)
        if result.crisis:
            return Choice(Step.CRISIS, reason="crisis_words", matched=result.matched)
    answers = config.areas[area].intake[question].answers
    if key in answers:
        return Choice(Step.CHOSEN, key, reason="key")
    reason = "invalid_key" if key else "no_input"
    if tries < config.max_tries:
        return Choice(Step.REPROMPT, reason=reason)
    # An unanswered intake question never blocks the caller: the agent asks it instead.
    return Choice(Step.CHOSEN, None, reason=reason)


def _retry_or_general(config: HotlineConfig, tries: int, reason: str) -> Choice:
    """Ask again while tries remain, then send the caller to a general agent."""
    if tries < config.max_tries:
        return Choice(Step.REPROMPT, reason=reason)
    return Choice(Step.GENERAL, config.general_area, reason=reason)


SKIPPED = "-"


def decode_answers(config: HotlineConfig, area: str, text: str | None) -> list[str | None]:
    """Read intake answers carried in a URL ("12-"), dropping anything that is not a valid key."""
    questions = config.areas[area].intake
    answers: list[str | None] = []
    for question, key in zip(questions, (text or "")[: len(questions)], strict=False):
        answers.append(key if key in question.answers else None)
    return answers


def encode_answers(answers: list[str | None]) -> str:
    """Write intake answers for a URL, one character each, "-" for a skipped question."""
    return "".join(answer or SKIPPED for answer in answers)


def summarise(
    config: HotlineConfig, area: str, language: str, answers: list[str | None], speech: str = ""
) -> str:
    """Compose the summary an agent hears and sees: intake answers, then the caller's words."""
    parts = [
        question.answers[answer][language]
        for question, answer in zip(config.areas[area].intake, answers, strict=False)
        if answer is not None
    ]
    if speech:
        parts.append(f"“{speech.strip()[:200]}”")
    return "; ".join(parts)
