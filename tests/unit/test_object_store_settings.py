"""Object storage settings: s3:// targets read strictly, HOTLINE_S3_* before the usual AWS_*."""

from __future__ import annotations

import pytest

from hotline.settings import Settings
from voicemail.object_store import Location, ObjectStoreSettings, is_object_location


def test_a_target_names_a_bucket_and_a_prefix():
    assert Location.parse("s3://hotline-vm/voicemail/") == Location("hotline-vm", "voicemail/")
    assert Location.parse("s3://hotline-vm") == Location("hotline-vm", "")
    assert str(Location.parse("s3://hotline-vm/a/b")) == "s3://hotline-vm/a/b/"
    assert is_object_location("s3://hotline-vm") and not is_object_location("/srv/voicemail")


@pytest.mark.parametrize(
    "bad", ["s3://", "s3://UPPER/x", "s3://a/x", "s3://vm/../x", "s3://vm/a b", "/srv/vm"]
)
def test_a_target_no_s3_service_would_take_is_refused(bad):
    with pytest.raises(ValueError):
        Location.parse(bad)


def test_hotline_settings_come_before_the_usual_aws_variables():
    env = {
        "AWS_ENDPOINT_URL": "https://oss-cn-shanghai.aliyuncs.com",
        "AWS_REGION": "cn-shanghai",
        "AWS_ACCESS_KEY_ID": "aws-id",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "HOTLINE_S3_ACCESS_KEY_ID": "hotline-id",
        "HOTLINE_S3_SECRET_ACCESS_KEY": "hotline-secret",
        "HOTLINE_S3_ADDRESSING": "virtual",
    }
    settings = ObjectStoreSettings.from_env(env)
    assert settings.endpoint_url == "https://oss-cn-shanghai.aliyuncs.com"
    assert settings.region == "cn-shanghai" and settings.addressing == "virtual"
    assert (settings.access_key_id, settings.secret_access_key) == ("hotline-id", "hotline-secret")
    assert "secret" not in repr(settings)  # keys stay out of logs
    assert ObjectStoreSettings.from_env({}) == ObjectStoreSettings()
    with pytest.raises(ValueError, match="HOTLINE_S3_ADDRESSING"):
        ObjectStoreSettings.from_env({"HOTLINE_S3_ADDRESSING": "sideways"})


def test_a_storage_target_no_s3_service_would_take_stops_the_start():
    env = {"HOTLINE_STORAGE": "s3://Hotline_VM/x", "HOTLINE_STORAGE_COPY": "gs://vm/x"}
    problems = Settings.from_env(env).problems()
    assert [problem.split(":")[0] for problem in problems] == [
        "HOTLINE_STORAGE",
        "HOTLINE_STORAGE_COPY",
    ]
    fine = {"HOTLINE_STORAGE": "s3://hotline-vm/x", "HOTLINE_STORAGE_COPY": "/srv/vault-copy"}
    assert Settings.from_env(fine).problems() == []
