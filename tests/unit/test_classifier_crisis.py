"""Crisis detection beyond the labelled set it grew from: separable phrases, negations, clause
breaks, and the floors measured on utterances the lexicon was never tuned on.

tests/data/crisis_heldout.yaml is the held-out batch: written after the last change to the
lexicon and measured once. Its figures below are floors, so a change that loses a crisis or adds
a false alarm there fails. Never edit that file to make a test pass; tune on crisis_tuning.yaml,
and when the held-out batch has been used to decide a change, move it into crisis_tuning.yaml
and write a fresh one (then record its SHA-256 and figures here). Items tagged `topic: threats`
(threats against other people, and lawful anger and figures of speech that look like them) were
added to each file as one block, written before the rules for them changed; the floors measured
on the rest of each file stay on the rest of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from routing.classifier import Lexicon, classify, detect_language, parse_lexicon

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
AREA_IDS = {"family", "labor", "contract", "traffic", "criminal", "corporate", "general"}
LANGUAGES = {"zh", "en"}
CRISIS_KINDS = {"self", "third", "others", "danger", "child"}
# lawful: anger pursued by lawful means ("去找老板算账" for unpaid wages, 讨个说法, "sue them").
HARD_KINDS = {"figure", "past", "negated", "lawful"}
CALM_KINDS = HARD_KINDS | {"plain"}

# The held-out batch the floors below were measured on (v3; v1 and v2 now sit in the tuning file).
HELDOUT_SHA256 = "6f67d973e19f312b94126516cfc7b57dc95d7583bde4aafa4adeff3cbbcb0f88"
TOPICS = {"threats"}


@dataclass
class Tally:
    """Crisis figures over a set of labelled utterances."""

    crises: int = 0
    caught: int = 0
    calm: int = 0
    false_alarms: int = 0
    hard: int = 0
    hard_false_alarms: int = 0
    area_labelled: int = 0
    area_correct: int = 0
    missed: list[str] = field(default_factory=list)
    alarmed: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"crisis recall {self.caught}/{self.crises}, false alarms {self.false_alarms}/"
            f"{self.calm} (hard negatives {self.hard_false_alarms}/{self.hard}), "
            f"area {self.area_correct}/{self.area_labelled}"
        )


@functools.cache
def hotline() -> Lexicon:
    data = yaml.safe_load((ROOT / "hotline" / "hotline.yaml").read_text(encoding="utf-8"))
    lexicon, problems = parse_lexicon(data["lexicon"], area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [], "\n".join(str(problem) for problem in problems)
    assert lexicon is not None
    return lexicon


@functools.cache
def load(name: str) -> tuple[dict, ...]:
    return tuple(yaml.safe_load((DATA / name).read_text(encoding="utf-8"))["utterances"])


def untagged(items: tuple[dict, ...]) -> tuple[dict, ...]:
    """The items of a file outside any topic block (those its first floors were measured on)."""
    return tuple(item for item in items if "topic" not in item)


def tagged(items: tuple[dict, ...], topic: str = "threats") -> tuple[dict, ...]:
    """The items of a file's topic block."""
    return tuple(item for item in items if item.get("topic") == topic)


def caught_of_kind(items: tuple[dict, ...], kind: str) -> tuple[int, int]:
    """How many crises of one kind the rules hear, and how many there are."""
    crises = [item for item in items if item["crisis"] and item["kind"] == kind]
    return sum(classify(item["text"], hotline()).crisis for item in crises), len(crises)


def measure(items: tuple[dict, ...]) -> Tally:
    tally = Tally()
    for item in items:
        result = classify(item["text"], hotline())
        if "area" in item:
            tally.area_labelled += 1
            expected = item["area"]
            tally.area_correct += result.area == expected or (
                expected == "general" and result.area is None
            )
        if item["crisis"]:
            tally.crises += 1
            tally.caught += result.crisis
            if not result.crisis:
                tally.missed.append(item["text"])
            continue
        tally.calm += 1
        hard = item.get("kind") in HARD_KINDS
        tally.hard += hard
        if result.crisis:
            tally.false_alarms += 1
            tally.hard_false_alarms += hard
            tally.alarmed.append(f"{item['text']} {result.matched}")
    return tally


