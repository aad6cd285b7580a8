"""Train, cross-validate and evaluate the learned crisis scorer (an offline tool, run from a
clone: it is not installed, and the request path never imports it).

    python -m tools.crisis_model_train train             # cross-validate, fit, write weights
    python -m tools.crisis_model_train train --keep      # the same, keeping the model's kind
    python -m tools.crisis_model_train check             # retrain; compare with shipped weights
    python -m tools.crisis_model_train evaluate FILE...  # lexicon / model / both on data files
    python -m tools.crisis_model_train speed             # classify time on long speech

Training data: tests/data/crisis_tuning.yaml and tests/data/utterances.yaml, never a held-out
file. Candidates of both kinds (logistic regression by gradient descent, binarised multinomial
naive Bayes), each with each veto mode, are compared by 5-fold cross-validation on the model's
own recall at 2%, 3% and 5% false alarms on hard negatives (figure, past, negated, lawful); the
lexicon was written on these very utterances, so the combination's recall says little about a
model.
The best is calibrated (Platt scaling of its out-of-fold log-odds) and refitted on all the data.
The threshold is the one that, on the pooled out-of-fold probabilities, keeps the combination's
false alarms on hard negatives at or below 3% while catching the most crises.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

import yaml

from routing.classifier import (
    Lexicon,
    classify,
    crisis_features,
    detect_language,
    with_crisis_model,
)
from routing.config import load_config
from routing.crisis_model import (
    CrisisModel,
    CrisisModelError,
    model_from_data,
    model_to_data,
    sigmoid,
)
from tools import REPO, SHIPPED_CONFIG

CONFIG = SHIPPED_CONFIG
WEIGHTS = REPO / "hotline" / "crisis_model.json"
TRAINING_FILES = (
    REPO / "tests" / "data" / "crisis_tuning.yaml",
    REPO / "tests" / "data" / "utterances.yaml",
)
# lawful: anger pursued by lawful means ("去找老板算账" for wages, "make them pay in court").
HARD_KINDS = frozenset({"figure", "past", "negated", "lawful"})
SEED = 20240611
FOLDS = 5
MAX_HARD_FALSE_ALARMS = 0.03
# The model's own quality is its mean recall at these false-alarm rates on hard negatives.
QUALITY_LIMITS = (0.02, 0.03, 0.05)
# Weights are stored with this many decimals; smaller ones are dropped.
DECIMALS = 4
PRUNE = 0.005
# Which lexicon spans may veto a crisis only the model hears: (exclusions, negations).
VETO_MODES: dict[str, tuple[bool, bool]] = {
    "none": (False, False),
    "exclusions": (True, False),
    "negations": (False, True),
    "exclusions+negations": (True, True),
}


@dataclass(frozen=True)
class Example:
    """One labelled utterance with what the lexicon and the featuriser make of it."""

    text: str
    language: str
    crisis: bool
    kind: str
    lexicon_crisis: bool
    features: frozenset[str]
    # The features left once each veto mode's spans are masked.
    masked: MappingProxyType[str, frozenset[str]]

    @property
    def hard(self) -> bool:
        """Tell whether this is a hard negative: a figure of speech, a past event, a denial
        or lawful anger."""
        return not self.crisis and self.kind in HARD_KINDS


@dataclass(frozen=True)
class Settings:
    """The hyperparameters of one candidate model."""

    kind: str
    min_df: int = 2
    alpha: float = 0.1
    l2: float = 1e-4
    epochs: int = 400
    rate: float = 8.0
    hard_weight: float = 1.0

    def describe(self) -> str:
        """Return the settings that matter for this kind, for reports."""
        if self.kind == "naive_bayes":
            return f"naive_bayes(alpha={self.alpha}, min_df={self.min_df})"
        return (
            f"logistic(l2={self.l2}, hard_weight={self.hard_weight}, min_df={self.min_df}, "
            f"epochs={self.epochs}, rate={self.rate})"
        )

    def to_data(self) -> dict[str, object]:
        """Return the settings that matter for this kind, as JSON-ready data."""
        data = asdict(self)
        unused = ("l2", "epochs", "rate", "hard_weight") if self.kind == "naive_bayes" else ()
        unused += ("alpha",) if self.kind == "logistic" else ()
        return {key: value for key, value in data.items() if key not in unused}


# Features seen in a single training utterance are dropped (min_df=2) unless a candidate says
# otherwise: they rarely generalise and would triple the weights file.
CANDIDATES = (
    Settings("naive_bayes", alpha=0.05, min_df=2),
    Settings("naive_bayes", alpha=0.1, min_df=2),
    Settings("naive_bayes", alpha=0.2, min_df=2),
    Settings("naive_bayes", alpha=0.5, min_df=2),
    Settings("logistic", l2=1e-4, hard_weight=4.0, min_df=2),
    Settings("logistic", l2=1e-4, hard_weight=2.0, min_df=2),
    Settings("logistic", l2=1e-4, hard_weight=4.0, min_df=1),
)


@dataclass
class Figures:
    """Crisis recall and false alarms over a set of examples."""

    crises: int = 0
    caught: int = 0
    calm: int = 0
    false_alarms: int = 0
    hard: int = 0
    hard_false_alarms: int = 0
    missed: list[str] = field(default_factory=list)
    alarmed: list[str] = field(default_factory=list)

    def add(self, example: Example, said_crisis: bool) -> None:
        """Count one decision."""
        if example.crisis:
            self.crises += 1
            self.caught += said_crisis
            if not said_crisis:
                self.missed.append(example.text)
            return
        self.calm += 1
        self.hard += example.hard
        if said_crisis:
            self.false_alarms += 1
            self.hard_false_alarms += example.hard
            self.alarmed.append(example.text)

    @property
    def recall(self) -> float:
        """Share of crises caught."""
        return self.caught / self.crises if self.crises else 0.0

    @property
    def hard_rate(self) -> float:
        """Share of hard negatives called a crisis."""
        return self.hard_false_alarms / self.hard if self.hard else 0.0

    @property
    def calm_rate(self) -> float:
        """Share of all non-crisis utterances called a crisis."""
        return self.false_alarms / self.calm if self.calm else 0.0

    def line(self) -> str:
        """Return the figures as one line."""
        return (
            f"recall {self.recall:6.1%} ({self.caught}/{self.crises})  "
            f"FP hard {self.hard_rate:5.1%} ({self.hard_false_alarms}/{self.hard})  "
            f"FP all calm {self.calm_rate:5.1%} ({self.false_alarms}/{self.calm})"
        )

    def to_data(self) -> dict[str, object]:
        """Return the counts and rates as JSON-ready data."""
        return {
            "recall": round(self.recall, 4),
            "caught": self.caught,
            "crises": self.crises,
            "fp_hard": round(self.hard_rate, 4),
            "hard_false_alarms": self.hard_false_alarms,
            "hard": self.hard,
            "fp_calm": round(self.calm_rate, 4),
            "false_alarms": self.false_alarms,
            "calm": self.calm,
        }


# ---------------------------------------------------------------------------- data


def load_items(paths: Iterable[Path]) -> list[dict[str, object]]:
    """Read the utterances of labelled data files, in file order."""
    items: list[dict[str, object]] = []
    for path in paths:
        items += yaml.safe_load(path.read_text(encoding="utf-8"))["utterances"]
    return items


def load_lexicon(config: Path = CONFIG) -> Lexicon:
    """Return the hotline lexicon without any crisis model."""
    return load_config(config.read_text(encoding="utf-8"), str(config)).lexicon


def _blank(mode: str = "none") -> CrisisModel:
    """Return a weightless model: it only carries the featuriser's settings and a veto mode."""
    exclusions, negations = VETO_MODES[mode]
    return CrisisModel(
        weights=MappingProxyType({}),
        bias=0.0,
        threshold=0.5,
        veto_exclusions=exclusions,
        veto_negations=negations,
    )


