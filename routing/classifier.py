"""Classify a caller's words into a legal area and, separately, tell whether they signal a crisis.

Everything the classifier knows comes from the `lexicon:` section of the hotline configuration
(phrases, weights, synonyms, crisis phrases and their exclusions); nothing here names a phrase.

Matching
  - Mandarin: the text is normalised (full-width to half-width, lower case, punctuation and
    spaces removed) and phrases are found as substrings, since speech has no word spaces.
  - English: the text is split into words (contractions expanded: "don't" -> "do not") and a
    phrase matches a run of whole words, so "kill" never matches inside "skill". A word in a
    phrase also matches its simple inflections (-s, -es, -ed, -d, -ing, -ies/-ied, -ying and a
    doubled final consonant), so "fire" matches "fired" and "firing", "wage" matches "wages".
  - Synonyms from the lexicon expand phrases when the lexicon is built: with `wage: [salary]`,
    the phrase "unpaid wage" also matches "unpaid salary" (and is reported as "unpaid wage").
  - A match lying inside a longer match is ignored for scoring ("公司" inside "保险公司").
  - Punctuation in the caller's text (, . ! ? ; : 。) marks a clause break: no phrase, gap or
    negation reaches across one, so "自杀了，她欠的钱" never reads as "杀了她".

Area scoring
  Each area scores the sum of the weights of its distinct phrases found in the text. With
  `top` the best score, `second` the runner-up and `total` the sum over all areas:

      confidence = (top - second) / total * min(1, top / strong_score)

  The margin share says how clearly one area beats the others; the second factor discounts thin
  evidence. The area is None when top < min_score or confidence < min_confidence, so ties
  (confidence 0) and weak evidence go to a general agent rather than a wrong queue.

Crisis
  Crisis is decided apart from the area, from crisis rules:
  - a phrase;
  - a separable phrase, its parts joined by "..." ("不...想活" hears 不太想活 and 不是很想活):
    each part follows the one before within `gap` units (characters in Mandarin, words in
    English) of the same clause;
  - a `near` rule, the same with alternatives for each part ({near: [[站在, 坐在], [楼顶, 天台]]});
  - an `all` rule that needs one phrase from each of several groups anywhere in a sentence
    (安眠药 + 全吃): within `reach` units of one another, so a monologue never pairs words said
    minutes apart (农药 for the crops, later 喝 of the tea).
  An exclusion (a figure of speech such as 累死了 or "is killing me", or a past or third-party
  event such as 去年...跳楼; a phrase, a separable phrase or a `near` rule) cancels only the crisis
  matches lying entirely inside its own span; any other crisis match still counts. A negation
  cue (没想过, "I am not") cancels a crisis match that starts at most `negation_gap` units after
  the cue ends, within the same clause; a match overlapping the cue is not cancelled by it, so
  the cue "i do not" leaves "I don't want to live" a crisis. Crisis rules of every configured
  language are checked, whatever the language of the call.

Long utterances
  All of a text is read, however long: crisis words at its end count as at its start. Matching
  costs time in proportion to the text and the phrases heard in it (Mandarin phrases are found
  by string search from the character pairs the text holds; spans, covers, negation cues and
  chains are found by bisection), so the webhooks can read everything a caller said.

Learned crisis scorer (optional: `with_crisis_model`, weights from hotline/crisis_model.json)
  A linear model over n-grams of the same normalised units (routing/crisis_model.py) gives a
  crisis probability, reported as `crisis_score`, for the first MODEL_WINDOW characters (all
  of a sentence; a monologue's beginning, as when speech was cut there). The call is a crisis
  when the rules say so OR the probability reaches the model's threshold and still does once
  the spans of exclusions (figures of speech) and of negation cues with the crisis phrase they
  deny are left out: what vetoes a phrase vetoes the model's evidence too. A crisis only the
  model hears adds to `matched` the clause that weighs most towards it, so the crisis agent
  hears what was said.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import NamedTuple

from routing.crisis_model import Clause, CrisisModel
from routing.problems import Problem

DEFAULT_SCORING: Mapping[str, float] = MappingProxyType(
    {"min_score": 2.0, "strong_score": 3.0, "min_confidence": 0.2}
)

_ROOT = "lexicon"
_TOP_KEYS = frozenset({"scoring", "synonyms", "areas", "crisis"})
_CRISIS_KEYS = frozenset({"phrases", "exclusions", "negations", "gap", "negation_gap", "reach"})
DEFAULT_GAP = 4
DEFAULT_NEGATION_GAP = 1
# Units within which an `all` rule must hear every term (see _heard_together).
DEFAULT_REACH = 40
# The learned scorer hears the first this many characters of an utterance (see classify).
MODEL_WINDOW = 500
# From this many Mandarin characters, rules that cannot be satisfied are not looked for.
_VIABLE_FROM = 200
# A separable phrase joins its parts with "..." (or the ellipsis character).
_GAP_MARK = re.compile(r"\s*(?:\.\.\.|\u2026+)\s*")
# Punctuation that ends a clause once the text is NFKC-folded ("，" -> ",", "…" -> "...").
_BREAKS = frozenset(",.!?;:\u3002")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_BREAK_CLASS = re.escape("".join(sorted(_BREAKS)))
# In Mandarin, everything but word characters and clause breaks is dropped, in one pass.
_NOT_KEPT = re.compile(rf"[^\w{_BREAK_CLASS}]|_")
_BREAK_RUN = re.compile(rf"[{_BREAK_CLASS}]+")
_ENGLISH_TOKEN = re.compile(r"[a-z0-9]+|[,.!?;:]")
# Spoken contractions are expanded so "don't want to live" and "do not want to live" agree.
_CONTRACTIONS = (
    (re.compile(r"\bwon't\b"), "will not"),
    (re.compile(r"\bcan't\b"), "can not"),
    (re.compile(r"\bcannot\b"), "can not"),
    (re.compile(r"n't\b"), " not"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'re\b"), " are"),
    # "'s" is "is" after a pronoun ("it's killing me") and a possessive elsewhere ("ex's").
    (
        re.compile(r"\b(it|he|she|that|there|what|who|here|where|this|everyone|nobody)'s\b"),
        r"\1 is",
    ),
    (re.compile(r"'s\b"), ""),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
)

Units = tuple[str, ...]
Span = tuple[int, int]
Breaks = frozenset[int]
# Spans of a text to leave out, by language.
_Masks = Mapping[str, list[Span]]


@dataclass(frozen=True)
class Classification:
    """What a caller's words point to: an area (or None), crisis or not, and the evidence."""

    area: str | None
    crisis: bool
    confidence: float
    language: str
    matched: tuple[str, ...]
    # The crisis model's probability (None when the lexicon carries no model).
    crisis_score: float | None = None