# ---------------------------------------------------------------------------- data files


@pytest.mark.parametrize("name", ["crisis_heldout.yaml", "crisis_tuning.yaml"])
def test_crisis_data_files_are_well_formed(name):
    for item in load(name):
        assert set(item) - {"area", "topic"} == {"text", "lang", "crisis", "kind"}, item
        assert item.get("topic", "threats") in TOPICS, item
        assert item["lang"] in LANGUAGES, item
        assert detect_language(item["text"]) == item["lang"], item["text"]
        assert item.get("area", "general") in AREA_IDS, item
        assert item["kind"] in (CRISIS_KINDS if item["crisis"] else CALM_KINDS), item


def test_the_heldout_batch_is_large_and_varied_enough():
    items = load("crisis_heldout.yaml")
    crises = [item for item in items if item["crisis"]]
    calm = [item for item in items if not item["crisis"]]
    assert len(crises) >= 120 and len(calm) >= 200
    assert all("area" in item for item in items)
    for lang in LANGUAGES:
        assert sum(1 for item in crises if item["lang"] == lang) >= 40
    assert {item["kind"] for item in crises} == CRISIS_KINDS
    assert {item["kind"] for item in calm} == CALM_KINDS
    assert sum(1 for item in calm if item["kind"] in HARD_KINDS) >= 150


def test_no_utterance_is_in_two_data_files():
    files = ["utterances.yaml", "crisis_tuning.yaml", "crisis_heldout.yaml"]
    seen: dict[str, str] = {}
    for name in files:
        for item in load(name):
            assert item["text"] not in seen, (item["text"], seen.get(item["text"]), name)
            seen[item["text"]] = name
    # The second held-out set was written apart from the others; by chance one ordinary
    # sentence of it is in the original set too. No crisis sentence may be.
    shared = [item for item in load("crisis_heldout_asr.yaml") if item["text"] in seen]
    assert [(item["crisis"], item["kind"]) for item in shared] == [(False, "ordinary")]


def test_the_heldout_batch_is_the_one_the_floors_were_measured_on():
    # Editing the held-out file silently voids its figures: write a fresh batch instead.
    digest = hashlib.sha256((DATA / "crisis_heldout.yaml").read_bytes()).hexdigest()
    assert digest == HELDOUT_SHA256


# ---------------------------------------------------------------------------- floors


def test_heldout_floors():
    # Measured once on the held-out batch (before this lexicon: 57/130 caught, 31/154 false
    # alarms on hard negatives, 31/202 on all calm utterances).
    tally = measure(untagged(load("crisis_heldout.yaml")))
    print("held-out:", tally.summary())
    assert tally.crises == 130 and tally.calm == 202 and tally.hard == 154
    assert tally.caught >= 97, tally.missed
    assert tally.hard_false_alarms <= 13, tally.alarmed
    assert tally.false_alarms <= 13, tally.alarmed


def test_threat_heldout_floors():
    # The `topic: threats` block: 50 threats against other people and 61 hard negatives
    # (lawful anger and 算账, figures of speech, denials), written before the rules for
    # threats. Before them the rules caught 14/50 with 3/61 false alarms.
    tally = measure(tagged(load("crisis_heldout.yaml")))
    print("held-out threats:", tally.summary())
    assert tally.crises == 50 and tally.calm == 61 and tally.hard == 61
    assert tally.caught >= 31, tally.missed
    assert tally.hard_false_alarms <= 3, tally.alarmed


def test_heldout_recall_on_threats_against_others_and_on_self_harm():
    # Apart, over the whole held-out file: threats were 26/66 before their rules, self-harm 44/62.
    items = load("crisis_heldout.yaml")
    others, self_harm = caught_of_kind(items, "others"), caught_of_kind(items, "self")
    print("held-out, threats against others:", others, "self-harm:", self_harm)
    assert others[1] == 66 and others[0] >= 43
    assert self_harm[1] == 62 and self_harm[0] >= 44


