"""Outcome codes in the config: the shipped five, and what `hotline config check` refuses."""

from __future__ import annotations

import pytest

from hotline.settings import DEFAULT_CONFIG
from routing.config import check_config, load_config
from tests.fixtures.config import edited_config


def test_the_shipped_outcomes_and_the_history_retention():
    config = load_config(DEFAULT_CONFIG.read_text(encoding="utf-8"), "shipped")
    labels = {code: o.labels["zh"] for code, o in config.outcomes.items()}
    assert labels == {
        "answered": "已解答",
        "lawyer": "建议委托律师",
        "legal_aid": "转法律援助",
        "follow_up": "需回访",
        "crisis": "危机",
    }
    assert [code for code, o in config.outcomes.items() if o.follow_up] == ["follow_up"]
    assert all(o.labels["en"] for o in config.outcomes.values())
    assert config.records.history_keep_days == 365


def test_a_config_without_outcomes_asks_for_none():
    config = load_config(edited_config(lambda c: c.pop("outcomes")))
    assert config.outcomes == {}


def _set(code: str, entry: object):
    """An edit giving the outcomes one more entry."""
    return lambda config: config["outcomes"].update({code: entry})


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (_set("Has Space", {"zh": "a", "en": "b"}), "outcomes.Has Space", "lower-case"),
        (_set("no_en", {"zh": "a"}), "outcomes.no_en.en", "missing"),
        (_set("typo", {"zh": "a", "en": "b", "folow_up": True}), "outcomes.typo.folow_up",
         "did you mean follow_up"),
        (_set("flag", {"zh": "a", "en": "b", "follow_up": "yes"}), "outcomes.flag.follow_up",
         "true or false"),
        (lambda c: c.update(outcomes=["answered"]), "outcomes", "expected a mapping"),
        (lambda c: c["records"].update(history_keep_days=0), "records.history_keep_days",
         "from 1 to 3650"),
    ],
)  # fmt: skip
def test_config_check_names_a_wrong_outcome(edit, where, message):
    problems = check_config(edited_config(edit))
    found = [(".".join(map(str, p.path)), message in p.message) for p in problems]
    assert found == [(where, True)], [str(p) for p in problems]


def test_the_report_counts_calls_per_outcome():
    from datetime import date

    from routing.report import Period, build_report, outcome_counts, report_json, report_table

    day = 86_400.0 * 365 * 2  # 1972-01-01, UTC
    rows = [
        {"arrived_at": day + 1, "wrap_up_outcome": "follow_up"},
        {"arrived_at": day + 2, "wrap_up_outcome": "answered"},
        {"arrived_at": day + 3, "wrap_up_outcome": "follow_up"},
        {"arrived_at": day + 4, "wrap_up_outcome": ""},
        {"arrived_at": day + 5},
        # Another day's call is not this day's.
        {"arrived_at": day - 5, "wrap_up_outcome": "lawyer"},
    ]
    assert outcome_counts(rows[:5]) == {"answered": 1, "follow_up": 2}
    period = Period(date(1972, 1, 1), date(1972, 1, 1), "UTC")
    report = build_report(rows, [], period, now=day + 10)
    assert report_json(report)["outcomes"] == {"answered": 1, "follow_up": 2}
    assert "outcome follow_up" in report_table(report)
    assert build_report([], [], period, now=day + 10).outcomes == {}


def test_the_caller_history_keys_are_pinned():
    from queues import keys

    assert keys.caller_history("ab12") == "hotline:caller-history:ab12"
    assert keys.caller_history_call("CA1") == "hotline:caller-history-call:CA1"