def featurise(
    items: Sequence[dict[str, object]], lexicon: Lexicon, *, masks: bool = True
) -> list[Example]:
    """Run the lexicon and the featuriser over labelled utterances (masks: each veto mode's)."""
    plain = with_crisis_model(lexicon, None)
    blanks = {mode: _blank(mode) for mode in (VETO_MODES if masks else ("none",))}
    examples: list[Example] = []
    for item in items:
        text = str(item["text"])
        masked = {
            mode: frozenset(crisis_features(text, plain, blank, masked=mode != "none"))
            for mode, blank in blanks.items()
        }
        examples.append(
            Example(
                text=text,
                language=str(item["lang"]),
                crisis=bool(item["crisis"]),
                kind=str(item.get("kind") or "plain"),
                lexicon_crisis=classify(text, plain).crisis,
                features=masked["none"],
                masked=MappingProxyType(masked),
            )
        )
    return examples


def data_digest(paths: Iterable[Path]) -> str:
    """Return the SHA-256 of the training files, in order, so the weights name their data."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def folds(examples: Sequence[Example], count: int = FOLDS, seed: int = SEED) -> list[int]:
    """Assign each example a fold, stratified by (crisis, kind, language), deterministically."""
    groups: dict[tuple[bool, str, str], list[int]] = {}
    for position, example in enumerate(examples):
        groups.setdefault((example.crisis, example.kind, example.language), []).append(position)
    assignment = [0] * len(examples)
    rng = random.Random(seed)
    offset = 0
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda position: examples[position].text)
        rng.shuffle(members)
        for rank, position in enumerate(members):
            assignment[position] = (offset + rank) % count
        offset += len(members)
    return assignment


# ---------------------------------------------------------------------------- fitting


def fit(examples: Sequence[Example], settings: Settings) -> tuple[dict[str, float], float]:
    """Fit one model; return its (rounded, pruned) feature weights and bias."""
    vocabulary = _vocabulary(examples, settings.min_df)
    rows = [sorted(vocabulary[f] for f in e.features if f in vocabulary) for e in examples]
    labels = [1.0 if example.crisis else 0.0 for example in examples]
    if settings.kind == "naive_bayes":
        weights, bias = _naive_bayes(rows, labels, len(vocabulary), settings.alpha)
    else:
        weigh = [settings.hard_weight if example.hard else 1.0 for example in examples]
        weights, bias = _logistic(rows, labels, weigh, len(vocabulary), settings)
    kept = {
        name: round(weights[index], DECIMALS)
        for name, index in vocabulary.items()
        if abs(weights[index]) >= PRUNE
    }
    return kept, round(bias, DECIMALS)


def _vocabulary(examples: Sequence[Example], min_df: int) -> dict[str, int]:
    """Index the features present in at least min_df examples, in sorted order."""
    counts: dict[str, int] = {}
    for example in examples:
        for feature in example.features:
            counts[feature] = counts.get(feature, 0) + 1
    kept = sorted(f for f, n in counts.items() if n >= min_df or f.startswith("l:"))
    return {feature: index for index, feature in enumerate(kept)}


def _logistic(
    rows: Sequence[list[int]],
    labels: Sequence[float],
    weigh: Sequence[float],
    size: int,
    settings: Settings,
) -> tuple[list[float], float]:
    """Fit logistic regression by full-batch gradient descent with an L2 penalty.

    The step grows a little after each epoch that lowers the loss and halves (undoing the
    step) after one that raises it, so a too-bold rate never diverges.
    """
    weights = [0.0] * size
    bias = 0.0
    total = sum(weigh)
    rate = settings.rate
    l2 = settings.l2
    previous: tuple[float, list[float], float] | None = None
    for _ in range(settings.epochs):
        gradient = [0.0] * size
        bias_gradient = 0.0
        loss = 0.5 * l2 * sum(w * w for w in weights)
        for row, label, weight in zip(rows, labels, weigh, strict=True):
            margin = bias
            for index in row:
                margin += weights[index]
            loss += weight * _log_loss(margin, label) / total
            error = weight * (sigmoid(margin) - label) / total
            bias_gradient += error
            for index in row:
                gradient[index] += error
        if previous is not None and loss > previous[0]:
            # The last step overshot: go back to where it started and take half of it.
            _, weights, bias = previous
            rate /= 2.0
            continue
        previous = (loss, weights[:], bias)
        for index in range(size):
            weights[index] -= rate * (gradient[index] + l2 * weights[index])
        bias -= rate * bias_gradient
        rate *= 1.05
    if previous is not None:
        _, weights, bias = previous
    return weights, bias


def _log_loss(margin: float, label: float) -> float:
    """Return the logistic loss of a log-odds for a 0/1 label, safe for large margins."""
    signed = margin if label else -margin
    return math.log1p(math.exp(-signed)) if signed > -30 else -signed


def _naive_bayes(
    rows: Sequence[list[int]], labels: Sequence[float], size: int, alpha: float
) -> tuple[list[float], float]:
    """Fit binarised multinomial naive Bayes with additive smoothing, as a linear model."""
    counts = ([0.0] * size, [0.0] * size)
    documents = [0, 0]
    for row, label in zip(rows, labels, strict=True):
        side = int(label)
        documents[side] += 1
        for index in row:
            counts[side][index] += 1
    totals = [sum(counts[0]) + alpha * size, sum(counts[1]) + alpha * size]
    weights = [
        math.log((counts[1][index] + alpha) / totals[1])
        - math.log((counts[0][index] + alpha) / totals[0])
        for index in range(size)
    ]
    return weights, math.log(documents[1] / documents[0])


def calibrate(margins: Sequence[float], labels: Sequence[bool]) -> tuple[float, float]:
    """Return (scale, shift) so that sigmoid(scale * margin + shift) fits the labels (Platt).

    Platt's smoothed targets keep the fit finite even where the scores separate the classes;
    Newton's method halves its step until the loss falls.
    """
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    targets = [
        (positives + 1) / (positives + 2) if label else 1 / (negatives + 2) for label in labels
    ]

    def loss(scale: float, shift: float) -> float:
        total = 0.0
        for margin, target in zip(margins, targets, strict=True):
            z = scale * margin + shift
            total += target * _softplus(-z) + (1.0 - target) * _softplus(z)
        return total

    scale, shift = 1.0, 0.0
    current = loss(scale, shift)
    for _ in range(100):
        g_scale = g_shift = h_ss = h_sb = h_bb = 0.0
        for margin, target in zip(margins, targets, strict=True):
            p = sigmoid(scale * margin + shift)
            error = p - target
            curvature = p * (1.0 - p) + 1e-9
            g_scale += error * margin
            g_shift += error
            h_ss += curvature * margin * margin
            h_sb += curvature * margin
            h_bb += curvature
        determinant = h_ss * h_bb - h_sb * h_sb
        if determinant <= 0:
            break
        d_scale = (h_bb * g_scale - h_sb * g_shift) / determinant
        d_shift = (h_ss * g_shift - h_sb * g_scale) / determinant
        step = 1.0
        while step > 1e-10:
            candidate = loss(scale - step * d_scale, shift - step * d_shift)
            if candidate <= current:
                break
            step /= 2.0
        else:
            break
        scale, shift = scale - step * d_scale, shift - step * d_shift
        improvement, current = current - candidate, candidate
        if improvement < 1e-9:
            break
    return round(scale, 6), round(shift, 6)


def _softplus(z: float) -> float:
    """Return log(1 + e^z) without overflow."""
    return z + math.log1p(math.exp(-z)) if z > 0 else math.log1p(math.exp(z))


# ---------------------------------------------------------------------------- scoring


def margin_of(weights: dict[str, float], bias: float, features: Iterable[str]) -> float:
    """Return a model's log-odds for a set of features."""
    return bias + sum(weights.get(feature, 0.0) for feature in features)