def test_tuning_floors():
    # The lexicon was fitted to these; a drop means a change undid earlier work.
    tally = measure(load("crisis_tuning.yaml"))
    print("tuning:", tally.summary())
    assert tally.caught / tally.crises >= 0.986, tally.missed
    assert tally.hard_false_alarms / tally.hard <= 0.022, tally.alarmed
    assert tally.false_alarms / tally.calm <= 0.017, tally.alarmed


def test_original_set_keeps_its_area_accuracy_and_crisis_figures():
    tally = measure(load("utterances.yaml"))
    print("original:", tally.summary())
    assert tally.area_correct >= 484, tally.area_correct
    assert tally.caught == tally.crises, tally.missed
    assert tally.false_alarms == 0, tally.alarmed


# ---------------------------------------------------------------------------- mechanics

SMALL = {
    "areas": {"labor": {"zh": [{"工资": 3}], "en": [{"wage": 3}]}},
    "crisis": {
        "zh": {
            "gap": 3,
            "negation_gap": 1,
            "phrases": [
                "想死",
                "不...想活",
                "杀了她",
                {"near": [["站在", "坐在"], ["楼顶", "天台"]]},
                {"all": ["安眠药", ["吃了", "准备好"]]},
            ],
            "exclusions": [{"near": [["去年", "以前"], "跳楼"]}, "想死你了"],
            "negations": ["没想过", "不会"],
        },
        "en": {
            "phrases": ["kill myself", "don't want to live", "want to die", "jump"],
            "exclusions": ["jump ship", {"near": ["end it", "with"]}],
            "negations": ["i do not", "i am not going to"],
        },
    },
}


