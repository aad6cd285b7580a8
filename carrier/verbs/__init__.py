"""The TwiML verbs the carrier runs, one module per family, and the table that picks a handler.

A handler takes the leg running the verb, the verb's element and the document it came from; it
returns the document to run next when the verb points to one (an action, a Redirect), else None.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TYPE_CHECKING

from carrier.document import Document
from carrier.verbs import dial, enqueue, flow, gather, record, say_play, start

if TYPE_CHECKING:
    from carrier.leg import Leg

Handler = Callable[["Leg", ET.Element, Document], "Document | None"]

# Every verb twiml_reader.SUPPORTED lets through has its handler here.
HANDLERS: dict[str, Handler] = {
    "Say": say_play.say,
    "Play": say_play.play,
    "Pause": say_play.pause,
    "Gather": gather.gather,
    "Redirect": flow.redirect,
    "Hangup": flow.hangup,
    "Reject": flow.reject,
    "Enqueue": enqueue.enqueue,
    "Leave": enqueue.leave,
    "Dial": dial.dial,
    "Record": record.record,
    "Start": start.start,
    "Stop": start.stop,
}
