"""The emotion thermometer: a level 1-5 for every window of a caller's live audio, pure.

Each window's features (routing.prosody) are placed between a calm and an agitated anchor fixed
by calibration (`Bounds`), so the first windows of a call already mean something. Once the
caller has spoken for `baseline_s` seconds, their own voice in those windows is the baseline:
louder, faster, higher or more varied than it raises the level, quieter and slower lowers it.
A window without speech keeps the last level and says it is silent. The level travels as the
live-assist `level` event (`Reading.to_event`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from routing import prosody

# What a 20 ms frame of line noise may reach before the silence threshold follows it up: above
# this, a threshold could swallow quiet speech (about -30 dBFS on a telephone line).
MAX_SILENCE_DB = -38.0
# The silence threshold sits this far above the line's noise.
NOISE_MARGIN_DB = 8.0
# Windows the noise floor is remembered over (the quietest frames of the last ten seconds).
NOISE_WINDOWS = 5
# Less speech than this share of a window is a silent window: its level is not judged.
MIN_SPEECH_SHARE = 0.15
# The level's steps on the combined score: below 0.2 is 1, 0.8 and above is 5.
LEVEL_CUTS = (0.2, 0.4, 0.6, 0.8)
# How much the caller's difference from their own baseline moves the score (at most).
BASELINE_WEIGHT = 0.4
# A caller who starts speaking after silence, this far into a window or more, has its rate
# counted from their first word rather than over the silence before it: a loud, fast caller who
# began 0.5-1 s into a window read 3 there and waited for the next window, up to 3.6 s.
ONSET_S = 0.25
# ... but only up to this share of the window: later, too little speech is left to count a rate
# on (a syllable more or less would move it by a level), and the next window comes soon anyway.
ONSET_MAX_SHARE = 0.55


@dataclass(frozen=True)
class Bounds:
    """Where each feature reads calm (score 0) and agitated (score 1); set by calibration."""

    loudness_db: tuple[float, float] = (-24.0, -15.0)
    rate: tuple[float, float] = (4.0, 7.0)
    pitch_hz: tuple[float, float] = (100.0, 250.0)
    pitch_var: tuple[float, float] = (1.0, 3.0)
    # How much each feature counts: loudness and rate carry agitation most reliably; pitch
    # depends on who speaks (a calm woman's voice is higher than an agitated man's).
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "loudness_db": 0.4,
            "rate": 0.35,
            "pitch_hz": 0.15,
            "pitch_var": 0.1,
        }
    )
    # A full step above the caller's own baseline: dB, share of their rate, semitones, semitones.
    steps: dict[str, float] = field(
        default_factory=lambda: {"loudness_db": 8.0, "rate": 0.4, "pitch_hz": 3.0, "pitch_var": 2.0}
    )


@dataclass(frozen=True)
class Reading:
    """One window's level and the features it was judged on."""

    # Seconds of audio since the stream started, at the window's end.
    t: float
    level: int
    loudness_db: float
    rate: float
    pitch_hz: float | None
    pitch_var: float
    pauses: float
    # No speech in the window: the level is the last one (1 at the start), not a new judgement.
    silent: bool
    # The combined score the level was cut from (calibration shows it; the desk does not).
    score: float | None = None

    def to_event(self) -> dict[str, object]:
        """The live-assist `level` event's data."""
        return {
            "t": round(self.t, 2),
            "level": self.level,
            "loudness_db": round(self.loudness_db, 1),
            "rate": round(self.rate, 2),
            "pitch_hz": None if self.pitch_hz is None else round(self.pitch_hz, 1),
            "pitch_var": round(self.pitch_var, 2),
            "pauses": round(self.pauses, 2),
            "silent": self.silent,
        }