@pytest.fixture(scope="module")
def small() -> Lexicon:
    lexicon, problems = parse_lexicon(SMALL, area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [], problems
    assert lexicon is not None
    return lexicon


def test_a_separable_phrase_allows_words_in_between(small):
    assert classify("我真的不太想活了", small).matched == ("不...想活",)
    assert classify("我不是很想活了", small).crisis is True
    # Beyond the gap (3 characters here) the parts no longer belong together.
    assert classify("我不知道他为什么想活", small).crisis is False


def test_a_near_rule_takes_alternatives_in_order(small):
    assert classify("我现在坐在我们小区的天台", small).crisis is False  # 5 characters apart
    assert classify("我现在坐在小区天台", small).matched == ("坐在...天台",)
    assert classify("天台上有人坐在那里", small).crisis is False  # wrong order


def test_punctuation_ends_a_clause_for_phrases_and_gaps(small):
    assert classify("她自杀了她欠的钱谁还", small).crisis is True
    assert classify("她自杀了，她欠的钱谁还", small).crisis is False
    assert classify("我不，想活", small).crisis is False
    assert classify("我站在，楼顶", small).crisis is False


def test_a_separable_exclusion_covers_its_whole_span(small):
    assert classify("去年我们楼有人跳楼了", small).crisis is False
    assert classify("想死你了", small).crisis is False
    # Only what the exclusion covers is cancelled.
    assert classify("想死你了，我真的想死", small).crisis is True


def test_a_negation_cue_cancels_what_follows_it_closely(small):
    assert classify("我从来没想过想死", small).crisis is False
    assert classify("我不会想死的", small).crisis is False
    assert classify("我不会去想死", small).crisis is False  # one character between
    assert classify("我不会让他好过，我想死", small).crisis is True  # another clause
    assert classify("我不会让他好过我想死", small).crisis is True  # too far from the cue


def test_a_negation_does_not_cancel_a_phrase_that_holds_it(small):
    assert classify("I don't want to die", small).crisis is False
    assert classify("I'm not going to kill myself", small).crisis is False
    # "don't want to live" overlaps the cue "i do not": it is the crisis, not its denial.
    assert classify("I don't want to live", small).crisis is True
    assert classify("I don't know, I want to die", small).crisis is True


def test_english_exclusions_and_breaks(small):
    assert classify("I might jump ship to a rival", small).crisis is False
    assert classify("I want to end it with my partner", small).crisis is False
    assert classify("I'm going to jump", small).crisis is True
    assert classify("I'd rather jump, ship me off", small).crisis is True


def test_all_rules_still_look_across_clauses(small):
    assert classify("安眠药，我都准备好了", small).crisis is True
    assert classify("医生开了安眠药", small).crisis is False


def test_an_all_rule_hears_its_terms_within_its_reach():
    data = {**SMALL, "crisis": {**SMALL["crisis"], "zh": {**SMALL["crisis"]["zh"], "reach": 12}}}
    lexicon, problems = parse_lexicon(data, area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [] and lexicon is not None
    assert classify("安眠药，我都准备好了", lexicon).matched == ("安眠药", "准备好")
    # Twenty characters apart: not one thought, in a monologue.
    far = "安眠药是医生开的，我在厂里干了三年了老板一直不发工资，我准备好了材料"
    assert classify(far, lexicon).crisis is False
    assert {"安眠药", "吃了"} <= set(classify(far + "，安眠药吃了", lexicon).matched)


def test_a_monologue_never_pairs_terms_said_far_apart():
    talk = "我在电子厂上班三年了，老板拖欠了我四个月的工资，加班费一直没有给，社保也没有交。"
    text = "地里的农药是村里统一发的，" + talk + "我今天在厂门口喝了一杯茶"
    assert classify(text, hotline()).crisis is False
    assert classify("农药就在桌上，我想喝", hotline()).crisis is True


@pytest.mark.parametrize("size", [500, 2000, 3900])
def test_crisis_words_are_heard_anywhere_in_a_long_utterance(size):
    talk = "我在电子厂上班三年了，老板拖欠了我四个月的工资，加班费一直没有给，社保也没有交。"
    text = (talk * (size // len(talk) + 1))[:size]
    assert classify(text, hotline()).crisis is False
    assert classify(text, hotline()).area == "labor"
    for words in ("我不想活了", "我已经把绳子系在门框上了", "安眠药我都准备好了"):
        assert classify(text + words, hotline()).crisis is True, words


def with_english_reach(reach: object) -> dict:
    return {**SMALL, "crisis": {**SMALL["crisis"], "en": {**SMALL["crisis"]["en"], "reach": reach}}}


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_crisis_heard_alone_is_heard_after_long_ordinary_talk(language):
    talk = {
        "zh": "我在电子厂上班三年了，老板拖欠了我四个月的工资，加班费一直没有给，社保也没有交。",
        "en": "I have worked at the warehouse for three years and my boss has not paid my wages. ",
    }[language]
    before = talk * (1000 // len(talk) + 1)  # whole sentences, over 1,000 characters
    heard_alone = [
        item["text"]
        for item in load("crisis_tuning.yaml")
        if item["crisis"]
        and item["lang"] == language
        and classify(item["text"], hotline(), language).crisis
    ]
    assert len(heard_alone) > 200
    missed = [
        text for text in heard_alone if not classify(before + text, hotline(), language).crisis
    ]
    assert missed == []


@pytest.mark.parametrize("reach", [0, -3, 2.5, True, "far"])
def test_a_reach_must_be_a_positive_whole_number(reach):
    lexicon, problems = parse_lexicon(
        with_english_reach(reach), area_ids=AREA_IDS, languages=LANGUAGES
    )
    assert lexicon is None
    assert [problem.path for problem in problems] == [("lexicon", "crisis", "en", "reach")]
    assert "1 or more" in problems[0].message
    lexicon, problems = parse_lexicon(with_english_reach(7), area_ids=AREA_IDS, languages=LANGUAGES)
    assert problems == [] and lexicon is not None


def test_new_syntax_problems_are_reported_with_paths():
    bad = {
        "areas": {"labor": {"zh": ["拖欠...工资"]}},
        "crisis": {
            "zh": {
                "phrases": ["...想死", {"near": ["站在"]}, {"all": ["安眠药", "准备...吃"]}],
                "exclusions": [{"all": ["a", "b"]}, "累死了"],
                "negations": ["没...想"],
                "gap": -1,
                "negation_gap": True,
            },
            "en": {"phrases": ["kill myself"], "gap": 2.5},
        },
    }
    lexicon, problems = parse_lexicon(bad, area_ids=AREA_IDS, languages=LANGUAGES)
    assert lexicon is None
    zh = ("lexicon", "crisis", "zh")
    assert {problem.path for problem in problems} == {
        ("lexicon", "areas", "labor", "zh", 0),  # a gap outside the crisis section
        (*zh, "phrases", 0),  # nothing before the gap
        (*zh, "phrases", 1),  # near needs two terms
        (*zh, "phrases", 2, "all", 1),  # no gap inside an all term
        (*zh, "exclusions", 0),  # an exclusion cannot be an all rule
        (*zh, "negations", 0),
        (*zh, "gap"),
        (*zh, "negation_gap"),
        ("lexicon", "crisis", "en", "gap"),
    }


# ---------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    "text",
    [
        "我不太想活了",
        "活着一点意思都没有",
        "我准备了安眠药，今天晚上就吃",
        "我现在站在我们小区的楼顶",
        "我已经把绳子系在门框上了",
        "他正在打我，我躲在厕所里",
        "我要把那个骗子杀了",
        "孩子被他关在车里",
        "I've got pills here and I'm thinking about taking them all",
        "there's no reason to go on",
        "I'm at the bridge",
        "he's breaking down the door right now",
    ],
)
def test_indirect_crisis_wordings(text):
    assert classify(text, hotline()).crisis is True


@pytest.mark.parametrize(
    "text",
    [
        "我准备带刀去找老板算账",
        "老板再不给钱，我就带刀去他办公室",
        "我要一把火烧了这个厂",
        "明天我去公司，见一个砍一个",
        "这次我要用拳头跟他算账，打到他服为止",
        "嗯 我准备带把刀去厂里 找老板算账",
        "I'm going to take a knife to work and settle things with my boss",
        "I'm going to settle the score with my boss by force",
        "I'll torch my boss's car tonight",
    ],
)
def test_threats_against_other_people_are_crises(text):
    assert classify(text, hotline()).crisis is True


@pytest.mark.parametrize(
    "text",
    [
        # Settling accounts, wanting a hearing, suing, justice: a wage claim, lawful anger.
        "去找老板算账",
        "我要去找老板算账，他欠我工资",
        "月底我去跟包工头算账结工钱",
        "我要讨个说法",
        "我要告他们",
        "我要要回公道",
        "I'm going to settle accounts with my boss about my unpaid wages",
        "I'm going to make them pay in court",
        # Figures of speech.
        "累死了",
        "气死了",
        "这个经理真是要我的命，天天挑刺",
        "my boss is killing me",
        # The law on knives, and the knife of a surgeon.
        "厨师带刀去上班合法吗",
        "is it legal to carry a knife to work",
        "医生说要给我动刀",
    ],
)
def test_lawful_anger_and_figures_of_speech_are_not_crises(text):
    result = classify(text, hotline())
    assert result.crisis is False, result.matched


def test_hotline_classify_says_a_threat_to_the_boss_is_a_crisis(capsys, monkeypatch):
    from hotline.cli import main

    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_CRISIS_MODEL", raising=False)
    assert main(["classify", "我准备带刀去找老板算账"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["crisis"] is True and said["area"] == "labor"
    assert "lexicon" in said["crisis_by"]
    assert main(["classify", "我要去找老板算账，他欠我三个月工资"]) == 0
    assert json.loads(capsys.readouterr().out)["crisis"] is False


@pytest.mark.parametrize(
    "text",
    [
        "父亲工伤去世了，赔偿怎么算",
        "我姐姐去年跳楼自杀了，她欠的网贷我们要还吗",
        "我从来没想过自杀，我就想要回我的钱",
        "楼顶上漏水，物业一直不修",
        "公司快撑不住了，股东要撤资",
        "他在群里骂我让我去死，这算不算侮辱",
        "I don't want to die, I just want my money back",
        "my husband committed suicide last year and the insurer refuses to pay",
        "the roofer fell off the roof and now he's suing me",
        "can I shoot him an email or do I need a registered letter",
    ],
)
def test_hard_negatives(text):
    result = classify(text, hotline())
    assert result.crisis is False, result.matched
