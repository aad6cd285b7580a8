"""LOG_FORMAT=json: one JSON object a line, numbers masked, the call and the request named."""

from __future__ import annotations

import io
import json
import logging

import pytest
from flask import Flask

from hotline import logs

CALL = "CA" + "1" * 32
NUMBER = "+8613812345678"


def logged(log_format: str, emit) -> list[str]:
    """The lines a handler in the format writes while emit() logs to a fresh logger."""
    stream = io.StringIO()
    logger = logging.getLogger("hotline.test_json_logs")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(logs.handler(stream, log_format))
    try:
        emit(logger)
    finally:
        logger.handlers.clear()
    return stream.getvalue().splitlines()


def test_each_record_is_one_json_object_with_numbers_masked():
    def emit(logger):
        logger.warning("caller %s hung up", NUMBER, extra={"call_sid": CALL, "event": "hangup"})
        logger.info("no call here")

    first, second = (json.loads(line) for line in logged("json", emit))
    assert first["level"] == "WARNING"
    assert first["logger"] == "hotline.test_json_logs"
    assert first["message"] == "caller +86*******5678 hung up"
    assert first["call_sid"] == CALL
    assert first["event"] == "hangup"
    assert first["time"].endswith("+00:00")
    assert "request_id" not in first
    assert set(second) == {"time", "level", "logger", "message"}


def test_an_exception_is_kept_in_the_object_with_numbers_masked():
    def emit(logger):
        try:
            raise ValueError(f"bad number {NUMBER}")
        except ValueError:
            logger.exception("failed")

    (line,) = logged("json", emit)
    entry = json.loads(line)
    assert "ValueError: bad number +86*******5678" in entry["exception"]
    assert NUMBER not in line


def test_inside_a_webhook_the_call_and_the_request_are_named():
    app = Flask(__name__)
    form = {"CallSid": CALL, "From": NUMBER}
    headers = {"I-Twilio-Idempotency-Token": "abc-123"}
    with app.test_request_context("/voice", method="POST", data=form, headers=headers):
        (line,) = logged("json", lambda logger: logger.info("call from %s", NUMBER))
    entry = json.loads(line)
    assert entry["call_sid"] == CALL
    assert entry["request_id"] == "abc-123"
    assert NUMBER not in line


def test_a_request_without_an_id_gets_one_kept_for_the_request():
    app = Flask(__name__)
    junk = {"X-Request-Id": "not a plain id; " + "x" * 100}
    with app.test_request_context("/api/v1/agents", headers=junk):
        lines = logged("json", lambda logger: [logger.info("one"), logger.info("two")])
    ids = {json.loads(line)["request_id"] for line in lines}
    assert len(ids) == 1 and len(ids.pop()) == 32


@pytest.mark.parametrize("log_format", ["", "text", "yaml"])
def test_any_other_format_keeps_the_text_lines(log_format):
    (line,) = logged(log_format, lambda logger: logger.warning("caller %s", NUMBER))
    assert line.endswith("WARNING hotline.test_json_logs: caller +86*******5678")


def test_log_format_json_in_the_environment_chooses_json(monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert isinstance(logs.formatter(), logs.JsonFormatter)
    monkeypatch.delenv("LOG_FORMAT")
    assert not isinstance(logs.formatter(), logs.JsonFormatter)