@dataclass(frozen=True)
class _Pattern:
    """One matchable form of a lexicon phrase (a phrase may have several through synonyms)."""

    label: str
    units: Units
    area: str | None = None
    weight: float = 0.0
    rule: int = -1
    group: int = -1

    @cached_property
    def joined(self) -> str:
        """The phrase as one string: in Mandarin, where each unit is one character."""
        return "".join(self.units)


@dataclass(frozen=True)
class _Index:
    """Patterns keyed by their first unit, so matching looks only at plausible candidates."""

    by_first: Mapping[str, tuple[_Pattern, ...]]
    # For Mandarin: patterns keyed by their first two characters (a one-character pattern by
    # itself), each with its place in its by_first group, so matches keep by_first's order.
    by_prefix: Mapping[str, tuple[tuple[int, _Pattern], ...]]
    # The (rule, group) pairs each prefix serves, and each rule's number of groups: a rule
    # with a group none of whose prefixes is in a Mandarin text can never be satisfied there.
    prefix_groups: Mapping[str, frozenset[tuple[int, int]]]
    rule_sizes: Mapping[int, int]


class _Match(NamedTuple):
    """A pattern found in the text, with its span in units (characters or words)."""

    # A tuple, not a dataclass: a long utterance makes thousands, and a frozen dataclass's
    # constructor costs several times a tuple's.
    pattern: _Pattern
    span: Span


@dataclass(frozen=True)
class _Rule:
    """How a crisis rule or an exclusion is satisfied by its groups' matches."""

    near: bool
    size: int


@dataclass(frozen=True)
class _LanguageLexicon:
    """Compiled phrases for one language."""

    language: str
    areas: _Index
    crisis: _Index
    exclusions: _Index
    negations: _Index
    crisis_rules: tuple[_Rule, ...]
    exclusion_rules: tuple[_Rule, ...]
    gap: int
    negation_gap: int
    hints: tuple[tuple[str, ...], ...]
    reach: int = DEFAULT_REACH


@dataclass(frozen=True)
class Lexicon:
    """A compiled, read-only lexicon: per-language phrase indexes and the scoring thresholds."""

    languages: Mapping[str, _LanguageLexicon]
    min_score: float
    strong_score: float
    min_confidence: float
    # The learned crisis scorer heard alongside the crisis rules (see with_crisis_model).
    crisis_model: CrisisModel | None = None


# ---------------------------------------------------------------------------- normalising


def detect_language(text: str) -> str:
    """Return "zh" when the text holds any CJK character, else "en"."""
    return "zh" if _CJK.search(text) else "en"


def _is_chinese(language: str) -> bool:
    """Tell whether a language is matched by characters rather than by words."""
    return language == "zh"


# Only lexicon phrases come here (a phrase is split several times while the lexicon is checked
# and compiled); callers' words go through _tokens, which keeps nothing.
@lru_cache(maxsize=16384)
def _units(text: str, language: str) -> Units:
    """Split a lexicon phrase into matching units: characters for Mandarin, words for English."""
    return _tokens(text, language)[0]


def _tokens(text: str, language: str) -> tuple[Units, Breaks]:
    """Return the matching units and the clause breaks (a break at i lies before unit i)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    if _is_chinese(language):
        chunks = _BREAK_RUN.split(_NOT_KEPT.sub("", folded))
        units = tuple("".join(chunks))
        ends = itertools.accumulate(len(chunk) for chunk in chunks[:-1])
        return units, frozenset(position for position in ends if 0 < position < len(units))
    else:
        folded = folded.replace("\u2019", "'").replace("\u2018", "'")
        for pattern, replacement in _CONTRACTIONS:
            folded = pattern.sub(replacement, folded)
        pieces = _ENGLISH_TOKEN.findall(folded)
    units: list[str] = []
    breaks: set[int] = set()
    for piece in pieces:
        if piece in _BREAKS:
            breaks.add(len(units))
        else:
            units.append(piece)
    return tuple(units), frozenset(position for position in breaks if 0 < position < len(units))


@lru_cache(maxsize=8192)
def _word_forms(word: str) -> frozenset[str]:
    """Return the word and the base forms it may inflect, so "fired" also reads as "fire"."""
    forms = {word}
    size = len(word)
    if size > 3 and word.endswith(("ies", "ied")):
        forms.add(word[:-3] + "y")
    if size > 2 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
    if size > 3 and word.endswith("es"):
        forms.add(word[:-2])
    if size > 3 and word.endswith("ed"):
        forms.add(word[:-1])
        forms.update(_stem_forms(word[:-2]))
    if size > 4 and word.endswith("ing"):
        forms.update(_stem_forms(word[:-3]))
    if size > 4 and word.endswith("ying"):
        forms.add(word[:-4] + "ie")
    return frozenset(forms)


def _stem_forms(stem: str) -> set[str]:
    """Return the bases a stem left by -ed or -ing may stand for (stopp -> stop, fir -> fire)."""
    if len(stem) < 3:
        return set()
    forms = {stem, stem + "e"}
    if stem[-1] == stem[-2] and stem[-1] not in "aeiou":
        forms.add(stem[:-1])
    return forms


def _text_forms(units: Units, language: str) -> tuple[frozenset[str], ...]:
    """Return, for each unit of a caller's text, the forms a phrase unit may match."""
    if _is_chinese(language):
        return tuple(frozenset((unit,)) for unit in units)
    return tuple(_word_forms(unit) for unit in units)


# ---------------------------------------------------------------------------- matching


def _build_index(patterns: Iterable[_Pattern]) -> _Index:
    """Group patterns by their first unit."""
    grouped: dict[str, list[_Pattern]] = {}
    for pattern in patterns:
        grouped.setdefault(pattern.units[0], []).append(pattern)
    prefixed: dict[str, list[tuple[int, _Pattern]]] = {}
    serves: dict[str, set[tuple[int, int]]] = {}
    sizes: dict[int, set[int]] = {}
    for group in grouped.values():
        for order, pattern in enumerate(group):
            prefix = "".join(pattern.units[:2])
            prefixed.setdefault(prefix, []).append((order, pattern))
            if pattern.rule >= 0:
                serves.setdefault(prefix, set()).add((pattern.rule, pattern.group))
                sizes.setdefault(pattern.rule, set()).add(pattern.group)
    return _Index(
        MappingProxyType({first: tuple(group) for first, group in grouped.items()}),
        MappingProxyType({prefix: tuple(group) for prefix, group in prefixed.items()}),
        MappingProxyType({prefix: frozenset(pairs) for prefix, pairs in serves.items()}),
        MappingProxyType({rule: len(groups) for rule, groups in sizes.items()}),
    )