class Thermometer:
    """One caller's thermometer: feed it the stream's mu-law bytes, get a reading per window."""

    def __init__(
        self, bounds: Bounds | None = None, window_s: float = 2, baseline_s: float = 30
    ) -> None:
        self.bounds = bounds or Bounds()
        self.window_s = window_s
        self.baseline_s = baseline_s
        # One mu-law byte a sample: a window is this many bytes of the stream.
        self._window_bytes = int(window_s * prosody.RATE_HZ)
        self._pending = bytearray()
        self._windows = 0
        self._level = 1
        self._noise: deque[float] = deque(maxlen=NOISE_WINDOWS)
        self._baseline_windows: list[prosody.Features] = []
        self._baseline: dict[str, float] | None = None
        # Whether the last window was silent (the stream starts in silence).
        self._quiet = True

    @property
    def baseline(self) -> dict[str, float] | None:
        """The caller's own features once baseline_s of their speech is heard, else None."""
        return self._baseline

    def feed(self, mulaw: bytes) -> list[Reading]:
        """Take more audio; return a reading for each window it completes."""
        self._pending += mulaw
        readings = []
        while len(self._pending) >= self._window_bytes:
            window = bytes(self._pending[: self._window_bytes])
            del self._pending[: self._window_bytes]
            readings.append(self._judge(prosody.decode_mulaw(window)))
        return readings

    def _judge(self, samples: np.ndarray) -> Reading:
        """Measure one window and give it a level."""
        self._windows += 1
        silence_db = self._silence_db(samples)
        found = prosody.features(samples, silence_db)
        silent = found.speech_s < MIN_SPEECH_SHARE * self.window_s
        score = None
        if not silent and self._quiet:
            found = from_onset(found, samples, silence_db)
        self._quiet = silent
        if not silent:
            score = absolute_score(found, self.bounds)
            if self._baseline is not None:
                score += BASELINE_WEIGHT * relative_score(found, self._baseline, self.bounds)
            self._level = level_for(score)
            self._learn(found)
        return Reading(
            t=float(self._windows * self.window_s),
            level=self._level,
            loudness_db=found.loudness_db,
            rate=found.rate,
            pitch_hz=found.pitch_hz,
            pitch_var=found.pitch_var,
            pauses=found.pauses,
            silent=silent,
            score=score,
        )

    def _silence_db(self, samples: np.ndarray) -> float:
        """The silence threshold for a window: above the line's recent noise, below speech."""
        levels = prosody.frame_levels(samples)
        if len(levels):
            self._noise.append(float(np.percentile(levels, 10)))
        noise = min(self._noise, default=prosody.SILENCE_DB)
        return min(max(prosody.SILENCE_DB, noise + NOISE_MARGIN_DB), MAX_SILENCE_DB)

    def _learn(self, found: prosody.Features) -> None:
        """Add a spoken window to the baseline until baseline_s of them are heard."""
        if self._baseline is not None:
            return
        self._baseline_windows.append(found)
        if len(self._baseline_windows) * self.window_s >= self.baseline_s:
            self._baseline = baseline_of(self._baseline_windows)


def from_onset(found: prosody.Features, samples: np.ndarray, silence_db: float) -> prosody.Features:
    """A window in which the caller starts speaking after silence, its rate counted from their
    first word (ONSET_S)."""
    spoken = np.flatnonzero(prosody.frame_levels(samples) > silence_db)
    if not len(spoken):
        return found
    window_s = len(samples) / prosody.RATE_HZ
    onset_s = float(spoken[0] * prosody.FRAME / prosody.RATE_HZ)
    if not ONSET_S <= onset_s <= ONSET_MAX_SHARE * window_s:
        return found
    return replace(found, rate=found.rate * window_s / (window_s - onset_s))


def baseline_of(windows: list[prosody.Features]) -> dict[str, float]:
    """The median of each feature over the caller's first spoken windows."""
    baseline = {
        "loudness_db": float(np.median([w.loudness_db for w in windows])),
        "rate": float(np.median([w.rate for w in windows])),
        "pitch_var": float(np.median([w.pitch_var for w in windows])),
    }
    pitches = [w.pitch_hz for w in windows if w.pitch_hz is not None]
    if pitches:
        baseline["pitch_hz"] = float(np.median(pitches))
    return baseline


def absolute_score(found: prosody.Features, bounds: Bounds) -> float:
    """Where a window stands between the calm and agitated anchors (0 calm, 1 agitated)."""
    parts = {}
    for name in bounds.weights:
        value = getattr(found, name)
        if value is None:
            continue  # an unvoiced window has no pitch: the other features decide
        calm, agitated = getattr(bounds, name)
        parts[name] = float(np.clip((value - calm) / (agitated - calm), -0.25, 1.25))
    return _weighted(parts, bounds.weights)


def relative_score(found: prosody.Features, baseline: dict[str, float], bounds: Bounds) -> float:
    """How far a window is above (positive) or below the caller's own baseline, -1..1."""
    steps = bounds.steps
    parts = {"loudness_db": (found.loudness_db - baseline["loudness_db"]) / steps["loudness_db"]}
    parts["rate"] = (found.rate / max(baseline["rate"], 0.5) - 1.0) / steps["rate"]
    parts["pitch_var"] = (found.pitch_var - baseline["pitch_var"]) / steps["pitch_var"]
    if found.pitch_hz is not None and "pitch_hz" in baseline:
        semitones = 12.0 * np.log2(found.pitch_hz / baseline["pitch_hz"])
        parts["pitch_hz"] = float(semitones) / steps["pitch_hz"]
    clipped = {name: float(np.clip(value, -1.0, 1.0)) for name, value in parts.items()}
    return _weighted(clipped, bounds.weights)


def level_for(score: float) -> int:
    """The level 1-5 a combined score falls in."""
    return 1 + sum(score >= cut for cut in LEVEL_CUTS)


def _weighted(parts: dict[str, float], weights: dict[str, float]) -> float:
    """The weighted mean of the parts present."""
    total = sum(weights[name] for name in parts)
    return sum(weights[name] * value for name, value in parts.items()) / total if total else 0.0
