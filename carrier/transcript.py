"""The transcript of one call leg: what was heard and done, every webhook, and how it ended."""

from __future__ import annotations

import re
import threading
from typing import Any

import phonenumbers

_NUMBER = re.compile(r"(\+|%2B)(\d{6,15})", re.IGNORECASE)


def mask_number(number: str | None) -> str:
    """Hide a phone number's middle digits, keeping the country code and the last four digits."""
    if not number:
        return ""
    if not number.startswith("+") or len(number) < 8:
        return number
    try:
        code = str(phonenumbers.parse(number).country_code)
    except phonenumbers.NumberParseException:
        code = number[1:3]
    hidden = len(number) - 1 - len(code) - 4
    return f"+{code}{'*' * max(hidden, 0)}{number[-4:]}"


def mask_text(text: str) -> str:
    """Mask every E.164 number inside a line of text (for logs)."""
    return _NUMBER.sub(lambda match: mask_number("+" + match.group(2)), text)


class Transcript:
    """Events of one call leg in virtual seconds since the call began, plus its outcome."""

    def __init__(self, call_sid: str, *, caller: str, called: str, direction: str, started: float):
        self._lock = threading.Lock()
        self.call_sid = call_sid
        self.caller = caller
        self.called = called
        self.direction = direction
        self.started = started
        self.entries: list[dict[str, Any]] = []
        self.outcome: dict[str, Any] = {
            "status": "queued",
            "ended_by": None,
            "summary": None,
            "bridged_to": [],
            "queues": [],
            "voicemail": None,
            "crisis": False,
            "errors": [],
        }

    def add(self, at: float, kind: str, **fields: Any) -> None:
        """Append one event that happened at virtual time `at`."""
        entry = {"t": round(max(at - self.started, 0.0), 2), "kind": kind, **fields}
        with self._lock:
            self.entries.append(entry)

    def note_outcome(self, **fields: Any) -> None:
        """Merge facts into the outcome (list fields are extended, others replaced)."""
        with self._lock:
            for key, value in fields.items():
                current = self.outcome.get(key)
                if isinstance(current, list) and not isinstance(value, list):
                    if value not in current:
                        current.append(value)
                else:
                    self.outcome[key] = value

    def to_dict(self) -> dict[str, Any]:
        """Return the transcript as plain JSON-ready data."""
        with self._lock:
            return {
                "call_sid": self.call_sid,
                "from": self.caller,
                "to": self.called,
                "direction": self.direction,
                "entries": [dict(entry) for entry in self.entries],
                "outcome": {
                    key: list(value) if isinstance(value, list) else value
                    for key, value in self.outcome.items()
                },
            }


def _describe(entry: dict[str, Any]) -> str:
    """Render one transcript entry as a short human line."""
    kind = entry["kind"]
    if kind == "heard":
        if entry.get("from"):
            return f"heard    {entry['text']}  (from {_speaker(entry)} in the conference)"
        return f"heard    {entry['text']}"
    if kind == "played":
        return f"played   {entry['name']}"
    if kind == "pressed":
        return f"pressed  {entry['keys']}" + (f"  ({entry['note']})" if entry.get("note") else "")
    if kind == "said" and entry.get("where") == "conference":
        return f"said     “{entry['text']}”  (in the conference; {_audience(entry)})"
    if kind == "said":
        return f"said     “{entry['text']}”" + (f"  ({entry['note']})" if entry.get("note") else "")
    if kind == "hold":
        return f"hold     {entry['action']} in {entry['name']}"
    if kind == "silent":
        return f"silent   for {entry['seconds']} s"
    if kind == "webhook":
        status = entry["status"] if entry["status"] is not None else entry.get("failure", "-")
        return (
            f"webhook  {entry['method']} {entry['path']} [{entry['purpose']}] -> {status}"
            f" in {entry['latency_ms']} ms"
        )
    if kind == "error":
        return f"error    {entry['code']}: {entry['message']}"
    if kind == "fallback":
        return f"fallback {entry['code']} on {entry['failed']}: asking {entry['url']}"
    details = {k: v for k, v in entry.items() if k not in ("t", "kind")}
    text = ", ".join(f"{key}={value}" for key, value in details.items())
    return f"{kind:<8} {text}".rstrip()


def _speaker(entry: dict[str, Any]) -> str:
    """Name who said a line heard in a conference: their label and call SID."""
    sid = entry["from"]
    return f"{entry['label']} ({sid})" if entry.get("label") else sid


def _audience(entry: dict[str, Any]) -> str:
    """Say who heard a line said in a conference, or why nobody did."""
    heard_by = entry.get("heard_by") or []
    if not heard_by:
        return "heard by nobody" + (f": {entry['note']}" if entry.get("note") else "")
    return "heard by " + ", ".join(entry.get("heard_by_labels") or heard_by)


def render(data: dict[str, Any]) -> str:
    """Render a transcript (as served by the control API) as text, numbers masked."""
    lines = [
        f"call {data['call_sid']}  from {mask_number(data['from'])}  to {mask_number(data['to'])}",
    ]
    for entry in data["entries"]:
        lines.append(mask_text(f"{entry['t']:7.1f}s  {_describe(entry)}"))
    outcome = data["outcome"]
    lines.append(mask_text(f"outcome: {outcome.get('summary') or outcome.get('status')}"))
    return "\n".join(lines)