@dataclass(frozen=True)
class _Text:
    """A caller's text in one language: its units and the clause breaks."""

    units: Units
    breaks: Breaks
    language: str

    @classmethod
    def of(cls, text: str, language: str) -> _Text:
        units, breaks = _tokens(text, language)
        return cls(units, breaks, language)

    @property
    def exact(self) -> bool:
        """Whether each unit is one character matched as itself (Mandarin): phrases are then
        found by string search, which keeps a long utterance fast."""
        return _is_chinese(self.language)

    @cached_property
    def forms(self) -> tuple[frozenset[str], ...]:
        """Each unit's forms a phrase unit may match (only word matching needs them)."""
        return _text_forms(self.units, self.language)

    @cached_property
    def joined(self) -> str:
        """The units as one string (meaningful when exact: one character each)."""
        return "".join(self.units)

    @cached_property
    def prefixes(self) -> frozenset[str]:
        """Every character and every pair of neighbouring characters the text holds."""
        joined = self.joined
        return frozenset(joined).union(map(operator.add, joined, joined[1:]))

    def clauses(self, masked: Iterable[Span] = ()) -> list[Clause]:
        """Return the units of each clause, leaving out (and breaking at) the masked spans."""
        hidden = {position for start, end in masked for position in range(start, end)}
        clauses: list[Clause] = []
        current: list[str] = []
        for position, unit in enumerate(self.units):
            if position in self.breaks or position in hidden:
                if current:
                    clauses.append(tuple(current))
                current = []
            if position not in hidden:
                current.append(unit)
        if current:
            clauses.append(tuple(current))
        return clauses

    @cached_property
    def stops(self) -> tuple[int, ...]:
        """The clause breaks in order, so a long utterance's breaks are bisected, not scanned."""
        return tuple(sorted(self.breaks))

    def crosses(self, start: int, end: int) -> bool:
        """Tell whether a clause break lies between unit positions start and end (inclusive)."""
        index = bisect_left(self.stops, start)
        return index < len(self.stops) and self.stops[index] <= end


def _find(index: _Index, text: _Text, *, satisfiable: bool = False) -> list[_Match]:
    """Return every occurrence of every pattern, overlapping ones included, within a clause.

    satisfiable: in Mandarin, leave out the patterns of rules that cannot be satisfied (a
    group with no phrase in the text), for callers that drop such rules' matches anyway.
    """
    if text.exact:
        return _find_exact(index, text, satisfiable=satisfiable)
    forms = text.forms
    found: list[_Match] = []
    size = len(forms)
    for start, first_forms in enumerate(forms):
        for form in first_forms:
            for pattern in index.by_first.get(form, ()):
                end = start + len(pattern.units)
                if (
                    end <= size
                    and all(
                        unit in forms[start + offset]
                        for offset, unit in enumerate(pattern.units[1:], start=1)
                    )
                    and not text.crosses(start + 1, end - 1)
                ):
                    found.append(_Match(pattern, (start, end)))
    return found


def _find_exact(index: _Index, text: _Text, *, satisfiable: bool = False) -> list[_Match]:
    """Return what _find returns, for a text whose units are characters matched as themselves.

    Only the characters and pairs of characters the text holds are looked up, and each one's
    places are found by string search, so the work follows the phrases heard, not the length.
    """
    joined = text.joined
    present = text.prefixes.intersection(index.by_prefix)
    # In a long utterance 我, 要 or 死 come often, and the rules they are a part of mostly
    # lack their other parts: finding them would be wasted work. (In a sentence, telling which
    # rules can be satisfied costs more than it saves.)
    long = len(joined) > _VIABLE_FROM
    viable = _viable_rules(index, present) if satisfiable and long else None
    # A one-character phrase never spans a clause break, nor does any phrase in one clause.
    breaks = bool(text.breaks)
    found: list[tuple[int, int, _Match]] = []
    for prefix in present:
        group = index.by_prefix[prefix]
        start = joined.find(prefix)
        while start >= 0:
            for order, pattern in group:
                if viable is not None and pattern.rule >= 0 and pattern.rule not in viable:
                    continue
                end = start + len(pattern.units)
                if joined.startswith(pattern.joined, start) and not (
                    breaks and end - start > 1 and text.crosses(start + 1, end - 1)
                ):
                    found.append((start, order, _Match(pattern, (start, end))))
            start = joined.find(prefix, start + 1)
    # In text order, and at one place in by_first's order, as _find gives them.
    found.sort(key=operator.itemgetter(0, 1))
    return [match for _, _, match in found]


def _viable_rules(index: _Index, present: Iterable[str]) -> set[int]:
    """Return the rules each of whose groups has a phrase starting as something present."""
    heard = {pair for prefix in present for pair in index.prefix_groups.get(prefix, ())}
    groups: dict[int, int] = {}
    for rule, _ in heard:
        groups[rule] = groups.get(rule, 0) + 1
    return {rule for rule, count in groups.items() if count == index.rule_sizes[rule]}


def _longest_only(matches: list[_Match]) -> list[_Match]:
    """Drop matches lying strictly inside a longer match: the longer phrase is the evidence."""
    # Spans in order of start, longest first: a span lies strictly inside another exactly
    # when a span before it reaches as far. One pass, so a long utterance stays linear.
    inner: set[Span] = set()
    reach = -1
    for span in sorted({match.span for match in matches}, key=lambda s: (s[0], -s[1])):
        if reach >= span[1]:
            inner.add(span)
        reach = max(reach, span[1])
    return [match for match in matches if match.span not in inner]


@dataclass(frozen=True)
class _Covers:
    """Spans that each hide whatever lies wholly inside them, found by bisection."""

    starts: tuple[int, ...]
    # reach[i]: the furthest end among the spans starting at or before starts[i].
    reach: tuple[int, ...]

    @classmethod
    def of(cls, spans: Iterable[Span]) -> _Covers:
        ordered = sorted(spans)
        reach: list[int] = []
        furthest = -1
        for _, end in ordered:
            furthest = max(furthest, end)
            reach.append(furthest)
        return cls(tuple(start for start, _ in ordered), tuple(reach))

    def hide(self, span: Span) -> bool:
        """Tell whether a span lies wholly inside one of the spans."""
        if not self.starts:
            return False
        index = bisect_right(self.starts, span[0])
        return index > 0 and self.reach[index - 1] >= span[1]


