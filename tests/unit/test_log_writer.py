"""The log writer thread: a webhook's thread only masks and queues; every line is written once."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from flask import Flask

from hotline import logs

CALL = "CA" + "2" * 32
NUMBER = "+8613812345678"
REPO = Path(__file__).resolve().parents[2]


class WhoWrites(io.StringIO):
    """A stream that notes which thread wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        """Write, noting the writing thread's name."""
        self.writers.add(threading.current_thread().name)
        return super().write(text)


def queued_logger(
    stream: io.StringIO, log_format: str
) -> tuple[logging.Logger, logs.QueuedHandler]:
    """A fresh logger whose only handler is a started writer-thread handler on `stream`."""
    logger = logging.getLogger("hotline.test_log_writer")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    handler = logs.queued_handler(logs.handler(stream, log_format))
    logger.addHandler(handler)
    return logger, handler


def test_a_line_logged_in_a_webhook_is_written_by_the_writer_with_its_call_and_masked_number():
    stream = WhoWrites()
    logger, handler = queued_logger(stream, "json")
    app = Flask(__name__)
    form = {"CallSid": CALL, "From": NUMBER}
    headers = {"I-Twilio-Idempotency-Token": "tok-1"}

    def webhook() -> None:
        with app.test_request_context("/voice", method="POST", data=form, headers=headers):
            logger.info("incoming call %s from %s", CALL, NUMBER)

    thread = threading.Thread(target=webhook, name="webhook-thread")
    try:
        thread.start()
        thread.join()
    finally:
        handler.stop()
        logger.handlers.clear()
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == f"incoming call {CALL} from +86*******5678"
    assert entry["call_sid"] == CALL
    assert entry["request_id"] == "tok-1"
    assert NUMBER not in line
    # The webhook's thread neither formatted nor wrote the line.
    assert stream.writers == {"hotline-log-writer"}


def test_lines_from_many_threads_are_all_written_in_order_per_thread_and_masked():
    stream = io.StringIO()
    logger, handler = queued_logger(stream, "text")

    def caller(index: int) -> None:
        for line in range(50):
            logger.info("thread %d line %d from %s", index, line, NUMBER)

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(8)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        handler.stop()
        logger.handlers.clear()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 8 * 50
    assert all(line.endswith("from +86*******5678") for line in lines)
    for index in range(8):
        numbers = [int(line.split()[7]) for line in lines if f" thread {index} line " in line]
        assert numbers == list(range(50))


def test_a_line_is_out_soon_without_stopping_the_writer():
    stream = io.StringIO()
    logger, handler = queued_logger(stream, "text")
    try:
        logger.warning("caller %s hung up", NUMBER)
        deadline = time.monotonic() + 5
        while "hung up" not in stream.getvalue() and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        assert stream.getvalue().endswith("caller +86*******5678 hung up\n")
    finally:
        handler.stop()
        logger.handlers.clear()


def test_after_the_writer_stops_a_line_is_written_on_the_callers_thread():
    stream = WhoWrites()
    logger, handler = queued_logger(stream, "text")
    handler.stop()
    try:
        logger.info("late line from %s", NUMBER)
    finally:
        logger.handlers.clear()
    assert stream.getvalue().endswith("late line from +86*******5678\n")
    assert stream.writers == {threading.current_thread().name}


def test_an_exception_keeps_its_own_field_in_json():
    stream = io.StringIO()
    logger, handler = queued_logger(stream, "json")
    try:
        try:
            raise ValueError(f"bad number {NUMBER}")
        except ValueError:
            logger.exception("failed")
    finally:
        handler.stop()
        logger.handlers.clear()
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "failed"
    assert "ValueError: bad number +86*******5678" in entry["exception"]


FORKING = """
import logging, os, sys
from hotline import logs
logs.configure()
log = logging.getLogger("forks")
log.info("parent before the fork from +8613812345678")
child = os.fork()
if child == 0:
    for line in range(200):
        log.info("child line %d", line)
    sys.exit(0)  # a normal exit, as a gunicorn worker's: the writer is drained at exit
os.waitpid(child, 0)
log.info("parent after the fork")
"""


def test_a_forked_child_writes_its_own_lines_once_and_drains_them_at_exit():
    done = subprocess.run(
        [sys.executable, "-c", FORKING],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    lines = done.stderr.splitlines()
    child = [line for line in lines if " child line " in line]
    assert [int(line.rsplit(" ", 1)[1]) for line in child] == list(range(200))
    assert sum("parent before the fork from +86*******5678" in line for line in lines) == 1
    assert sum("parent after the fork" in line for line in lines) == 1
    assert "+8613812345678" not in done.stderr


IN_MULTIPROCESSING = """
import logging, multiprocessing
from hotline import logs
logs.configure()

def child():
    for line in range(200):
        logging.getLogger("scheduler").info("child line %d", line)

if __name__ == "__main__":
    process = multiprocessing.get_context("fork").Process(target=child)
    process.start()
    process.join()
    assert process.exitcode == 0
"""


def test_a_multiprocessing_child_which_ends_without_atexit_still_drains_its_lines(tmp_path):
    script = tmp_path / "scheduler.py"
    script.write_text(IN_MULTIPROCESSING)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    child = [line for line in done.stderr.splitlines() if " child line " in line]
    assert [int(line.rsplit(" ", 1)[1]) for line in child] == list(range(200))