@dataclass(frozen=True)
class Scored:
    """An example's out-of-fold log-odds: raw, and with each veto mode's spans masked."""

    example: Example
    raw: float
    masked: MappingProxyType[str, float]

    def calibrated(self, scale: float, shift: float) -> Scored:
        """Return the same scores as probabilities under a calibration."""
        return Scored(
            self.example,
            sigmoid(scale * self.raw + shift),
            MappingProxyType({m: sigmoid(scale * v + shift) for m, v in self.masked.items()}),
        )

    def model_says(self, threshold: float, mode: str) -> bool:
        """Tell whether the model alone calls it a crisis (its vetoes applied)."""
        return self.raw >= threshold and self.masked[mode] >= threshold

    def combined(self, threshold: float, mode: str) -> bool:
        """Tell whether the lexicon or the model calls it a crisis."""
        return self.example.lexicon_crisis or self.model_says(threshold, mode)


def out_of_fold(
    examples: Sequence[Example], settings: Settings, assignment: Sequence[int]
) -> list[Scored]:
    """Score every example with a model fitted on the other folds."""
    scored: list[Scored | None] = [None] * len(examples)
    for fold in range(max(assignment) + 1):
        train = [e for e, f in zip(examples, assignment, strict=True) if f != fold]
        weights, bias = fit(train, settings)
        for position, (example, f) in enumerate(zip(examples, assignment, strict=True)):
            if f == fold:
                masked = {m: margin_of(weights, bias, fs) for m, fs in example.masked.items()}
                raw = margin_of(weights, bias, example.features)
                scored[position] = Scored(example, raw, MappingProxyType(masked))
    return [item for item in scored if item is not None]