@dataclass(frozen=True)
class _Cues:
    """Negation cues found in a text, by where each ends, in the order they were found."""

    by_end: Mapping[int, tuple[tuple[int, _Match], ...]]

    @classmethod
    def of(cls, cues: Sequence[_Match]) -> _Cues:
        by_end: dict[int, list[tuple[int, _Match]]] = {}
        for order, cue in enumerate(cues):
            by_end.setdefault(cue.span[1], []).append((order, cue))
        return cls({end: tuple(found) for end, found in by_end.items()})


# ---------------------------------------------------------------------------- classifying


def classify(text: str, lexicon: Lexicon, language: str | None = None) -> Classification:
    """Classify a caller's words; language None means detect (any CJK character -> zh, else en)."""
    if language is None or language not in lexicon.languages:
        language = detect_language(text)
    compiled = lexicon.languages.get(language)
    if compiled is None:
        return Classification(None, False, 0.0, language, ())
    heard = _hear(text, lexicon, language)
    area_matches = _longest_only(_find(compiled.areas, heard[language]))
    area, confidence = _decide_area(_area_scores(area_matches), lexicon)
    # The crisis rules hear all of it, however long: a phrase or a near rule is local, and an
    # `all` rule must hear its terms within its reach, as in the sentences it was written on.
    crisis_labels = _crisis_labels(lexicon, language, heard)
    # With no area chosen, every area phrase heard is evidence for the general agent.
    matched = _unique(
        [m.pattern.label for m in area_matches if area is None or m.pattern.area == area]
        + crisis_labels
    )
    model = lexicon.crisis_model
    if model is None:
        return Classification(area, bool(crisis_labels), confidence, language, matched)
    # The learned scorer hears the beginning only, what it heard when speech was cut there:
    # over a monologue its n-grams, learned on sentences, would drown one sentence's evidence
    # in one bag, or in many short windows add up to false alarms.
    if len(text) > MODEL_WINDOW:
        heard = _hear(text[:MODEL_WINDOW], lexicon, language)
    score, evidence = _model_verdict(model, lexicon, language, heard, bool(crisis_labels))
    crisis = bool(crisis_labels) or evidence is not None
    if evidence:
        matched = _unique([*matched, evidence])
    return Classification(area, crisis, confidence, language, matched, round(score, 4))


def with_crisis_model(lexicon: Lexicon, model: CrisisModel | None) -> Lexicon:
    """Return the lexicon with a learned crisis scorer heard alongside its crisis rules."""
    return replace(lexicon, crisis_model=model)


def crisis_features(
    text: str,
    lexicon: Lexicon,
    model: CrisisModel,
    language: str | None = None,
    *,
    masked: bool = False,
) -> set[str]:
    """Return the model's features of what it hears of a text (its first MODEL_WINDOW
    characters); masked leaves out the spans the model's vetoes cover."""
    if language is None or language not in lexicon.languages:
        language = detect_language(text)
    heard = _hear(text[:MODEL_WINDOW], lexicon, language)
    masks = _veto_masks(model, lexicon, heard) if masked else None
    return _model_features(model, language, heard, masks)


def _hear(text: str, lexicon: Lexicon, language: str) -> dict[str, _Text]:
    """Return the text as heard in every configured language (crisis rules check them all)."""
    heard = {language: _Text.of(text, language)}
    for other in ("en", *lexicon.languages):
        if other not in heard:
            heard[other] = _Text.of(text, other)
    return heard


def _model_features(
    model: CrisisModel, language: str, heard: Mapping[str, _Text], masks: _Masks | None = None
) -> set[str]:
    """Return the model's features: Mandarin clauses for a zh call, English clauses always."""
    masks = masks or {}
    zh = heard["zh"].clauses(masks.get("zh", ())) if language == "zh" and "zh" in heard else []
    return model.features(language, zh, heard["en"].clauses(masks.get("en", ())))


def _veto_masks(model: CrisisModel, lexicon: Lexicon, heard: Mapping[str, _Text]) -> _Masks:
    """Return, by language, the spans of exclusions and denials that may veto the model."""
    masks: dict[str, list[Span]] = {}
    for language, compiled in lexicon.languages.items():
        text = heard.get(language)
        if text is None:
            continue
        spans = _exclusion_covers(compiled, text) if model.veto_exclusions else []
        if model.veto_negations:
            spans += _denials(compiled, text)
        if spans:
            masks[language] = spans
    return masks


def _model_verdict(
    model: CrisisModel,
    lexicon: Lexicon,
    language: str,
    heard: Mapping[str, _Text],
    lexicon_crisis: bool,
) -> tuple[float, str | None]:
    """Return the model's probability and, for a crisis only it hears, the clause it heard."""
    features = _model_features(model, language, heard)
    score = model.probability(features)
    if lexicon_crisis or score < model.threshold:
        return score, None
    # A figure of speech (累死了, "is killing me") or a denial (没想过自杀) that covers the
    # model's evidence cancels it, as it cancels a crisis phrase it covers: the model must
    # still hear a crisis with those spans left out.
    masks = _veto_masks(model, lexicon, heard)
    if (
        masks
        and model.probability(_model_features(model, language, heard, masks)) < model.threshold
    ):
        return score, None
    return score, _strongest_clause(model, language, heard, masks)


def _strongest_clause(
    model: CrisisModel, language: str, heard: Mapping[str, _Text], masks: _Masks
) -> str:
    """Return the clause weighing most towards a crisis, outside the vetoes' spans."""
    zh = language == "zh" and "zh" in heard
    side = "zh" if zh else "en"
    clauses = heard[side].clauses(masks.get(side, ()))
    joiner = "" if zh else " "

    def weight(clause: Clause) -> float:
        features = model.features(language, [clause] if zh else [], [] if zh else [clause])
        return sum(max(model.weights.get(feature, 0.0), 0.0) for feature in features)

    return joiner.join(max(clauses, key=weight)) if clauses else ""


