"""The recording setting per area and the recordings' retention, as the config check reads them."""

from __future__ import annotations

import pytest

from hotline.settings import DEFAULT_CONFIG
from routing.config import Records, check_config, load_config
from tests.fixtures.config import edited_config

SHIPPED = DEFAULT_CONFIG.read_text(encoding="utf-8")


def test_the_shipped_config_records_some_areas_and_keeps_recordings_ninety_days():
    config = load_config(SHIPPED, "shipped")
    recorded = {area.id for area in config.areas.values() if area.recording}
    assert recorded == {"traffic", "corporate"}
    assert config.records.recording_keep_days == 90
    for language in ("zh", "en"):
        assert "2" in config.prompt("recording_notice", language)
        assert config.prompt("recording_refused", language)
    assert "如不同意录音请按2" in config.prompt("recording_notice", "zh")


@pytest.mark.parametrize(
    "value, expected", [("on", True), ("off", False), (True, True), (False, False), ("On", True)]
)
def test_recording_reads_on_and_off_in_either_spelling(value, expected):
    def edit(data):
        data["areas"]["labor"]["recording"] = value

    assert load_config(edited_config(edit)).areas["labor"].recording is expected


def test_recording_is_off_unless_said():
    def edit(data):
        data["areas"]["traffic"].pop("recording")

    assert load_config(edited_config(edit)).areas["traffic"].recording is False


@pytest.mark.parametrize("value", ["maybe", 1, ["on"], "record"])
def test_a_recording_setting_other_than_on_or_off_is_a_problem(value):
    def edit(data):
        data["areas"]["labor"]["recording"] = value

    rendered = [str(p) for p in check_config(edited_config(edit))]
    assert any("areas.labor.recording" in p and "off or on" in p for p in rendered), rendered


def test_a_misspelled_recording_key_is_named():
    def edit(data):
        data["areas"]["labor"]["recordng"] = "on"

    rendered = [str(p) for p in check_config(edited_config(edit))]
    assert any("recordng" in p and "recording" in p for p in rendered), rendered


def test_recording_keep_days_is_checked():
    def edit(data):
        data["records"]["recording_keep_days"] = 0

    rendered = [str(p) for p in check_config(edited_config(edit))]
    assert any("records.recording_keep_days" in p for p in rendered), rendered

    def unset(data):
        data["records"].pop("recording_keep_days")

    keep = load_config(edited_config(unset)).records.recording_keep_days
    assert keep == Records.recording_keep_days


def test_the_notice_is_a_required_prompt_in_every_language():
    def edit(data):
        del data["prompts"]["recording_notice"]["en"]

    rendered = [str(p) for p in check_config(edited_config(edit))]
    assert any("recording_notice" in p for p in rendered), rendered
