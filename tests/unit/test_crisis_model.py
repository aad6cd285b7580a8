"""Tests of the learned crisis scorer: its features, its weights file, its training, and the
classifier that hears it alongside the lexicon (crisis = lexicon OR model, vetoes applied).

Only the training data (crisis_tuning.yaml, utterances.yaml) is used here, never a held-out
file: `python -m tools.crisis_model_train evaluate FILE` measures those.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml

from hotline.settings import (
    DEFAULT_CONFIG,
    StartupError,
    read_crisis_model,
    read_hotline_config,
)
from routing.classifier import (
    MODEL_WINDOW,
    Classification,
    Lexicon,
    classify,
    crisis_features,
    parse_lexicon,
    with_crisis_model,
)
from routing.crisis_model import (
    CrisisModel,
    CrisisModelError,
    extract_features,
    model_from_data,
    model_to_data,
)
from tools import crisis_model_train as training

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
WEIGHTS = ROOT / "hotline" / "crisis_model.json"
AREA_IDS = {"family", "labor", "contract", "traffic", "criminal", "corporate", "general"}
LANGUAGES = {"zh", "en"}
HARD_KINDS = {"figure", "past", "negated", "lawful"}


@functools.cache
def shipped_data() -> dict:
    return json.loads(WEIGHTS.read_text(encoding="utf-8"))


@functools.cache
def shipped_model() -> CrisisModel:
    return model_from_data(shipped_data(), str(WEIGHTS))


@functools.cache
def plain_lexicon() -> Lexicon:
    data = yaml.safe_load((ROOT / "hotline" / "hotline.yaml").read_text(encoding="utf-8"))
    lexicon, problems = parse_lexicon(data["lexicon"], area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [], "\n".join(str(problem) for problem in problems)
    assert lexicon is not None
    return lexicon


@functools.cache
def combined() -> Lexicon:
    return with_crisis_model(plain_lexicon(), shipped_model())


@functools.cache
def load(name: str) -> tuple[dict, ...]:
    assert "heldout" not in name
    return tuple(yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["utterances"])


# ---------------------------------------------------------------------------- features


def test_mandarin_features_are_character_ngrams_within_a_clause():
    features = extract_features("zh", [("累", "死", "了"), ("跳",)], [])
    assert {"l:zh", "c:累", "c:累死", "c:累死了", "c:跳"} <= features
    assert "c:了跳" not in features  # a clause break is never bridged
    assert not any(feature.startswith("w:") for feature in features)


def test_english_features_are_words_and_word_pairs():
    features = extract_features("en", [], [("i", "will", "jump"), ("ok",)])
    assert features == {
        "l:en",
        "w:i",
        "w:will",
        "w:jump",
        "w:i will",
        "w:will jump",
        "w:ok",
    }


def test_the_classifier_normalises_text_for_the_model_as_it_does_for_phrases():
    model = shipped_model()
    wide = crisis_features("我要跳楼！！Ｉ　ＷＡＮＴ　ｔｏ　ｄｉｅ", plain_lexicon(), model)
    narrow = crisis_features("我要跳楼! I want to die", plain_lexicon(), model)
    assert wide == narrow
    assert {"c:跳楼", "w:want to", "w:die"} <= narrow
    english = crisis_features("I don't want to live", plain_lexicon(), model)
    assert "w:do not" in english  # contractions are expanded, as for phrases
    assert not any(feature.startswith("c:") for feature in english)


# ---------------------------------------------------------------------------- weights file


def test_the_shipped_weights_are_compact_and_well_formed():
    assert WEIGHTS.stat().st_size < 1_000_000
    model = shipped_model()
    assert 0.5 <= model.threshold < 1.0
    assert model.kind in ("logistic", "naive_bayes")
    assert len(model.weights) > 1000
    data = shipped_data()
    assert data["training"]["files"] == [
        "tests/data/crisis_tuning.yaml",
        "tests/data/utterances.yaml",
    ]
    assert not any("heldout" in name for name in data["training"]["files"])


def test_the_weights_name_the_training_data_they_were_fitted_on():
    # Editing a training file means retraining: python -m tools.crisis_model_train train
    files = [ROOT / name for name in shipped_data()["training"]["files"]]
    assert training.data_digest(files) == shipped_data()["training"]["sha256"]


def test_deterministic_training_gives_the_shipped_weights():
    refitted = training.refit(shipped_data(), plain_lexicon())
    shipped = shipped_model()
    assert refitted.bias == shipped.bias
    assert dict(refitted.weights) == dict(shipped.weights)


def test_folds_and_fits_are_deterministic():
    items = [item for item in load("crisis_tuning.yaml")][:300]
    examples = training.featurise(items, plain_lexicon(), masks=False)
    assert training.folds(examples) == training.folds(list(examples))
    for settings in (
        training.Settings("naive_bayes", alpha=0.1),
        training.Settings("logistic", epochs=20),
    ):
        assert training.fit(examples, settings) == training.fit(examples, settings)


def test_a_model_survives_a_round_trip_through_its_data():
    model = shipped_model()
    again = model_from_data(json.loads(json.dumps(model_to_data(model))))
    assert again == model


def good_data(**changes: object) -> dict:
    data = {
        "format": "hotline-crisis-model",
        "version": 1,
        "kind": "naive_bayes",
        "threshold": 0.9,
        "bias": -1.0,
        "weights": {"c:死": 2.0, "w:kill": 1.5, "l:zh": 0.1},
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a JSON object, not list"),
        (good_data(format="other"), "format must be 'hotline-crisis-model'"),
        (good_data(version=2), "version 2 is not supported"),
        (good_data(kind="forest"), "kind must be one of"),
        (good_data(threshold=1.5), "threshold must lie strictly between 0 and 1"),
        (good_data(threshold="high"), "threshold must be a finite number"),
        (good_data(threshold=None), "threshold must be a finite number, not None"),
        (good_data(bias=math.nan), "bias must be a finite number"),
        (good_data(weights={}), "weights must be a non-empty object"),
        (good_data(weights=[1, 2]), "weights must be a non-empty object"),
        (good_data(weights={"死": 1.0}), "feature '死' must start with"),
        (good_data(weights={"c:死": "2"}), "weight of 'c:死' must be a finite number"),
        (good_data(weights={"c:死": True}), "weight of 'c:死' must be a finite number"),
        (good_data(char_ngrams=[3, 1]), "char_ngrams must be [low, high]"),
        (good_data(veto_exclusions="yes"), "veto_exclusions must be true or false"),
    ],
)
def test_a_malformed_weights_file_gives_a_clear_error(data, message):
    with pytest.raises(CrisisModelError, match="^model.json: ") as raised:
        model_from_data(data, "model.json")
    assert message in str(raised.value)


def test_startup_names_a_bad_or_missing_model_file(tmp_path: Path):
    config = tmp_path / "hotline.yaml"
    weights = tmp_path / "crisis_model.json"
    weights.write_text("{not json", encoding="utf-8")
    with pytest.raises(StartupError, match="is not valid JSON"):
        read_crisis_model(config, environ={})
    weights.write_text(json.dumps(good_data(kind="forest")), encoding="utf-8")
    with pytest.raises(StartupError, match="kind must be one of"):
        read_crisis_model(config, environ={})
    named = {"HOTLINE_CRISIS_MODEL": str(tmp_path / "elsewhere.json")}
    with pytest.raises(StartupError, match="cannot read the crisis model .*elsewhere.json"):
        read_crisis_model(config, environ=named)
    # "off" turns the model off; with no file beside the config there is none either.
    assert read_crisis_model(config, environ={"HOTLINE_CRISIS_MODEL": "off"}) is None
    weights.unlink()
    assert read_crisis_model(config, environ={}) is None
    weights.write_text(json.dumps(good_data()), encoding="utf-8")
    assert read_crisis_model(config, environ={}) == model_from_data(good_data())


def test_the_shipped_config_is_read_with_the_shipped_model(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("HOTLINE_CRISIS_MODEL", raising=False)
    config = read_hotline_config(DEFAULT_CONFIG)
    assert config.lexicon.crisis_model == shipped_model()


# ---------------------------------------------------------------------------- the combination


def test_the_score_is_reported_only_with_a_model():
    assert classify("我不想活了", plain_lexicon()).crisis_score is None
    result = classify("我不想活了", combined())
    assert result.crisis is True
    assert result.crisis_score is not None and result.crisis_score > 0.9
    calm = classify("老板拖欠我三个月工资", combined())
    assert calm.crisis is False and calm.crisis_score is not None and calm.crisis_score < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "累死了",
        "气死我了",
        "笑死我了",
        "气死了",
        "烦死了，押金还不退",
        "热死了",
        "想死你们了",
        "那是个杀猪盘",
        "商场跳楼价甩卖",
        "我从来没想过自杀，我就想要回我的钱",
        "我姐姐去年跳楼自杀了，她欠的网贷我们要还吗",
        "父亲工伤去世了，赔偿怎么算",
        "my boss is killing me",
        "this deadline is killing me",
        "I'm dying to know if I can get my deposit back",
        "it would be career suicide",
        "my phone died",
        "I don't want to die, I just want my money back",
        "my husband committed suicide last year and the insurer refuses to pay",
    ],
)
def test_figures_of_speech_and_hard_negatives_stay_calm(text):
    result = classify(text, combined())
    assert result.crisis is False, (result.matched, result.crisis_score)


@pytest.mark.parametrize(
    "text",
    [
        "我不想活了",
        "我要去跳楼",
        "我把安眠药全吃了",
        "累死了，我不想活了",
        "笑死了，我想死",
        "我现在站在我们小区的楼顶",
        "他正在打我，我躲在厕所里",
        "I'm going to kill myself",
        "I took all my pills",
        "my boss is killing me and I want to kill myself",
        "he's breaking down the door right now",
    ],
)
def test_strong_crisis_sentences_stay_crises(text):
    assert classify(text, combined()).crisis is True


def test_a_crisis_only_the_model_hears_reports_the_clause_it_heard():
    text = "我把刀放在枕头下面了，今晚用"
    assert classify(text, plain_lexicon()).crisis is False
    result = classify(text, combined())
    assert result.crisis is True
    assert result.crisis_score is not None
    assert result.crisis_score >= shipped_model().threshold
    # The clause is the evidence the crisis agent hears in the whisper.
    assert result.matched == ("我把刀放在枕头下面了",)


def test_the_model_hears_the_first_window_of_a_long_utterance():
    # Learned on sentences: over a monologue it hears the beginning, as when speech was cut
    # there; the crisis rules hear the rest.
    start = "我把刀放在枕头下面了，今晚用。"
    talk = "老板拖欠了我四个月的工资，加班费一直没有给，社保也没有交。"
    text = start + talk * 200
    window = text[:MODEL_WINDOW]
    assert classify(text, combined()).crisis_score == classify(window, combined()).crisis_score
    # What `hotline classify` shows of the model is what it heard.
    assert crisis_features(text, plain_lexicon(), shipped_model()) == crisis_features(
        window, plain_lexicon(), shipped_model()
    )
    assert classify(text + "我不想活了", combined()).crisis is True


# ---------------------------------------------------------------------------- vetoes

SMALL = {
    "areas": {"labor": {"zh": [{"工资": 3}], "en": [{"wage": 3}]}},
    "crisis": {
        "zh": {
            "phrases": ["自杀"],
            "exclusions": ["累死了"],
            "negations": ["没想过"],
        },
        "en": {"phrases": ["kill myself"], "exclusions": ["is killing me"]},
    },
}


def small_with(**model: object) -> Lexicon:
    lexicon, problems = parse_lexicon(SMALL, area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [] and lexicon is not None
    weights = {"c:死": 6.0, "c:自杀": 6.0, "w:killing": 6.0}
    fields = {"weights": MappingProxyType(weights), "bias": -3.0, "threshold": 0.5, **model}
    return with_crisis_model(lexicon, CrisisModel(**fields))  # type: ignore[arg-type]


def test_an_exclusion_covering_the_models_evidence_vetoes_it():
    vetoing = small_with()
    assert classify("累死了", vetoing).crisis is False
    assert classify("my boss is killing me", vetoing).crisis is False
    # Evidence outside the exclusion still counts.
    assert classify("累死了，他要打死我", vetoing).crisis is True
    assert classify("累死了，他要打死我", vetoing).matched == ("他要打死我",)
    # Without the veto the model alone would have called the figure of speech a crisis.
    trusting = small_with(veto_exclusions=False)
    assert classify("累死了", trusting).crisis is True
    assert classify("my boss is killing me", trusting).crisis is True


def test_a_negation_with_the_phrase_it_denies_vetoes_the_model():
    assert classify("我没想过自杀", small_with()).crisis is False
    assert classify("我没想过自杀", small_with(veto_negations=False)).crisis is True
    assert classify("我没想过自杀", small_with(veto_negations=False)).matched == ("我没想过自杀",)


def test_the_score_is_the_models_probability_before_vetoes():
    result = classify("累死了", small_with())
    assert result.crisis is False
    assert result.crisis_score == pytest.approx(1 / (1 + math.exp(-3.0)), abs=1e-4)


# ---------------------------------------------------------------------------- floors


def measure(items: tuple[dict, ...], lexicon: Lexicon) -> dict[str, int]:
    tally = dict.fromkeys(("crises", "caught", "calm", "alarms", "hard", "hard_alarms", "area"), 0)
    for item in items:
        result = classify(item["text"], lexicon)
        expected = item.get("area")
        tally["area"] += result.area == expected or (expected == "general" and result.area is None)
        if item["crisis"]:
            tally["crises"] += 1
            tally["caught"] += result.crisis
        else:
            tally["calm"] += 1
            hard = item.get("kind") in HARD_KINDS
            tally["hard"] += hard
            tally["alarms"] += result.crisis
            tally["hard_alarms"] += result.crisis and hard
    return tally


def test_the_combination_keeps_the_tuning_floors():
    # The floors of test_classifier_crisis.test_tuning_floors, now with the model heard too.
    tally = measure(load("crisis_tuning.yaml"), combined())
    print("tuning, lexicon or model:", tally)
    assert tally["caught"] / tally["crises"] >= 0.986
    assert tally["hard_alarms"] / tally["hard"] <= 0.022
    assert tally["alarms"] / tally["calm"] <= 0.017


def test_the_combination_keeps_the_original_sets_figures():
    tally = measure(load("utterances.yaml"), combined())
    print("original, lexicon or model:", tally)
    assert tally["area"] >= 484
    assert tally["caught"] == tally["crises"]
    assert tally["alarms"] == 0


def test_the_model_never_takes_away_a_lexicon_crisis():
    for item in load("crisis_tuning.yaml") + load("utterances.yaml"):
        alone = classify(item["text"], plain_lexicon())
        both = classify(item["text"], combined())
        assert both.crisis >= alone.crisis, item["text"]
        assert both.area == alone.area and both.confidence == alone.confidence
        assert both.matched[: len(alone.matched)] == alone.matched


def test_without_a_model_the_result_is_the_lexicons_alone():
    result = classify("老板拖欠工资，我不想活了", plain_lexicon())
    assert result == Classification(
        result.area, True, result.confidence, "zh", result.matched, crisis_score=None
    )


# ---------------------------------------------------------------------------- threshold choice


def scored(raw: float, *, crisis: bool, kind: str, lexicon: bool = False) -> training.Scored:
    example = training.Example(
        text=f"{raw}-{crisis}-{kind}",
        language="en",
        crisis=crisis,
        kind=kind,
        lexicon_crisis=lexicon,
        features=frozenset(),
        masked=MappingProxyType({}),
    )
    return training.Scored(example, raw, MappingProxyType({"none": raw}))


def test_the_threshold_keeps_hard_false_alarms_under_the_limit_with_the_best_recall():
    items = [scored(round(0.95 - i / 100, 2), crisis=True, kind="self") for i in range(10)]
    items += [scored(0.90, crisis=False, kind="figure")]  # among the crises' scores
    items += [scored(round(0.50 - i / 100, 2), crisis=False, kind="past") for i in range(30)]
    # One hard false alarm in 31 is over 3%: the threshold must stay above 0.90.
    threshold = training.choose_threshold(items, "none", combined=False)
    assert 0.90 < threshold < 0.91
    # With a 5% limit the figure may alarm, and every crisis is caught.
    threshold = training.choose_threshold(items, "none", combined=False, limit=0.05)
    assert 0.50 < threshold <= 0.86
    # The lexicon's false alarms count against the combination's budget.
    spent = [*items, scored(0.0, crisis=False, kind="negated", lexicon=True)]
    assert training.choose_threshold(spent, "none", combined=True) > 0.90
    # When they exceed it, the model may never decide alone.
    spent.append(scored(0.0, crisis=False, kind="negated", lexicon=True))
    assert training.choose_threshold(spent, "none", combined=True) == math.inf


# ------------------------------------------------------------------ held-out measurement

# The second held-out set: written by another author, in the style of speech recognition,
# without sight of the lexicon or the model. Editing it voids its figures.
# Its `topic: threats` block was added later, written apart from the rules for threats.
HELDOUT_ASR_SHA256 = "8506e6529cfb2a9dc3e74dedfb6ac0233966cf6392a9c9f0801b6f515fd80756"


def measure_heldout(
    name: str, topic: str | None = None, lexicon: Lexicon | None = None
) -> tuple[int, int, int, int, list[str]]:
    """Crises caught and in all, false alarms and calm utterances in all, misses, over a file's
    items outside any topic block, or its block of one topic."""
    items = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["utterances"]
    items = [item for item in items if item.get("topic") == topic]
    caught = crises = alarms = calm = 0
    missed = []
    for item in items:
        verdict = classify(item["text"], lexicon or combined()).crisis
        if item["crisis"]:
            crises += 1
            caught += verdict
            if not verdict:
                missed.append(item["text"])
        else:
            calm += 1
            alarms += verdict
    return caught, crises, alarms, calm, missed


def test_the_asr_heldout_set_is_the_one_the_floors_were_measured_on():
    digest = hashlib.sha256((DATA / "crisis_heldout_asr.yaml").read_bytes()).hexdigest()
    assert digest == HELDOUT_ASR_SHA256


@pytest.mark.parametrize(
    ("name", "floor", "lexicon_alone", "most_alarms"),
    [
        # Measured once each, after training. The lexicon alone caught 97/130 and 130/170;
        # the model added no false alarm on either set.
        ("crisis_heldout.yaml", 107, 97, 13),
        ("crisis_heldout_asr.yaml", 143, 130, 13),
    ],
)
def test_heldout_floors_with_the_model(name, floor, lexicon_alone, most_alarms):
    caught, crises, alarms, calm, missed = measure_heldout(name)
    print(f"{name}: caught {caught}/{crises}, false alarms {alarms}/{calm}")
    assert caught >= floor > lexicon_alone, missed
    assert alarms <= most_alarms


@pytest.mark.parametrize(
    ("name", "floor", "lexicon_alone", "crises", "most_alarms", "calm"),
    [
        # The `topic: threats` blocks, written before the rules for threats against others.
        # Before them: the lexicon caught 14/50 and 14/40, with the model 22/50 and 23/40;
        # false alarms on the blocks' hard negatives 5/61 and 5/31 with the model (the rules
        # alone 3/61 and 4/31, unchanged).
        ("crisis_heldout.yaml", 39, 31, 50, 7, 61),
        ("crisis_heldout_asr.yaml", 32, 23, 40, 6, 31),
    ],
)
def test_threat_heldout_floors_with_the_model(
    name, floor, lexicon_alone, crises, most_alarms, calm
):
    caught, total, alarms, in_all, missed = measure_heldout(name, "threats")
    print(f"{name} threats: caught {caught}/{total}, false alarms {alarms}/{in_all}")
    assert (total, in_all) == (crises, calm)
    assert caught >= floor, missed
    assert alarms <= most_alarms
    assert measure_heldout(name, "threats", plain_lexicon())[0] >= lexicon_alone


@pytest.mark.parametrize(
    ("name", "others", "self_harm"),
    [
        # Over whole files, threats against others apart from self-harm, with the model.
        # Before the rules for threats and this training: 36/66 and 50/62; 47/68 and 61/70.
        ("crisis_heldout.yaml", ("others", 54, 66), ("self", 52, 62)),
        ("crisis_heldout_asr.yaml", ("harm_to_others", 57, 68), ("self_harm", 63, 70)),
    ],
)
def test_heldout_recall_by_kind_with_the_model(name, others, self_harm):
    items = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["utterances"]
    for kind, floor, total in (others, self_harm):
        crises = [item for item in items if item["crisis"] and item["kind"] == kind]
        caught = sum(classify(item["text"], combined()).crisis for item in crises)
        print(f"{name} {kind}: caught {caught}/{len(crises)}")
        assert len(crises) == total and caught >= floor