def _area_scores(matches: list[_Match]) -> dict[str, float]:
    """Sum the weights of the distinct phrases found for each area."""
    seen: set[tuple[str, str]] = set()
    scores: dict[str, float] = {}
    for match in matches:
        pattern = match.pattern
        assert pattern.area is not None
        if (pattern.area, pattern.label) in seen:
            continue
        seen.add((pattern.area, pattern.label))
        scores[pattern.area] = scores.get(pattern.area, 0.0) + pattern.weight
    return scores


def _decide_area(scores: dict[str, float], lexicon: Lexicon) -> tuple[str | None, float]:
    """Pick the best area and its confidence, or None when the evidence is weak or tied."""
    if not scores:
        return None, 0.0
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best, top = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    total = sum(scores.values())
    confidence = (top - second) / total * min(1.0, top / lexicon.strong_score)
    if top < lexicon.min_score or confidence < lexicon.min_confidence:
        return None, 0.0
    return best, round(confidence, 3)


def _crisis_labels(lexicon: Lexicon, language: str, heard: Mapping[str, _Text]) -> list[str]:
    """Return the crisis phrases found, checking every language since callers switch tongue."""
    labels = _crisis_in(lexicon.languages[language], heard[language])
    for other, compiled in lexicon.languages.items():
        if other != language:
            labels += _crisis_in(compiled, heard[other])
    return labels


def _exclusion_covers(compiled: _LanguageLexicon, heard: _Text) -> list[Span]:
    """Return the spans the exclusions cover (a separable exclusion covers its whole chain)."""
    exclusions = _by_rule(_find(compiled.exclusions, heard, satisfiable=True))
    return [
        (chain[0].span[0], chain[-1].span[1])
        for rule, groups in exclusions.items()
        for chain in _chains(compiled.exclusion_rules[rule], groups, compiled.gap, heard)
    ]


def _crisis_in(compiled: _LanguageLexicon, heard: _Text) -> list[str]:
    """Return the labels of satisfied crisis rules, after exclusions and negations."""
    matches = _possible(compiled, _find(compiled.crisis, heard, satisfiable=True))
    if not matches:
        return []
    # A figure of speech cancels only the crisis matches it wholly covers: "累死了" hides
    # nothing else, so "累死了，不想活了" stays a crisis. A partial overlap is kept (when
    # unsure, treat it as a crisis). A separable exclusion covers its whole chain.
    covers = _Covers.of(_exclusion_covers(compiled, heard))
    cues = _Cues.of(_find(compiled.negations, heard))
    kept = [
        match
        for match in matches
        if not covers.hide(match.span)
        and not _negated(match.span, cues, compiled.negation_gap, heard)
    ]
    labels: list[str] = []
    for rule_id, groups in _by_rule(kept).items():
        rule = compiled.crisis_rules[rule_id]
        if rule.near:
            chain = next(iter(_chains(rule, groups, compiled.gap, heard)), None)
            if chain is not None:
                labels.append("...".join(match.pattern.label for match in chain))
        elif len(groups) == rule.size:
            together = _heard_together(groups, rule.size, compiled.reach)
            labels += [match.pattern.label for match in together]
    return labels


def _heard_together(groups: Mapping[int, list[_Match]], size: int, reach: int) -> list[_Match]:
    """Return the first stretch of an `all` rule's matches within `reach` units holding every
    group, in text order, or [] when there is none.

    In a sentence, an `all` rule hears its terms anywhere (安眠药, then 全吃 after a comma); in a
    monologue, terms minutes apart (农药 for the crops, 喝 of the tea) are not one thought.
    """
    found = sorted((match for matches in groups.values() for match in matches), key=_span)
    heard: dict[int, int] = {}
    right = 0
    for left, first in enumerate(found):
        right = max(right, left)
        while right < len(found) and found[right].span[1] - first.span[0] <= reach:
            group = found[right].pattern.group
            heard[group] = heard.get(group, 0) + 1
            right += 1
        if len(heard) == size:
            return found[left:right]
        if right > left:
            heard[first.pattern.group] -= 1
            if not heard[first.pattern.group]:
                del heard[first.pattern.group]
    return []


def _possible(compiled: _LanguageLexicon, matches: list[_Match]) -> list[_Match]:
    """Keep the matches of rules with every group heard: only those can be satisfied.

    In a long utterance most matches are single characters of multi-part rules (我, 要, 死);
    weighing exclusions and negations against them would be wasted.
    """
    heard: dict[int, set[int]] = {}
    for match in matches:
        heard.setdefault(match.pattern.rule, set()).add(match.pattern.group)
    return [
        match
        for match in matches
        if len(heard[match.pattern.rule]) == compiled.crisis_rules[match.pattern.rule].size
    ]


def _span(match: _Match) -> Span:
    """Order matches by where they lie."""
    return match.span


def _by_rule(matches: Iterable[_Match]) -> dict[int, dict[int, list[_Match]]]:
    """Sort matches by rule, then by group, each group in text order."""
    grouped: dict[int, dict[int, list[_Match]]] = {}
    for match in matches:
        grouped.setdefault(match.pattern.rule, {}).setdefault(match.pattern.group, []).append(match)
    return grouped


def _chains(
    rule: _Rule, groups: Mapping[int, list[_Match]], gap: int, heard: _Text
) -> Iterator[list[_Match]]:
    """Yield every chain of matches that satisfies a `near` rule.

    A chain holds one match per group, in the rule's order, each starting within `gap` units
    after the one before ends, with no clause break in between.
    """
    if len(groups) != rule.size:
        return
    # Each group's matches lie in text order (as found), so the ones starting within the gap
    # are a slice found by bisection: a long utterance never pairs every match with every other.
    starts = {group: [match.span[0] for match in matches] for group, matches in groups.items()}
    for first in groups[0]:
        yield from _extend([first], groups, starts, rule.size, gap, heard)


def _extend(
    chain: list[_Match],
    groups: Mapping[int, list[_Match]],
    starts: Mapping[int, list[int]],
    size: int,
    gap: int,
    heard: _Text,
) -> Iterator[list[_Match]]:
    """Yield the chains that extend a partial chain with following matches of the next groups."""
    if len(chain) == size:
        yield chain
        return
    end = chain[-1].span[1]
    group = len(chain)
    low = bisect_left(starts[group], end)
    high = bisect_right(starts[group], end + gap)
    for following in groups[group][low:high]:
        if not heard.crosses(end, following.span[0]):
            yield from _extend([*chain, following], groups, starts, size, gap, heard)