def figures(scored: Iterable[Scored], decide: Callable[[Scored], bool]) -> Figures:
    """Tally a decision rule over scored examples."""
    tally = Figures()
    for item in scored:
        tally.add(item.example, decide(item))
    return tally


def choose_threshold(
    scored: Sequence[Scored],
    mode: str,
    *,
    combined: bool = True,
    limit: float = MAX_HARD_FALSE_ALARMS,
) -> float:
    """Return the threshold keeping hard-negative false alarms <= limit with the best recall.

    Ties go to fewer false alarms on all calm utterances, then to the higher threshold; the
    threshold returned lies halfway between the deciding score and the next lower one, and is
    infinite when the model may never decide alone.
    """
    hard = sum(1 for item in scored if item.example.hard)
    caught = false_alarms = hard_false_alarms = 0
    pending: list[tuple[float, Example]] = []
    for item in scored:
        if combined and item.example.lexicon_crisis:
            caught += item.example.crisis
            false_alarms += not item.example.crisis
            hard_false_alarms += item.example.hard
        else:
            # The model says crisis at t exactly when both its scores reach t.
            pending.append((min(item.raw, item.masked[mode]), item.example))
    pending.sort(key=lambda pair: -pair[0])
    best = (caught, -false_alarms)
    chosen = math.inf
    position = 0
    while position < len(pending):
        value = pending[position][0]
        while position < len(pending) and pending[position][0] == value:
            example = pending[position][1]
            caught += example.crisis
            false_alarms += not example.crisis
            hard_false_alarms += example.hard
            position += 1
        if hard and hard_false_alarms / hard > limit:
            break
        if (caught, -false_alarms) > best:
            best = (caught, -false_alarms)
            lower = pending[position][0] if position < len(pending) else value
            chosen = (value + lower) / 2.0
    return chosen


