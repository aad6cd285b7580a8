"""Tests of the caller classifier: lexicon checking, matching, crisis rules and accuracy."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import pytest
import yaml

from routing.classifier import (
    Classification,
    Lexicon,
    classify,
    detect_language,
    parse_lexicon,
    speech_hints,
)

ROOT = Path(__file__).resolve().parents[2]
AREA_IDS = {"family", "labor", "contract", "traffic", "criminal", "corporate", "general"}
LANGUAGES = {"zh", "en"}

# A small lexicon whose behaviour the tests can reason about exactly.
SMALL = {
    "scoring": {"min_score": 2, "strong_score": 3, "min_confidence": 0.2},
    "synonyms": {
        "zh": {"工资": ["工钱"]},
        "en": {"wage": ["salary"], "take": ["took"], "get": ["got"]},
    },
    "areas": {
        "labor": {
            "zh": [{"拖欠工资": 3}, {"工资": 2}, {"老板": 1}],
            "en": [{"wage": 3}, {"get fire": 3}, {"boss": 1}],
        },
        "contract": {"zh": [{"借条": 3}, {"押金": 3}], "en": [{"landlord": 3}, {"deposit": 2}]},
        "family": {"zh": [{"离婚": 3}], "en": [{"divorce": 3}]},
        "general": {"zh": [{"律师": 1}], "en": [{"lawyer": 1}]},
    },
    "crisis": {
        "zh": {
            "phrases": ["不想活", "想死", {"all": ["安眠药", ["全吃", "吃了"]]}],
            "exclusions": ["想死你了", "累死了"],
        },
        "en": {
            "phrases": ["kill myself", "kill me", {"all": [["pill"], ["take all"]]}],
            "exclusions": ["is killing me"],
        },
    },
}


def small_lexicon() -> Lexicon:
    lexicon, problems = parse_lexicon(SMALL, area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == []
    assert lexicon is not None
    return lexicon


@pytest.fixture(scope="module")
def small() -> Lexicon:
    return small_lexicon()


@pytest.fixture(scope="module")
def hotline() -> Lexicon:
    data = yaml.safe_load((ROOT / "hotline" / "hotline.yaml").read_text(encoding="utf-8"))
    lexicon, problems = parse_lexicon(data["lexicon"], area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [], "\n".join(str(problem) for problem in problems)
    assert lexicon is not None
    return lexicon


# ---------------------------------------------------------------------------- parsing


def test_every_problem_is_reported_with_its_path_at_once():
    bad = {
        "scoring": {"min_score": -1, "bogus": 1},
        "synonyms": {"fr": {"x": ["y"]}},
        "areas": {
            "labor": {
                "zh": ["工资", "", {"欠薪": 0}, {"讨薪": "high"}, 42, {"a": 1, "b": 2}, "工资"]
                + [{"加班": True}, "，，"],
                "fr": ["salaire"],
            },
            "astrology": {"en": ["stars"]},
            "family": "divorce",
        },
        "crisis": {
            "zh": {"phrases": ["不想活", {"all": ["安眠药"]}, ""], "exclusions": "累死了"},
        },
        "extra": 1,
    }
    lexicon, problems = parse_lexicon(bad, area_ids=AREA_IDS, languages=LANGUAGES)
    assert lexicon is None
    paths = {problem.path for problem in problems}
    labor_zh = ("lexicon", "areas", "labor", "zh")
    assert paths == {
        ("lexicon", "extra"),
        ("lexicon", "scoring", "min_score"),
        ("lexicon", "scoring", "bogus"),
        ("lexicon", "synonyms", "fr"),
        (*labor_zh, 1),  # empty phrase
        (*labor_zh, 2),  # weight zero
        (*labor_zh, 3),  # weight not a number
        (*labor_zh, 4),  # not text
        (*labor_zh, 5),  # two phrases in one entry
        (*labor_zh, 6),  # listed twice
        (*labor_zh, 7),  # a boolean is not a weight
        (*labor_zh, 8),  # only punctuation
        ("lexicon", "areas", "labor", "fr"),
        ("lexicon", "areas", "astrology"),
        ("lexicon", "areas", "family"),
        ("lexicon", "crisis", "zh", "phrases", 1),
        ("lexicon", "crisis", "zh", "phrases", 2),
        ("lexicon", "crisis", "zh", "exclusions"),
        ("lexicon", "crisis", "en"),
    }
    assert all(problem.message for problem in problems)


def test_problem_messages_name_the_offending_value():
    bad = {"areas": {"labor": {"zh": [{"欠薪": -2}]}}, "crisis": SMALL["crisis"]}
    _, problems = parse_lexicon(bad, area_ids=AREA_IDS, languages=LANGUAGES)
    assert [str(problem) for problem in problems] == [
        "lexicon.areas.labor.zh.0: weight of '欠薪' must be a positive number, not -2"
    ]


@pytest.mark.parametrize("data", [None, [], "lexicon", 3])
def test_a_lexicon_that_is_not_a_mapping_is_one_problem(data):
    lexicon, problems = parse_lexicon(data, area_ids=AREA_IDS, languages=LANGUAGES)
    assert lexicon is None
    assert [problem.path for problem in problems] == [("lexicon",)]


def test_missing_sections_are_reported():
    _, problems = parse_lexicon({}, area_ids=AREA_IDS, languages=LANGUAGES)
    paths = {problem.path for problem in problems}
    assert {("lexicon", "areas"), ("lexicon", "crisis")} <= paths


def test_crisis_all_rule_terms_are_checked_one_by_one():
    data = {
        "areas": {},
        "crisis": {
            "zh": {"phrases": [{"all": ["安眠药", ["吃了", 7], []]}]},
            "en": {"phrases": [{"any": ["x", "y"]}]},
        },
    }
    _, problems = parse_lexicon(data, area_ids=AREA_IDS, languages=LANGUAGES)
    assert {problem.path for problem in problems} == {
        ("lexicon", "crisis", "zh", "phrases", 0, "all", 1, 1),
        ("lexicon", "crisis", "zh", "phrases", 0, "all", 2),
        ("lexicon", "crisis", "en", "phrases", 0),
    }


def test_lexicon_and_classification_are_immutable(small):
    with pytest.raises(dataclasses.FrozenInstanceError):
        small.min_score = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        small.languages["fr"] = small.languages["en"]  # type: ignore[index]
    result = classify("老板拖欠工资", small)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.area = None  # type: ignore[misc]


# ---------------------------------------------------------------------------- matching


def test_chinese_is_matched_without_word_spaces(small):
    result = classify("公司拖欠我三个月工资了，老板也不见人", small)
    assert result == Classification("labor", False, result.confidence, "zh", ("工资", "老板"))
    # Phrases are reported in the order the caller said them.
    assert classify("老板拖欠工资", small).matched == ("老板", "拖欠工资")


def test_chinese_is_normalised_full_width_and_punctuation(small):
    assert classify("我 有 借 条 ！！", small).area == "contract"
    assert classify("ＡＢ押金，不退？", small).area == "contract"


def test_synonyms_expand_phrases_and_report_the_lexicon_phrase(small):
    assert classify("老板不给工钱", small).matched == ("老板", "工资")
    assert classify("they never paid my salary", small).matched == ("wage",)


def test_english_matches_whole_words_only(small):
    assert classify("I want to improve my skills", small).crisis is False
    assert classify("Skill myself", small).crisis is False
    assert classify("I will kill myself", small).crisis is True
    assert classify("the landlords association", small).area == "contract"
    assert classify("my landlordship", small).area is None


def test_english_tolerates_simple_inflections(small):
    for text in ("I got fired", "they are firing me, I get fired", "unpaid wages", "my wage"):
        assert classify(text, small).area == "labor", text
    assert classify("KILLING MYSELF", small).crisis is True


def test_unmatched_text_has_no_area(small):
    result = classify("hello, is anybody there?", small)
    assert result == Classification(None, False, 0.0, "en", ())
    assert classify("今天天气不错", small) == Classification(None, False, 0.0, "zh", ())


def test_weak_evidence_and_ties_have_no_area(small):
    # One weight-1 phrase is below min_score.
    assert classify("我想找律师", small).area is None
    # Labor and contract score 3 each: a tie goes to a general agent.
    tied = classify("老板拖欠工资，还有押金", small)
    assert tied.area is None and tied.confidence == 0.0
    # The phrases heard are still reported for the general agent.
    assert tied.matched == ("老板", "拖欠工资", "押金")


def test_confidence_follows_the_margin_formula(small):
    # labor 3 (拖欠工资), contract 3 (借条) + 3 (押金): (6 - 3) / 9 * min(1, 6 / 3).
    result = classify("拖欠工资，借条，押金", small)
    assert result.area == "contract"
    assert result.confidence == pytest.approx(1 / 3, abs=0.001)
    assert classify("离婚", small).confidence == 1.0


def test_a_phrase_inside_a_longer_phrase_is_not_counted_twice(small):
    result = classify("拖欠工资", small)
    assert result.matched == ("拖欠工资",)


def test_language_detection():
    assert detect_language("公司拖欠工资") == "zh"
    assert detect_language("my boss owes me 公司") == "zh"
    assert detect_language("my boss owes me") == "en"
    assert detect_language("") == "en"


def test_language_is_detected_or_taken_as_given(small):
    assert classify("工资", small).language == "zh"
    assert classify("wages", small).language == "en"
    assert classify("wages", small, "en").language == "en"
    # A language the lexicon does not know falls back to detection.
    assert classify("wages", small, "fr").language == "en"


# ---------------------------------------------------------------------------- crisis


def test_exclusion_cancels_only_what_it_covers(small):
    assert classify("想死你了", small).crisis is False
    assert classify("想死你了，可是我真的想死", small).crisis is True
    assert classify("my boss is killing me", small).crisis is False
    assert classify("my boss is killing me, please kill me", small).crisis is True


def test_all_rule_needs_every_term(small):
    assert classify("我每天要靠安眠药才能睡着", small).crisis is False
    assert classify("我把安眠药全吃了", small).crisis is True
    assert classify("I took all my pills", small).crisis is True
    assert classify("I took all the evidence to the police", small).crisis is False


def test_crisis_phrases_of_every_language_are_checked(small):
    result = classify("我想 kill myself", small)
    assert result.language == "zh"
    assert result.crisis is True
    assert "kill myself" in result.matched


def test_crisis_is_independent_of_area(small):
    result = classify("老板拖欠工资，我不想活了", small)
    assert result.area == "labor"
    assert result.crisis is True
    assert "不想活" in result.matched


@pytest.mark.parametrize(
    "text",
    [
        "累死了",
        "气死了",
        "愁死了",
        "笑死了",
        "忙死了",
        "烦死了",
        "热死了",
        "气死我了，押金还不退",
        "急得要死",
        "他死活不还钱",
        "那是个杀猪盘",
        "商场跳楼价甩卖",
        "想死你们了",
        "我不会想不开的",
        "my boss is killing me",
        "we need to kill this contract",
        "I'm dying to know if I can get my deposit back",
        "this is killing me",
        "the deadline is killing me",
        "they offered me a killer deal",
        "it would be career suicide",
        "I improved my skills",
        "my phone died",
        "jump off the call",
        "that scam nearly killed my mom",
    ],
)
def test_figures_of_speech_are_not_crises(hotline, text):
    result = classify(text, hotline)
    assert result.crisis is False, result.matched


@pytest.mark.parametrize(
    "text",
    [
        "累死了，我不想活了",
        "气死了，活不下去了",
        "我累死了，想去跳楼",
        "笑死了，我想死",
        "跳楼价不跳楼价我不管，我今晚就跳楼",
        "my boss is killing me and I want to kill myself",
        "this deadline is killing me, I took all my pills",
        "I'm dying to know, then I'll end my life",
    ],
)
def test_a_figure_of_speech_does_not_hide_a_real_crisis(hotline, text):
    assert classify(text, hotline).crisis is True


@pytest.mark.parametrize(
    "text",
    [
        "不想活了",
        "活不下去了",
        "我要去跳楼",
        "我跟他同归于尽",
        "我想死",
        "我想自杀",
        "我割腕了",
        "我把安眠药全吃了",
        "I'm going to kill myself",
        "I want to end my life",
        "I took all my pills",
        "I don't want to live anymore",
        "I'm going to kill him and then myself",
        "I'm going to jump off the bridge",
    ],
)
def test_direct_crisis_phrases(hotline, text):
    assert classify(text, hotline).crisis is True


# ---------------------------------------------------------------------------- hints


def test_speech_hints_lead_with_crisis_and_heaviest_phrases(small):
    hints = speech_hints(small, "zh")
    phrases = hints.split(", ")
    assert phrases[0] == "不想活"
    assert phrases[1] in {"借条", "离婚", "律师", "拖欠工资"}
    assert "拖欠工资" in phrases and phrases.index("拖欠工资") < phrases.index("老板")
    assert len(phrases) == len(set(phrases))
    assert "想死你了" not in phrases


def test_speech_hints_respect_the_limit_and_unknown_languages(small, hotline):
    assert len(speech_hints(small, "en", limit=3).split(", ")) == 3
    assert speech_hints(small, "en", limit=0) == ""
    assert speech_hints(small, "fr") == ""
    full = speech_hints(hotline, "zh")
    assert len(full.split(", ")) == 100
    assert all(phrase.strip() for phrase in full.split(","))
    assert "不想活" in full and "离婚" in full and "拖欠工资" in full


# ---------------------------------------------------------------------------- hotline data


@functools.cache
def load_utterances() -> list[dict]:
    data = yaml.safe_load((ROOT / "tests" / "data" / "utterances.yaml").read_text("utf-8"))
    return data["utterances"]


def test_the_data_set_covers_every_area_language_and_crisis():
    items = load_utterances()
    assert len(items) >= 180
    for item in items:
        assert set(item) == {"text", "lang", "area", "crisis"}, item
        assert item["area"] in AREA_IDS and item["lang"] in LANGUAGES
        assert detect_language(item["text"]) == item["lang"], item["text"]
    for lang in LANGUAGES:
        for area in AREA_IDS - {"general"}:
            count = sum(1 for i in items if (i["lang"], i["area"]) == (lang, area))
            assert count >= 10, (lang, area)
        calm = [i for i in items if i["lang"] == lang and not i["crisis"]]
        assert sum(1 for i in items if i["lang"] == lang and i["crisis"]) >= 10
        assert len(calm) >= 25


def test_metrics_on_labelled_utterances(hotline):
    items = load_utterances()
    correct = crises = caught = calm = false_alarms = 0
    missed: list[str] = []
    for item in items:
        result = classify(item["text"], hotline)
        expected = item["area"]
        if result.area == expected or (expected == "general" and result.area is None):
            correct += 1
        if item["crisis"]:
            crises += 1
            caught += result.crisis
            if not result.crisis:
                missed.append(item["text"])
        else:
            calm += 1
            false_alarms += result.crisis
    accuracy = correct / len(items)
    recall = caught / crises
    false_positive_rate = false_alarms / calm
    print(
        f"area accuracy: {accuracy:.1%} ({correct}/{len(items)}), "
        f"crisis recall: {recall:.1%} ({caught}/{crises}), "
        f"crisis false positives: {false_positive_rate:.1%} ({false_alarms}/{calm})"
    )
    assert accuracy >= 0.90
    assert recall == 1.0, missed
    assert false_positive_rate <= 0.03