def _negated(span: Span, cues: _Cues, gap: int, heard: _Text) -> bool:
    """Tell whether a negation cue ending just before a crisis match, in its clause, denies it.

    The cue must end where the match starts or before, so a phrase that holds the negation
    itself ("don't want to live" after the cue "i do not") is never cancelled by it.
    """
    return _denier(span, cues, gap, heard) is not None


def _denier(span: Span, cues: _Cues, gap: int, heard: _Text) -> _Match | None:
    """Return the negation cue that denies a crisis match, if any (see _negated)."""
    if not cues.by_end:
        return None
    start = span[0]
    # Only cues ending in the gap before the match can deny it; the first found wins.
    near = [
        (order, cue)
        for end in range(max(start - gap, 0), start + 1)
        for order, cue in cues.by_end.get(end, ())
        if not heard.crosses(end, start)
    ]
    return min(near, key=lambda pair: pair[0])[1] if near else None


def _denials(compiled: _LanguageLexicon, heard: _Text) -> list[Span]:
    """Return the spans from a negation cue to the end of each crisis match it denies."""
    matches = _find(compiled.crisis, heard)
    cues = _Cues.of(_find(compiled.negations, heard) if matches else [])
    spans: list[Span] = []
    for match in matches:
        cue = _denier(match.span, cues, compiled.negation_gap, heard)
        if cue is not None:
            spans.append((cue.span[0], match.span[1]))
    return spans


def _unique(labels: Iterable[str]) -> tuple[str, ...]:
    """Return labels once each, in first-seen order."""
    return tuple(dict.fromkeys(labels))


def speech_hints(lexicon: Lexicon, language: str, limit: int = 100) -> str:
    """Comma-separated phrases for Twilio <Gather hints=...>, the most telling first."""
    compiled = lexicon.languages.get(language)
    if compiled is None or limit <= 0:
        return ""
    # Round-robin over crisis and each area (each heaviest first), so every area is heard
    # and crisis words, the ones that must never be misrecognised, lead each round.
    chosen: list[str] = []
    depth = max((len(source) for source in compiled.hints), default=0)
    for position in range(depth):
        for source in compiled.hints:
            if position < len(source) and source[position] not in chosen:
                chosen.append(source[position])
                if len(chosen) == limit:
                    return ", ".join(chosen)
    return ", ".join(chosen)


# ---------------------------------------------------------------------------- parsing