def quality(scored: Sequence[Scored], mode: str) -> float:
    """Return the model's mean recall at the QUALITY_LIMITS false-alarm rates on hard negatives."""
    recalls = []
    for limit in QUALITY_LIMITS:
        threshold = choose_threshold(scored, mode, combined=False, limit=limit)
        recalls.append(figures(scored, lambda i, t=threshold: i.model_says(t, mode)).recall)
    return sum(recalls) / len(recalls)


def honest_figures(
    scored: Sequence[Scored], assignment: Sequence[int], mode: str
) -> tuple[Figures, Figures]:
    """Return (model, combined) figures with each fold's threshold chosen on the other folds."""
    model, combined = Figures(), Figures()
    for fold in range(max(assignment) + 1):
        others = [s for s, f in zip(scored, assignment, strict=True) if f != fold]
        threshold = choose_threshold(others, mode)
        for item, f in zip(scored, assignment, strict=True):
            if f == fold:
                model.add(item.example, item.model_says(threshold, mode))
                combined.add(item.example, item.combined(threshold, mode))
    return model, combined


# ---------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Trained:
    """A trained model as written to the weights file, with the report of how it was chosen."""

    data: dict[str, object]
    report: list[str]


def train(
    lexicon: Lexicon,
    files: Sequence[Path] = TRAINING_FILES,
    candidates: Sequence[Settings] = CANDIDATES,
    echo: Callable[[str], None] = lambda line: None,
) -> Trained:
    """Cross-validate the candidates, pick the best, calibrate it and fit it on all the data."""
    if any("heldout" in path.name for path in files):
        raise ValueError("a held-out file measures the model; it must never train it")
    report: list[str] = []

    def say(line: str) -> None:
        report.append(line)
        echo(line)

    examples = featurise(load_items(files), lexicon)
    assignment = folds(examples)
    say(f"training data: {len(examples)} utterances from {', '.join(p.name for p in files)}")
    lexicon_figures = figures(
        [Scored(e, 0.0, MappingProxyType({})) for e in examples],
        lambda item: item.example.lexicon_crisis,
    )
    say(f"lexicon alone (in-sample: written on these):  {lexicon_figures.line()}")
    say(
        f"{FOLDS}-fold cross-validation, model alone, mean recall at "
        + "/".join(f"{limit:.0%}" for limit in QUALITY_LIMITS)
        + " false alarms on hard negatives:"
    )
    best: tuple[float, int, Settings, str, list[Scored]] | None = None
    for order, settings in enumerate(candidates):
        scored = out_of_fold(examples, settings, assignment)
        row = []
        for mode in VETO_MODES:
            value = quality(scored, mode)
            row.append(f"{mode} {value:.3f}")
            if best is None or (value, -order) > (best[0], -best[1]):
                best = (value, order, settings, mode, scored)
        say(f"  {settings.describe():72s} " + "  ".join(row))
    assert best is not None
    _, _, settings, mode, raw_scored = best
    scale, shift = calibrate([s.raw for s in raw_scored], [s.example.crisis for s in raw_scored])
    scored = [item.calibrated(scale, shift) for item in raw_scored]
    say(f"chosen: {settings.describe()}, veto {mode}; calibration scale {scale}, shift {shift}")
    say("veto modes for the chosen model (threshold chosen for each, combination <= 3% FP hard):")
    for other in VETO_MODES:
        threshold = choose_threshold(scored, other)
        tally = figures(scored, lambda i, t=threshold, m=other: i.combined(t, m))
        say(f"  {other:22s} threshold {threshold:.4f}  combination {tally.line()}")
    # With no threshold meeting the limit, the model never decides alone.
    threshold = round(min(choose_threshold(scored, mode), 0.999999), 6)
    model_figures = figures(scored, lambda i: i.model_says(threshold, mode))
    combined_figures = figures(scored, lambda i: i.combined(threshold, mode))
    own = choose_threshold(scored, mode, combined=False)
    own_figures = figures(scored, lambda i: i.model_says(own, mode))
    honest_model, honest_combined = honest_figures(scored, assignment, mode)
    say(f"threshold {threshold} (combination <= {MAX_HARD_FALSE_ALARMS:.0%} FP on hard negatives)")
    say(f"  lexicon alone       {lexicon_figures.line()}")
    say(f"  model alone         {model_figures.line()}")
    say(f"  lexicon or model    {combined_figures.line()}")
    say(f"  model alone at its own 3% threshold {own:.4f}: {own_figures.line()}")
    say("  other thresholds (model alone | lexicon or model):")
    for other in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98):
        alone = figures(scored, lambda i, t=other: i.model_says(t, mode))
        both = figures(scored, lambda i, t=other: i.combined(t, mode))
        say(f"    {other:4.2f}  {alone.line()}  |  {both.line()}")
    say("  threshold chosen on the other four folds, applied to the fifth:")
    say(f"    model alone       {honest_model.line()}")
    say(f"    lexicon or model  {honest_combined.line()}")
    weights, bias = fit(examples, settings)
    exclusions, negations = VETO_MODES[mode]
    model = CrisisModel(
        weights=MappingProxyType(_scaled(weights, scale)),
        bias=round(scale * bias + shift, DECIMALS),
        threshold=threshold,
        kind=settings.kind,
        veto_exclusions=exclusions,
        veto_negations=negations,
    )
    say(f"final model: {len(model.weights)} features")
    data = model_to_data(
        model,
        training={
            "files": [str(path.relative_to(REPO)) for path in files],
            "sha256": data_digest(files),
            "settings": settings.to_data(),
            "calibration": {"scale": scale, "shift": shift},
            "seed": SEED,
            "folds": FOLDS,
            "cross_validated": {
                "lexicon_in_sample": lexicon_figures.to_data(),
                "model": model_figures.to_data(),
                "combined": combined_figures.to_data(),
            },
        },
    )
    return Trained(data, report)


