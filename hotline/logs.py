"""Logging set-up: one format, and phone numbers masked in every record whatever logs it.

LOG_FORMAT=json writes one JSON object per line (time, level, logger, message, and call_sid,
request_id and event when known), for a log shipper; anything else keeps the text lines.

The handler `configure` installs writes on a thread of its own: a webhook's thread masks the
record and puts it on a queue, and the writer thread formats and writes it. Each process has its
writer (started again in a forked child, such as a gunicorn worker) and drains it at exit.
"""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import multiprocessing.util
import os
import queue
import re
import threading
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO

from flask import has_request_context, request

from routing.privacy import mask_text

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The handler configure() installs, known by name so it is set up once and only it is changed.
HANDLER_NAME = "hotline"
# A request id a client or a proxy sends is kept only when it is short and plain.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Headers naming the request: a proxy's, or Twilio's own id for a webhook delivery.
_REQUEST_ID_HEADERS = ("X-Request-Id", "I-Twilio-Idempotency-Token")
_REQUEST_ID_KEY = "hotline.request_id"
_CALL_SID = re.compile(r"CA[0-9a-fA-F]{32}")
# How long the log writer lets records gather before one write: a line is out within this.
BATCH_S = 0.05
# Put on the writer's queue to end it.
_STOP = object()


class MaskingFilter(logging.Filter):
    """Rewrites each record's message with phone numbers masked before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the formatted message; never drops a record."""
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line; call_sid, request_id and event only when known."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, numbers masked in every text it carries."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            # The masking filter has masked it already; masking again costs little and covers
            # a handler someone added without the filter.
            "message": mask_text(record.getMessage()),
        }
        context = _request_context()
        for name in ("call_sid", "request_id", "event"):
            value = getattr(record, name, None) or context.get(name)
            if value:
                entry[name] = mask_text(str(value)) if name == "event" else str(value)
        if record.exc_info:
            entry["exception"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def _request_context() -> dict[str, str]:
    """The call SID and request id of the request being served, when there is one."""
    if not has_request_context():
        return {}
    known = {"request_id": request_id()}
    call_sid = request.args.get("CallSid", "")
    # Only a form body is read: parsing any other body here could consume it before its view.
    if not call_sid and request.mimetype == "application/x-www-form-urlencoded":
        call_sid = request.form.get("CallSid", "")
    if _CALL_SID.fullmatch(call_sid):
        known["call_sid"] = call_sid
    return known


def request_id() -> str:
    """This request's id: the one a proxy or Twilio sent when plain, else a new one, kept."""
    environ = request.environ
    if _REQUEST_ID_KEY not in environ:
        sent = next((request.headers[h] for h in _REQUEST_ID_HEADERS if h in request.headers), "")
        environ[_REQUEST_ID_KEY] = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    return environ[_REQUEST_ID_KEY]


class RequestContextFilter(logging.Filter):
    """Names the call and the request on the record while still on the request's thread."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach call_sid and request_id when known; never drops a record."""
        for name, value in _request_context().items():
            if not getattr(record, name, None):
                setattr(record, name, value)
        return True


class QueuedHandler(logging.handlers.QueueHandler):
    """Masks a record on the caller's thread and leaves the writing to a writer thread.

    Without a running writer (before `start`, after `stop`) it writes on the caller's thread,
    so a line logged at start-up or at exit is never lost.
    """

    def __init__(self, target: logging.Handler) -> None:
        super().__init__(queue.SimpleQueue())
        self.target = target
        self._writer: BatchWriter | None = None
        self._resume = False
        _QUEUED.add(self)

    def start(self) -> None:
        """Start this process's writer thread (a forked child starts its own)."""
        if self._writer is None:
            self._writer = BatchWriter(self.queue, self.target)
            self._writer.start()

    def stop(self) -> None:
        """Write what is queued and stop the writer; later records are written directly."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter (masking) then queue; the queue is thread-safe, so no handler lock is taken."""
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the record for the writer, or write it here when no writer runs."""
        if self._writer is None:
            self.target.handle(record)
            return
        super().emit(record)

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """The record with its message merged now: its arguments may change once queued."""
        # Unlike QueueHandler's own, the exception is kept (one process, nothing pickled) for
        # the JSON formatter's `exception` field.
        record.msg, record.args = record.getMessage(), None
        return record

    def before_fork(self) -> None:
        """Drain and stop the writer: no thread is halfway through a write as the process forks."""
        self._resume = self._writer is not None
        self.stop()

    def after_fork_in_parent(self) -> None:
        """Start the writer again if it ran before the fork."""
        if self._resume:
            self.start()

    def after_fork_in_child(self) -> None:
        """A queue and writer of the child's own (a gunicorn worker's): threads do not fork."""
        self.queue = queue.SimpleQueue()
        if self._resume:
            self.start()


class BatchWriter:
    """The thread that formats queued records and writes what gathered in one write.

    It sleeps on the queue while nothing is logged; once a record comes it lets others gather
    for BATCH_S, so a busy web worker's thread wakes a few times a second, not once a line.
    """

    def __init__(self, records: queue.SimpleQueue, target: logging.Handler) -> None:
        self.records = records
        self.target = target
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hotline-log-writer", daemon=True)

    def start(self) -> None:
        """Start writing."""
        self._thread.start()

    def stop(self) -> None:
        """Write everything queued so far, then end the thread."""
        self._stopping.set()
        self.records.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        """Wait for a record, let a batch gather, write it; until told to stop."""
        while True:
            batch = [self.records.get()]
            if batch[0] is not _STOP:
                self._stopping.wait(BATCH_S)
            while True:
                try:
                    batch.append(self.records.get_nowait())
                except queue.Empty:
                    break
            stopped = any(record is _STOP for record in batch)
            self.write([record for record in batch if record is not _STOP])
            if stopped:
                return

    def write(self, records: list[logging.LogRecord]) -> None:
        """Write the records: a stream handler's lines in one write, any other one by one."""
        target = self.target
        if not isinstance(target, logging.StreamHandler) or target.filters:
            for record in records:
                target.handle(record)
            return
        lines = []
        for record in records:
            if record.levelno < target.level:
                continue
            try:
                lines.append(target.format(record) + target.terminator)
            except Exception:  # noqa: BLE001 - logging's own rule: a bad record never raises
                target.handleError(record)
        if not lines:
            return
        with target.lock:  # type: ignore[union-attr]
            try:
                target.stream.write("".join(lines))
                target.flush()
            except Exception:  # noqa: BLE001
                target.handleError(records[-1])