class _Report:
    """Collects problems with paths relative to the configuration root."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: tuple[str | int, ...], message: str) -> None:
        """Record one problem at a path inside the lexicon section."""
        self.problems.append(Problem((_ROOT, *path), message))


def parse_lexicon(
    data: object, *, area_ids: set[str], languages: set[str]
) -> tuple[Lexicon | None, list[Problem]]:
    """Build a Lexicon from the `lexicon:` section of the config, or report every problem."""
    report = _Report()
    if not isinstance(data, Mapping):
        report.add((), "must be a mapping with areas and crisis")
        return None, report.problems
    for key in data:
        if key not in _TOP_KEYS:
            report.add((str(key),), f"unknown key {key!r}; expected one of {sorted(_TOP_KEYS)}")
    for required in ("areas", "crisis"):
        if required not in data:
            report.add((required,), "is missing")
    scoring = _parse_scoring(data.get("scoring"), report)
    synonyms = _parse_synonyms(data.get("synonyms"), languages, report)
    areas = _parse_areas(data.get("areas", {}), area_ids, languages, report)
    crisis = _parse_crisis(data.get("crisis", {}), languages, report)
    if report.problems:
        return None, report.problems
    compiled = {
        language: _compile_language(
            language, areas.get(language, []), crisis[language], synonyms.get(language, {})
        )
        for language in sorted(languages)
    }
    lexicon = Lexicon(
        languages=MappingProxyType(compiled),
        min_score=scoring["min_score"],
        strong_score=scoring["strong_score"],
        min_confidence=scoring["min_confidence"],
    )
    return lexicon, []


def _is_number(value: object) -> bool:
    """Tell whether a YAML value is a finite number (booleans are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_scoring(data: object, report: _Report) -> dict[str, float]:
    """Read the scoring thresholds, falling back to the defaults for those not given."""
    scoring = dict(DEFAULT_SCORING)
    if data is None:
        return scoring
    if not isinstance(data, Mapping):
        report.add(("scoring",), "must be a mapping of thresholds")
        return scoring
    for key, value in data.items():
        path = ("scoring", str(key))
        if key not in DEFAULT_SCORING:
            report.add(path, f"unknown threshold; expected one of {sorted(DEFAULT_SCORING)}")
        elif not _is_number(value) or value <= 0:
            report.add(path, f"must be a positive number, not {value!r}")
        elif key == "min_confidence" and value > 1:
            report.add(path, f"must be between 0 and 1, not {value!r}")
        else:
            scoring[key] = float(value)
    return scoring


def _parse_synonyms(
    data: object, languages: set[str], report: _Report
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Read `synonyms: {LANG: {word: [variant, ...]}}`."""
    synonyms: dict[str, dict[str, tuple[str, ...]]] = {}
    if data is None:
        return synonyms
    if not isinstance(data, Mapping):
        report.add(("synonyms",), "must be a mapping of language to {word: [variants]}")
        return synonyms
    for language, groups in data.items():
        path: tuple[str | int, ...] = ("synonyms", str(language))
        if language not in languages:
            report.add(path, f"unknown language {language!r}; expected one of {sorted(languages)}")
            continue
        if not isinstance(groups, Mapping):
            report.add(path, "must be a mapping of word to a list of variants")
            continue
        parsed: dict[str, tuple[str, ...]] = {}
        for word, variants in groups.items():
            word_path = (*path, str(word))
            if not _phrase_ok(word, language, word_path, report):
                continue
            if not isinstance(variants, list) or not variants:
                report.add(word_path, "must be a non-empty list of variants")
                continue
            good = [
                variant
                for position, variant in enumerate(variants)
                if _phrase_ok(variant, language, (*word_path, position), report)
            ]
            parsed[word] = tuple(good)
        synonyms[language] = parsed
    return synonyms


def _phrase_ok(value: object, language: str, path: tuple[str | int, ...], report: _Report) -> bool:
    """Check that a value is a phrase with something left to match once normalised."""
    if not isinstance(value, str):
        report.add(path, f"must be a phrase (text), not {type(value).__name__}")
        return False
    if _GAP_MARK.search(value):
        report.add(
            path, f"phrase {value!r}: only a crisis phrase or exclusion may hold a gap (...)"
        )
        return False
    if not _units(value, language):
        report.add(path, f"phrase {value!r} is empty once punctuation and spaces are removed")
        return False
    return True


def _parse_areas(
    data: object, area_ids: set[str], languages: set[str], report: _Report
) -> dict[str, list[tuple[str, str, float]]]:
    """Read `areas: {AREA: {LANG: [phrase | {phrase: weight}]}}` into (area, phrase, weight)."""
    by_language: dict[str, list[tuple[str, str, float]]] = {}
    if not isinstance(data, Mapping):
        report.add(("areas",), "must be a mapping of area id to phrases by language")
        return by_language
    for area, per_language in data.items():
        path: tuple[str | int, ...] = ("areas", str(area))
        if area not in area_ids:
            report.add(path, f"unknown area {area!r}; expected one of {sorted(area_ids)}")
        if not isinstance(per_language, Mapping):
            report.add(path, "must be a mapping of language to a list of phrases")
            continue
        for language, entries in per_language.items():
            entries_path = (*path, str(language))
            if language not in languages:
                report.add(
                    entries_path,
                    f"unknown language {language!r}; expected one of {sorted(languages)}",
                )
                continue
            for phrase, weight in _parse_weighted(entries, language, entries_path, report):
                by_language.setdefault(language, []).append((str(area), phrase, weight))
    return by_language


def _parse_weighted(
    entries: object, language: str, path: tuple[str | int, ...], report: _Report
) -> list[tuple[str, float]]:
    """Read a list whose items are `phrase` (weight 1) or `{phrase: weight}`."""
    if not isinstance(entries, list):
        report.add(path, "must be a list of phrases")
        return []
    parsed: list[tuple[str, float]] = []
    seen: set[Units] = set()
    for position, entry in enumerate(entries):
        entry_path = (*path, position)
        if isinstance(entry, Mapping):
            if len(entry) != 1:
                report.add(entry_path, "must be a phrase or a single {phrase: weight}")
                continue
            ((phrase, weight),) = entry.items()
        else:
            phrase, weight = entry, 1.0
        if not _phrase_ok(phrase, language, entry_path, report):
            continue
        if not _is_number(weight) or weight <= 0:
            report.add(
                entry_path, f"weight of {phrase!r} must be a positive number, not {weight!r}"
            )
            continue
        units = _units(phrase, language)
        if units in seen:
            report.add(entry_path, f"phrase {phrase!r} is listed twice")
            continue
        seen.add(units)
        parsed.append((phrase, float(weight)))
    return parsed


@dataclass(frozen=True)
class _RuleSpec:
    """A crisis rule or exclusion as written: groups of alternative phrases, in order if near."""

    near: bool
    groups: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class _CrisisSpec:
    """One language's crisis rules, exclusions, negation cues and gaps."""

    rules: tuple[_RuleSpec, ...]
    exclusions: tuple[_RuleSpec, ...]
    negations: tuple[str, ...]
    gap: int
    negation_gap: int
    reach: int = DEFAULT_REACH


def _parse_crisis(data: object, languages: set[str], report: _Report) -> dict[str, _CrisisSpec]:
    """Read `crisis: {LANG: {phrases, exclusions, negations, gap, negation_gap, reach}}`."""
    specs: dict[str, _CrisisSpec] = {}
    if not isinstance(data, Mapping):
        report.add(("crisis",), "must be a mapping of language to phrases and exclusions")
        return specs
    for language, section in data.items():
        path: tuple[str | int, ...] = ("crisis", str(language))
        if language not in languages:
            report.add(path, f"unknown language {language!r}; expected one of {sorted(languages)}")
            continue
        if not isinstance(section, Mapping):
            report.add(path, "must be a mapping with phrases and exclusions")
            continue
        for key in section:
            if key not in _CRISIS_KEYS:
                report.add(
                    (*path, str(key)), f"unknown key; expected one of {sorted(_CRISIS_KEYS)}"
                )
        phrases = section.get("phrases")
        if not isinstance(phrases, list) or not phrases:
            report.add((*path, "phrases"), "must be a non-empty list of crisis phrases")
            phrases = []
        rules = _parse_rules(phrases, language, (*path, "phrases"), report, allow_all=True)
        exclusions = _parse_rules(
            section.get("exclusions", []), language, (*path, "exclusions"), report, allow_all=False
        )
        negations = _parse_plain_list(
            section.get("negations", []), language, (*path, "negations"), report
        )
        gap = _parse_gap(section.get("gap", DEFAULT_GAP), (*path, "gap"), report)
        negation_gap = _parse_gap(
            section.get("negation_gap", DEFAULT_NEGATION_GAP), (*path, "negation_gap"), report
        )
        reach = _parse_reach(section.get("reach", DEFAULT_REACH), (*path, "reach"), report)
        specs[language] = _CrisisSpec(
            tuple(rules), tuple(exclusions), tuple(negations), gap, negation_gap, reach
        )
    # A language the hotline answers in without crisis phrases would silently miss crises.
    for language in sorted(languages - set(specs)):
        if isinstance(data, Mapping) and language not in data:
            report.add(("crisis", language), "is missing: every language needs crisis phrases")
    return specs


def _parse_gap(value: object, path: tuple[str | int, ...], report: _Report) -> int:
    """Read a gap: how many units may lie between the parts of a phrase (0 = none)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        report.add(path, f"must be a whole number of units, 0 or more, not {value!r}")
        return 0
    return value


def _parse_reach(value: object, path: tuple[str | int, ...], report: _Report) -> int:
    """Read a reach: within how many units an `all` rule must hear every term (1 or more)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        report.add(path, f"must be a whole number of units, 1 or more, not {value!r}")
        return DEFAULT_REACH
    return value


def _parse_rules(
    entries: object,
    language: str,
    path: tuple[str | int, ...],
    report: _Report,
    *,
    allow_all: bool,
) -> list[_RuleSpec]:
    """Read a list whose items are a phrase (parts may be joined by ...) or a `near` rule.

    Crisis phrases may also be `all` rules; exclusions may not (they cancel a span of text).
    """
    if not isinstance(entries, list):
        report.add(path, "must be a list of phrases")
        return []
    rules: list[_RuleSpec] = []
    for position, entry in enumerate(entries):
        entry_path = (*path, position)
        if isinstance(entry, Mapping):
            rule = _parse_grouped_rule(entry, language, entry_path, report, allow_all=allow_all)
        else:
            rule = _parse_separable(entry, language, entry_path, report)
        if rule is not None:
            rules.append(rule)
    return rules


def _parse_separable(
    entry: object, language: str, path: tuple[str | int, ...], report: _Report
) -> _RuleSpec | None:
    """Read a phrase whose parts may be joined by "..." (each part within the gap of the last)."""
    if not isinstance(entry, str) or not _GAP_MARK.search(entry):
        return _RuleSpec(True, ((entry,),)) if _phrase_ok(entry, language, path, report) else None
    parts = _GAP_MARK.split(entry.strip())
    if len(parts) < 2 or not all(_units(part, language) for part in parts):
        report.add(path, f"phrase {entry!r} needs words on both sides of each ...")
        return None
    return _RuleSpec(True, tuple((part,) for part in parts))


def _parse_grouped_rule(
    entry: Mapping[object, object],
    language: str,
    path: tuple[str | int, ...],
    report: _Report,
    *,
    allow_all: bool,
) -> _RuleSpec | None:
    """Read `{all: [term, ...]}` (every term anywhere) or `{near: [term, ...]}` (in order, close).

    A term is a phrase or a list of alternative phrases.
    """
    kinds = ("all", "near") if allow_all else ("near",)
    kind, terms = next(iter(entry.items())) if len(entry) == 1 else (None, None)
    if kind not in kinds or not isinstance(terms, list) or len(terms) < 2:
        shapes = " or ".join(f"{{{name}: [term, term, ...]}}" for name in kinds)
        report.add(path, f"must be a phrase or {shapes} with at least two terms")
        return None
    groups: list[tuple[str, ...]] = []
    for position, term in enumerate(terms):
        term_path = (*path, str(kind), position)
        if not isinstance(term, list):
            if _phrase_ok(term, language, term_path, report):
                groups.append((term,))
            continue
        if not term:
            report.add(term_path, "must be a phrase or a non-empty list of phrases")
            continue
        checked = [_phrase_ok(p, language, (*term_path, i), report) for i, p in enumerate(term)]
        if all(checked):
            groups.append(tuple(term))
    if len(groups) != len(terms):
        return None
    return _RuleSpec(kind == "near", tuple(groups))


def _parse_plain_list(
    entries: object, language: str, path: tuple[str | int, ...], report: _Report
) -> list[str]:
    """Read a list of phrases."""
    if not isinstance(entries, list):
        report.add(path, "must be a list of phrases")
        return []
    return [
        phrase
        for position, phrase in enumerate(entries)
        if _phrase_ok(phrase, language, (*path, position), report)
    ]


# ---------------------------------------------------------------------------- compiling


def _expand(units: Units, synonyms: Mapping[str, tuple[Units, ...]]) -> set[Units]:
    """Return a phrase's forms with each synonym's variants put in place of the word."""
    forms = {units}
    # Every unit of every form so far: most phrases hold none of the synonyms, and those are
    # passed over without a replacement being tried.
    present = set(units)
    for word, variants in synonyms.items():
        needle = tuple(word.split(" "))
        if needle[0] not in present:
            continue
        for form in list(forms):
            for variant in variants:
                replaced = _replace(form, needle, variant)
                if replaced is not None:
                    forms.add(replaced)
                    present.update(replaced)
    return forms


def _replace(units: Units, needle: Units, new: Units) -> Units | None:
    """Replace every occurrence of a unit run in a phrase, or return None when absent."""
    size = len(needle)
    out: list[str] = []
    position = 0
    hit = False
    while position < len(units):
        if units[position : position + size] == needle:
            out.extend(new)
            position += size
            hit = True
        else:
            out.append(units[position])
            position += 1
    return tuple(out) if hit else None


def _synonym_units(
    synonyms: Mapping[str, tuple[str, ...]], language: str
) -> dict[str, tuple[Units, ...]]:
    """Normalise synonyms to units; a multi-unit word is kept as a space-joined key."""
    return {
        " ".join(_units(word, language)): tuple(_units(variant, language) for variant in variants)
        for word, variants in synonyms.items()
    }


def _compile_language(
    language: str,
    areas: list[tuple[str, str, float]],
    crisis: _CrisisSpec,
    synonyms: Mapping[str, tuple[str, ...]],
) -> _LanguageLexicon:
    """Compile one language's phrases into indexes, expanding synonyms once, here."""
    table = _synonym_units(synonyms, language)

    def forms(phrase: str) -> set[Units]:
        return _expand(_units(phrase, language), table)

    area_patterns = [
        _Pattern(phrase, units, area=area, weight=weight)
        for area, phrase, weight in areas
        for units in forms(phrase)
    ]

    def rule_patterns(rules: tuple[_RuleSpec, ...]) -> list[_Pattern]:
        return [
            _Pattern(phrase, units, rule=rule, group=group)
            for rule, spec in enumerate(rules)
            for group, alternatives in enumerate(spec.groups)
            for phrase in alternatives
            for units in forms(phrase)
        ]

    def compiled_rules(rules: tuple[_RuleSpec, ...]) -> tuple[_Rule, ...]:
        return tuple(_Rule(spec.near, len(spec.groups)) for spec in rules)

    return _LanguageLexicon(
        language=language,
        areas=_build_index(area_patterns),
        crisis=_build_index(rule_patterns(crisis.rules)),
        exclusions=_build_index(rule_patterns(crisis.exclusions)),
        negations=_build_index(
            _Pattern(phrase, units) for phrase in crisis.negations for units in forms(phrase)
        ),
        crisis_rules=compiled_rules(crisis.rules),
        exclusion_rules=compiled_rules(crisis.exclusions),
        gap=crisis.gap,
        negation_gap=crisis.negation_gap,
        hints=_hint_sources(areas, crisis),
        reach=crisis.reach,
    )


def _hint_sources(
    areas: list[tuple[str, str, float]], crisis: _CrisisSpec
) -> tuple[tuple[str, ...], ...]:
    """Return hint phrases per source: crisis first, then each area heaviest first."""
    crisis_phrases = tuple(
        _unique(rule.groups[0][0] for rule in crisis.rules if len(rule.groups) == 1)
    )
    by_area: dict[str, list[tuple[str, float]]] = {}
    for area, phrase, weight in areas:
        by_area.setdefault(area, []).append((phrase, weight))
    ordered = [
        tuple(phrase for phrase, _ in sorted(entries, key=lambda item: -item[1]))
        for _, entries in sorted(by_area.items())
    ]
    sources = [crisis_phrases, *ordered]
    return tuple(tuple(p.replace(",", " ").strip() for p in source) for source in sources)