def _scaled(weights: dict[str, float], scale: float) -> dict[str, float]:
    """Return calibrated weights, rounded, without those that round to nothing."""
    scaled = {name: round(scale * weight, DECIMALS) for name, weight in weights.items()}
    return {name: weight for name, weight in scaled.items() if weight}


def refit(data: dict[str, object], lexicon: Lexicon) -> CrisisModel:
    """Refit the final model from a weights file's recorded settings (no cross-validation)."""
    training = data["training"]
    assert isinstance(training, dict)
    settings = Settings(**training["settings"])
    examples = featurise(
        load_items(REPO / name for name in training["files"]), lexicon, masks=False
    )
    weights, bias = fit(examples, settings)
    scale, shift = training["calibration"]["scale"], training["calibration"]["shift"]
    stored = model_from_data(data)
    return replace(
        stored,
        weights=MappingProxyType(_scaled(weights, scale)),
        bias=round(scale * bias + shift, DECIMALS),
    )


def dumps(data: dict[str, object]) -> str:
    """Return the weights file's text: compact, one line per feature, stable."""
    head = {key: value for key, value in data.items() if key != "weights"}
    lines = [json.dumps(head, ensure_ascii=False, indent=1, sort_keys=False)[:-2] + ","]
    lines.append(' "weights": {')
    weights = data["weights"]
    assert isinstance(weights, dict)
    items = [
        f"  {json.dumps(name, ensure_ascii=False)}: {json.dumps(value)}"
        for name, value in weights.items()
    ]
    lines.append(",\n".join(items))
    lines.append(" }\n}\n")
    return "\n".join(lines)


