"""A small learned crisis scorer: a linear model over character and word n-grams.

The classifier normalises a caller's text (the same folding it matches phrases on) and hands
this module the units of each clause: Mandarin characters and English words. Features are

  - Mandarin: character n-grams (1 to 4 characters by default) within a clause;
  - English: words and word pairs within a clause (words of an English call, or the Latin
    words inside a Mandarin one);
  - one language feature ("l:zh" or "l:en"), so each language has its own base rate.

Every feature is present or absent (counted once), and the score is the logistic of the bias
plus the weights of the features present. The weights are data (`hotline/crisis_model.json`, made by
`python -m tools.crisis_model_train`), read by `model_from_data`; nothing here reads a file.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

FORMAT = "hotline-crisis-model"
VERSION = 1
KINDS = ("logistic", "naive_bayes")
DEFAULT_CHAR_NGRAMS = (1, 4)
DEFAULT_WORD_NGRAMS = (1, 2)

# A clause: the units between two clause breaks (Mandarin characters or English words).
Clause = tuple[str, ...]
_Fail = Callable[[str], "CrisisModelError"]


class CrisisModelError(ValueError):
    """The crisis model's weights are missing, malformed or of another format."""


@dataclass(frozen=True)
class CrisisModel:
    """A trained crisis scorer: feature weights, a bias and the decision threshold."""

    weights: Mapping[str, float]
    bias: float
    threshold: float
    kind: str = "logistic"
    char_ngrams: tuple[int, int] = DEFAULT_CHAR_NGRAMS
    word_ngrams: tuple[int, int] = DEFAULT_WORD_NGRAMS
    # Whether a lexicon exclusion (a figure of speech) or a negation cue with the crisis phrase
    # it denies, covering the model's evidence, cancels a crisis only the model hears.
    veto_exclusions: bool = True
    veto_negations: bool = True

    def features(self, language: str, zh: Sequence[Clause], en: Sequence[Clause]) -> set[str]:
        """Return the features of a text given its Mandarin and English clauses."""
        return extract_features(language, zh, en, self.char_ngrams, self.word_ngrams)

    def margin(self, features: Iterable[str]) -> float:
        """Return the log-odds of a crisis for a set of features."""
        weights = self.weights
        return self.bias + sum(weights.get(feature, 0.0) for feature in features)

    def probability(self, features: Iterable[str]) -> float:
        """Return the probability of a crisis for a set of features."""
        return sigmoid(self.margin(features))

    def evidence(self, features: Iterable[str], limit: int = 5) -> list[tuple[str, float]]:
        """Return the n-grams pushing most towards a crisis, strongest first."""
        weighed = [
            (feature, self.weights.get(feature, 0.0))
            for feature in set(features)
            if not feature.startswith("l:")
        ]
        positive = sorted((item for item in weighed if item[1] > 0), key=lambda i: (-i[1], i[0]))
        return positive[:limit]


def sigmoid(margin: float) -> float:
    """Return the logistic function of a log-odds, safe for large magnitudes."""
    if margin >= 0:
        return 1.0 / (1.0 + math.exp(-margin))
    odds = math.exp(margin)
    return odds / (1.0 + odds)


def extract_features(
    language: str,
    zh: Sequence[Clause],
    en: Sequence[Clause],
    char_ngrams: tuple[int, int] = DEFAULT_CHAR_NGRAMS,
    word_ngrams: tuple[int, int] = DEFAULT_WORD_NGRAMS,
) -> set[str]:
    """Return the n-gram features of a text's clauses: characters for zh, words for en."""
    found = {f"l:{language}"}
    if language == "zh":
        low, high = char_ngrams
        for clause in zh:
            text = "".join(clause)
            size = len(text)
            for n in range(low, high + 1):
                for start in range(size - n + 1):
                    found.add("c:" + text[start : start + n])
    low, high = word_ngrams
    for clause in en:
        size = len(clause)
        for n in range(low, high + 1):
            for start in range(size - n + 1):
                found.add("w:" + " ".join(clause[start : start + n]))
    return found


def model_to_data(model: CrisisModel, **extra: object) -> dict[str, object]:
    """Return a model as JSON-ready data (features sorted, so the file is stable)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": model.kind,
        "char_ngrams": list(model.char_ngrams),
        "word_ngrams": list(model.word_ngrams),
        "veto_exclusions": model.veto_exclusions,
        "veto_negations": model.veto_negations,
        "threshold": model.threshold,
        "bias": model.bias,
        **extra,
        "weights": {feature: model.weights[feature] for feature in sorted(model.weights)},
    }


def model_from_data(data: object, source: str = "crisis model") -> CrisisModel:
    """Build a model from parsed JSON data, or raise CrisisModelError saying what is wrong."""

    def fail(message: str) -> CrisisModelError:
        return CrisisModelError(f"{source}: {message}")

    if not isinstance(data, Mapping):
        raise fail(f"expected a JSON object, not {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise fail(f"format must be {FORMAT!r}, not {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise fail(f"version {data.get('version')!r} is not supported (expected {VERSION})")
    kind = data.get("kind")
    if kind not in KINDS:
        raise fail(f"kind must be one of {list(KINDS)}, not {kind!r}")
    threshold = _number(data.get("threshold"), "threshold", fail)
    if not 0.0 < threshold < 1.0:
        raise fail(f"threshold must lie strictly between 0 and 1, not {threshold!r}")
    bias = _number(data.get("bias"), "bias", fail)
    vetoes = {name: data.get(name, True) for name in ("veto_exclusions", "veto_negations")}
    for name, veto in vetoes.items():
        if not isinstance(veto, bool):
            raise fail(f"{name} must be true or false, not {veto!r}")
    weights = data.get("weights")
    if not isinstance(weights, Mapping) or not weights:
        raise fail("weights must be a non-empty object of feature -> number")
    checked: dict[str, float] = {}
    for feature, weight in weights.items():
        if not isinstance(feature, str) or not feature.startswith(("c:", "w:", "l:")):
            raise fail(f"feature {feature!r} must start with 'c:', 'w:' or 'l:'")
        checked[feature] = _number(weight, f"weight of {feature!r}", fail)
    return CrisisModel(
        weights=MappingProxyType(checked),
        bias=bias,
        threshold=threshold,
        kind=str(kind),
        char_ngrams=_range(data.get("char_ngrams", list(DEFAULT_CHAR_NGRAMS)), "char_ngrams", fail),
        word_ngrams=_range(data.get("word_ngrams", list(DEFAULT_WORD_NGRAMS)), "word_ngrams", fail),
        veto_exclusions=vetoes["veto_exclusions"],
        veto_negations=vetoes["veto_negations"],
    )


def _number(value: object, what: str, fail: _Fail) -> float:
    """Return a finite number from JSON data, or raise the model error for what it is."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _range(value: object, what: str, fail: _Fail) -> tuple[int, int]:
    """Return an n-gram size range [low, high] from JSON data, or raise the model error."""
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in value)
        or not 1 <= value[0] <= value[1] <= 8
    ):
        raise fail(f"{what} must be [low, high] with 1 <= low <= high <= 8, not {value!r}")
    return value[0], value[1]