def handler(stream: IO[str] | None = None, log_format: str | None = None) -> logging.Handler:
    """A stream handler in the chosen format (LOG_FORMAT by default), with numbers masked."""
    made = logging.StreamHandler(stream)
    made.set_name(HANDLER_NAME)
    made.setFormatter(formatter(log_format))
    made.addFilter(MaskingFilter())
    return made


def formatter(log_format: str | None = None) -> logging.Formatter:
    """JSON lines when the format (LOG_FORMAT by default) is `json`, else the text lines."""
    chosen = log_format if log_format is not None else os.environ.get("LOG_FORMAT", "")
    return JsonFormatter() if chosen.strip().lower() == "json" else logging.Formatter(TEXT_FORMAT)


def queued_handler(target: logging.Handler | None = None) -> QueuedHandler:
    """The writer-thread handler in front of `target` (the stream handler by default), started.

    Masking, and for JSON naming the call and the request, happen before a record is queued;
    the writer is started again in each forked child and drained at the process's exit.
    """
    target = target if target is not None else handler()
    made = QueuedHandler(target)
    made.set_name(HANDLER_NAME)
    made.addFilter(MaskingFilter())
    if isinstance(target.formatter, JsonFormatter):
        made.addFilter(RequestContextFilter())
    # The target's filters would run on the writer thread; masking already ran on the caller's.
    for each in list(target.filters):
        target.removeFilter(each)
    made.start()
    return made


def _each_queued(action: Callable[[QueuedHandler], None]) -> Callable[[], None]:
    """A hook doing `action` to every writer-thread handler alive in this process."""

    def hook() -> None:
        for each in list(_QUEUED):
            action(each)

    return hook


# Every writer-thread handler of the process, for the fork and exit hooks below.
_QUEUED: weakref.WeakSet[QueuedHandler] = weakref.WeakSet()
os.register_at_fork(
    before=_each_queued(QueuedHandler.before_fork),
    after_in_parent=_each_queued(QueuedHandler.after_fork_in_parent),
    after_in_child=_each_queued(QueuedHandler.after_fork_in_child),
)
# Lines still queued at exit are written before the process ends.
atexit.register(_each_queued(QueuedHandler.stop))


def _drain_at_multiprocessing_exit(_: object) -> None:
    """In a multiprocessing child (RQ's scheduler), which ends without atexit: drain there."""
    multiprocessing.util.Finalize(None, _each_queued(QueuedHandler.stop), exitpriority=0)


multiprocessing.util.register_after_fork(_QUEUED, _drain_at_multiprocessing_exit)


def configure(level: int = logging.INFO) -> None:
    """Install the writer-thread handler when the root has none, and mask on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(queued_handler())
    root.setLevel(level)
    # twilio-python logs every request's headers at INFO: noise, and it names phone numbers.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    for each in root.handlers:
        if not any(isinstance(f, MaskingFilter) for f in each.filters):
            each.addFilter(MaskingFilter())
