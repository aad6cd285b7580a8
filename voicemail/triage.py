"""Triage of a voicemail: an urgency score from the voice, and crisis words from a transcript.

The voice part is the "emotion thermometer" hotline staff use by ear: a caller who is loud,
speaks fast with hardly a pause, and whose level jumps between shouting and near-whispering is
more likely in acute distress. Each cue is mapped onto 0..1 between a calm and an alarming value
and the cues are weighted into one score. The voice alone never declares a crisis: it only
orders the callbacks and pages a supervisor for an early listen when it crosses the threshold.

Words decide a crisis. When a transcript exists (Twilio's transcription, or any speech-to-text
behind `Transcriber`), the hotline's own classifier reads it with the crisis phrases and the
figure-of-speech exclusions of the lexicon (累死了 is not a crisis, 不想活了 is). A crisis makes
the message urgent with the top score, and starts the crisis path's alerting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from routing.classifier import Lexicon, classify
from voicemail.audio import Measures


class Transcriber(Protocol):
    """Any speech-to-text: WAV bytes of a message in, its text (or None) out."""

    def transcribe(self, wav: bytes, *, language: str) -> str | None:
        """Return what the caller said, or None when nothing could be recognised."""
        ...


@dataclass(frozen=True)
class Cue:
    """One voice cue: the value read as calm, the value read as alarming, and its weight."""

    calm: float
    alarming: float
    weight: float

    def level(self, value: float) -> float:
        """Place a measured value on 0 (calm) .. 1 (alarming), linearly, clipped."""
        share = (value - self.calm) / (self.alarming - self.calm)
        return min(1.0, max(0.0, share))


@dataclass(frozen=True)
class TriageRules:
    """Thresholds of the urgency score; the hotline config may replace any of them."""

    loudness_dbfs: Cue = field(default_factory=lambda: Cue(-28.0, -12.0, 0.35))
    spread_db: Cue = field(default_factory=lambda: Cue(4.5, 8.5, 0.25))
    bursts_per_min: Cue = field(default_factory=lambda: Cue(150.0, 300.0, 0.25))
    speech_share: Cue = field(default_factory=lambda: Cue(0.6, 0.9, 0.15))
    urgent_score: float = 0.6
    # Too little speech says nothing about a voice: a three-second message scores 0.
    min_speech_s: float = 4.0


@dataclass(frozen=True)
class TriageDecision:
    """What triage found: a score, whether the message is urgent or a crisis, and why."""

    score: float
    urgent: bool
    crisis: bool
    reasons: tuple[str, ...]
    # The phrases that made it a crisis (with any area phrases found beside them); never stored.
    matched: tuple[str, ...] = ()


def voice_score(measures: Measures, rules: TriageRules) -> tuple[float, list[str]]:
    """Score the voice on 0..1 and name the cues that raised it."""
    if measures.empty or measures.speech_s < rules.min_speech_s:
        return 0.0, []
    cues = (
        ("loud voice", rules.loudness_dbfs, measures.loudness_dbfs, "{:.0f} dBFS"),
        ("uneven level", rules.spread_db, measures.loudness_spread_db, "spread {:.1f} dB"),
        ("fast speech", rules.bursts_per_min, measures.bursts_per_min, "{:.0f} bursts/min"),
        ("few pauses", rules.speech_share, measures.speech_share, "speech {:.0%}"),
    )
    total_weight = sum(cue.weight for _, cue, _, _ in cues)
    score = 0.0
    reasons = []
    for name, cue, value, shown in cues:
        level = cue.level(value)
        score += cue.weight * level
        if level >= 0.5:
            reasons.append(f"{name} ({shown.format(value)})")
    return round(score / total_weight, 3), reasons


def assess(
    measures: Measures | None,
    *,
    transcript: str | None = None,
    lexicon: Lexicon | None = None,
    language: str | None = None,
    rules: TriageRules | None = None,
) -> TriageDecision:
    """Decide how urgent a message is from its voice measures and, when known, its words."""
    rules = rules or TriageRules()
    score, reasons = voice_score(measures, rules) if measures is not None else (0.0, [])
    crisis = False
    matched: tuple[str, ...] = ()
    if transcript and lexicon is not None:
        found = classify(transcript, lexicon, language)
        if found.crisis:
            crisis = True
            matched = found.matched
            # The phrases stay out of the reasons: reasons are stored and shown in alerts, and
            # the caller's words are kept only in the encrypted transcript.
            reasons.insert(0, "crisis words in transcript")
    if crisis:
        score = 1.0
    urgent = crisis or score >= rules.urgent_score
    return TriageDecision(
        score=score, urgent=urgent, crisis=crisis, reasons=tuple(reasons), matched=matched
    )
