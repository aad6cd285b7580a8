"""Real-time transcription: the words a call's party says and hears, posted as Twilio posts them.

`<Start><Transcription statusCallbackUrl track languageCode name partialResults>` makes the
carrier post `transcription-started`, then a `transcription-content` for every talk line the
leg says (Track inbound_track) and every line it hears in a conference (outbound_track, as
carrier/hearing.py decides who hears whom), with Final=true and TranscriptionData
{"transcript": the line's words, "confidence": 0.9}, and `transcription-stopped` when the call
ends or `<Stop><Transcription name>` asks. With partialResults="true" each line first comes
as a partial result (its first half, Final=false). The callbacks are signed like every
webhook and sent in order from the transcription's own thread, so a slow app never holds up
the call.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from carrier.clock import Clock
from carrier.network import Call, new_sid
from carrier.transcript import Transcript
from carrier.webhook import Webhooks

log = logging.getLogger("carrier.transcriptions")

# What the stand-in's speech recognition is sure of: it reports the script's words.
CONFIDENCE = 0.9
PARTIAL_STABILITY = "0.8"
# The tracks each <Transcription track> transcribes.
TRACKS = {
    "inbound_track": ("inbound_track",),
    "outbound_track": ("outbound_track",),
    "both_tracks": ("inbound_track", "outbound_track"),
}


@dataclass
class Transcription:
    """One live transcription of a call: where its callbacks go and the next one's number."""

    sid: str
    call_sid: str
    account_sid: str
    name: str | None
    track: str
    language: str
    url: str | None
    method: str
    partial: bool
    transcript: Transcript
    sequence: int = 0
    outbox: queue.Queue[dict[str, str] | None] = field(default_factory=queue.Queue)


class Transcriptions:
    """The live transcriptions of every call, each posting from its own thread."""

    def __init__(self, clock: Clock, webhooks: Webhooks):
        self.clock = clock
        self.webhooks = webhooks
        self.lock = threading.Lock()
        self.live: dict[str, list[Transcription]] = {}
        self._threads: list[threading.Thread] = []

    def start(
        self,
        call: Call,
        *,
        url: str | None,
        method: str = "POST",
        name: str | None = None,
        track: str = "both_tracks",
        language: str = "en-US",
        partial: bool = False,
    ) -> Transcription:
        """Start transcribing a call; its callbacks start with transcription-started."""
        transcription = Transcription(
            sid=new_sid("GT"),
            call_sid=call.sid,
            account_sid=call.account_sid,
            name=name,
            track=track,
            language=language,
            url=url,
            method=method,
            partial=partial,
            transcript=call.transcript,
        )
        with self.lock:
            self.live.setdefault(call.sid, []).append(transcription)
            self._queue(
                transcription,
                "transcription-started",
                {
                    "Track": track,
                    "LanguageCode": language,
                    "PartialResults": str(partial).lower(),
                    # Twilio's default engine; the carrier's words come from the script.
                    "TranscriptionEngine": "google",
                },
            )
            thread = None
            if url:
                self._threads = [alive for alive in self._threads if alive.is_alive()]
                thread = threading.Thread(
                    target=self._post_all,
                    args=(transcription,),
                    name=f"transcription-{transcription.sid[-6:]}",
                    daemon=True,
                )
                self._threads.append(thread)
        call.transcript.add(
            self.clock.now(),
            "transcription",
            action="started",
            name=name,
            track=track,
            language=language,
            **({"path": urlsplit(url).path} if url else {}),
        )
        if thread is not None:
            thread.start()
        return transcription

    def said(self, call_sid: str, text: str) -> None:
        """Transcribe a line the call's party said (the inbound track)."""
        self._content(call_sid, "inbound_track", text)

    def heard(self, call_sid: str, text: str) -> None:
        """Transcribe a line the call's party heard (the outbound track)."""
        self._content(call_sid, "outbound_track", text)

    def _content(self, call_sid: str, track: str, text: str) -> None:
        """Queue a line's results for every live transcription of the call on that track."""
        with self.lock:
            for transcription in self.live.get(call_sid, ()):
                if track not in TRACKS[transcription.track]:
                    continue
                if transcription.partial:
                    words = text[: max(len(text) // 2, 1)]
                    self._queue(
                        transcription,
                        "transcription-content",
                        _result(track, words, final=False, language=transcription.language),
                    )
                self._queue(
                    transcription,
                    "transcription-content",
                    _result(track, text, final=True, language=transcription.language),
                )

    def stop(self, call_sid: str, name: str | None = None) -> int:
        """Stop a call's transcription by name (None: all of the call's); return how many."""
        with self.lock:
            live = self.live.get(call_sid, [])
            stopped = [t for t in live if name is None or t.name == name]
            for transcription in stopped:
                live.remove(transcription)
                self._queue(transcription, "transcription-stopped", {})
                transcription.outbox.put(None)
            if not live:
                self.live.pop(call_sid, None)
        for transcription in stopped:
            transcription.transcript.add(
                self.clock.now(), "transcription", action="stopped", name=transcription.name
            )
        return len(stopped)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every transcription and wait up to `timeout` seconds in all for their last
        callbacks (each thread is a daemon: one stuck on a slow app does not keep us)."""
        with self.lock:
            calls = list(self.live)
        for call_sid in calls:
            self.stop(call_sid)
        with self.lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def _queue(self, transcription: Transcription, event: str, fields: dict[str, str]) -> None:
        """Number one callback and queue it for the transcription's thread (under the lock)."""
        transcription.sequence += 1
        transcription.outbox.put(
            {
                "AccountSid": transcription.account_sid,
                "CallSid": transcription.call_sid,
                "TranscriptionSid": transcription.sid,
                "TranscriptionEvent": event,
                "SequenceId": str(transcription.sequence),
                "Timestamp": self.clock.utcnow().isoformat().replace("+00:00", "Z"),
                **fields,
            }
        )

    def _post_all(self, transcription: Transcription) -> None:
        """Post the transcription's callbacks in order until it stops."""
        while (params := transcription.outbox.get()) is not None:
            assert transcription.url is not None
            self.webhooks.request(
                transcription.method,
                transcription.url,
                params,
                transcript=transcription.transcript,
                purpose="transcription",
            )


def _result(track: str, text: str, *, final: bool, language: str) -> dict[str, str]:
    """Return the fields of one transcription-content callback."""
    fields = {
        "Track": track,
        "LanguageCode": language,
        "TranscriptionData": json.dumps(
            {"transcript": text, "confidence": CONFIDENCE}, ensure_ascii=False
        ),
        "Final": "true" if final else "false",
    }
    if not final:
        fields["Stability"] = PARTIAL_STABILITY
    return fields