def read_model(path: Path) -> CrisisModel:
    """Read a weights file, raising CrisisModelError when it is unreadable or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CrisisModelError(f"{path}: cannot read: {error.strerror}") from None
    except ValueError as error:
        raise CrisisModelError(f"{path}: not valid JSON: {error}") from None
    return model_from_data(data, str(path))


# ---------------------------------------------------------------------------- evaluating


def evaluate(path: Path, lexicon: Lexicon, model: CrisisModel, *, show: bool = False) -> list[str]:
    """Return report lines: lexicon, model and combination figures on one labelled file."""
    items = load_items([path])
    plain = with_crisis_model(lexicon, None)
    combined = with_crisis_model(lexicon, model)
    tallies = {name: Figures() for name in ("lexicon", "model", "combined")}
    by_language: dict[str, Figures] = {}
    elapsed = 0.0
    for item in items:
        text = str(item["text"])
        example = Example(
            text=text,
            language=str(item.get("lang") or detect_language(text)),
            crisis=bool(item["crisis"]),
            kind=str(item.get("kind") or "plain"),
            lexicon_crisis=False,
            features=frozenset(),
            masked=MappingProxyType({}),
        )
        lexicon_says = classify(text, plain).crisis
        raw = model.probability(crisis_features(text, plain, model))
        masked = model.probability(crisis_features(text, plain, model, masked=True))
        model_says = raw >= model.threshold and masked >= model.threshold
        start = time.perf_counter()
        both = classify(text, combined).crisis
        elapsed += time.perf_counter() - start
        assert both == (lexicon_says or model_says), text
        tallies["lexicon"].add(example, lexicon_says)
        tallies["model"].add(example, model_says)
        tallies["combined"].add(example, both)
        by_language.setdefault(example.language, Figures()).add(example, both)
    lines = [f"{path}: {len(items)} utterances, threshold {model.threshold}"]
    lines += [f"  {name:9s} {tally.line()}" for name, tally in tallies.items()]
    lines += [f"  combined {lang}: {tally.line()}" for lang, tally in sorted(by_language.items())]
    lines.append(f"  classify with the model: {elapsed / max(len(items), 1) * 1000:.3f} ms a call")
    if show:
        lines += ["  missed by the combination:"] + [
            f"    {text}" for text in tallies["combined"].missed
        ]
        lines += ["  false alarms of the combination:"] + [
            f"    {text}" for text in tallies["combined"].alarmed
        ]
    return lines


# ---------------------------------------------------------------------------- speed

# Ordinary labor talk a caller may go on with, then the crisis words that must still be heard;
# "asr" is Mandarin as a recogniser returns it, without punctuation.
LONG_TALK = {
    "zh": (
        "我在电子厂上班三年了，老板拖欠了我四个月的工资，加班费一直没有给，社保也没有交，"
        "我去找人事，他们让我等通知，我想问问怎么申请劳动仲裁。",
        "我不想活了",
    ),
    "asr": (
        "嗯 那个 我在电子厂上班三年了 老板拖欠了我四个月的工资 加班费一直没有给 社保也没有交 "
        "我去找人事 他们让我等通知 就是想问问怎么申请劳动仲裁 ",
        "我不想活了",
    ),
    "en": (
        "I have worked at the warehouse for three years and my boss has not paid my wages for "
        "four months, there is no overtime pay and no social insurance, HR keeps telling me to "
        "wait, so I want to know how to file for labor arbitration. ",
        "I am going to kill myself tonight",
    ),
}


def speed(lexicon: Lexicon, sizes: Sequence[int], rounds: int = 9) -> list[str]:
    """Return report lines: classify's time on ordinary talk of each size ending in crisis words.

    Each figure is the median and the fastest of `rounds` calls, in CPU time (what the call
    itself costs) and wall time (what a caller waits on a busy machine).
    """
    lines = [f"classify, {rounds} rounds: median / fastest, CPU and wall time, in ms"]
    for name, (talk, words) in LONG_TALK.items():
        for size in sizes:
            text = (talk * (size // len(talk) + 1))[:size] + words
            if not classify(text, lexicon).crisis:
                lines.append(f"  {name:3s} {size:5d} characters: crisis words NOT heard")
                continue
            cpu, wall = [], []
            for _ in range(rounds):
                started, clock = time.process_time(), time.perf_counter()
                classify(text, lexicon)
                cpu.append((time.process_time() - started) * 1000)
                wall.append((time.perf_counter() - clock) * 1000)
            cpu.sort()
            wall.sort()
            lines.append(
                f"  {name:3s} {size:5d} characters: CPU {cpu[rounds // 2]:6.1f} / {cpu[0]:6.1f}"
                f"   wall {wall[rounds // 2]:6.1f} / {wall[0]:6.1f}"
            )
    return lines


# ---------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    """Run the training command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.crisis_model_train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="hotline YAML (its lexicon)")
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="the model's JSON file")
    commands = parser.add_subparsers(dest="command", required=True)
    train_cmd = commands.add_parser(
        "train", help="cross-validate, fit on all the data, write the weights"
    )
    # Five-fold estimates move by more than the candidates differ when a few sentences are
    # added (naive Bayes 0.774 -> 0.740 for four), so a retraining on grown data keeps the
    # shipped kind and settings; choosing another kind is a change of its own, measured apart.
    train_cmd.add_argument(
        "--keep",
        action="store_true",
        help="refit the kind and settings of the weights file instead of choosing among all",
    )
    commands.add_parser("check", help="retrain and compare with the weights file")
    evaluate_cmd = commands.add_parser("evaluate", help="figures on labelled data files")
    evaluate_cmd.add_argument("files", nargs="+", type=Path)
    evaluate_cmd.add_argument("--show", action="store_true", help="list misses and false alarms")
    speed_cmd = commands.add_parser("speed", help="classify's time on long speech")
    speed_cmd.add_argument(
        "--sizes", default="500,2000,4000", help="characters of talk before the crisis words"
    )
    args = parser.parse_args(argv)
    lexicon = load_lexicon(args.config)
    if args.command == "speed":
        try:
            model = read_model(args.weights)
        except CrisisModelError as error:
            print(str(error), file=sys.stderr)
            return 1
        sizes = [int(size) for size in args.sizes.split(",")]
        print("\n".join(speed(with_crisis_model(lexicon, model), sizes)))
        return 0
    if args.command == "evaluate":
        try:
            model = read_model(args.weights)
        except CrisisModelError as error:
            print(str(error), file=sys.stderr)
            return 1
        for path in args.files:
            print("\n".join(evaluate(path, lexicon, model, show=args.show)))
        return 0
    candidates = CANDIDATES
    if args.command == "train" and args.keep:
        try:
            shipped = json.loads(args.weights.read_text(encoding="utf-8"))["training"]["settings"]
        except (OSError, ValueError, KeyError) as error:
            print(f"{args.weights}: no settings to keep ({error})", file=sys.stderr)
            return 1
        candidates = (Settings(**shipped),)
    trained = train(lexicon, candidates=candidates, echo=print)
    text = dumps(trained.data)
    if args.command == "check":
        current = args.weights.read_text(encoding="utf-8") if args.weights.exists() else ""
        if current != text:
            print(f"{args.weights} differs from a fresh training run", file=sys.stderr)
            return 1
        print(f"{args.weights}: matches a fresh training run")
        return 0
    args.weights.write_text(text, encoding="utf-8")
    print(f"wrote {args.weights} ({len(text.encode('utf-8')) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
