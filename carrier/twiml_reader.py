"""Reading TwiML like Twilio: parse the whole document, check verbs and nesting, name errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

# Where a document runs decides which verbs it may use.
CALL = "call"
QUEUE_WAIT = "queue-wait"
CONFERENCE_WAIT = "conference-wait"
WHISPER = "whisper"

SUPPORTED = {
    "Say", "Play", "Pause", "Gather", "Redirect", "Hangup", "Reject",
    "Enqueue", "Dial", "Record", "Leave", "Start", "Stop",
}  # fmt: skip
# Real Twilio verbs this carrier does not run; a document using them is reported, not skipped.
UNSUPPORTED = {"Connect", "Pay", "Refer", "Echo", "Sms", "Prompt", "Autopilot"}
# The tracks <Start><Stream> and <Start><Transcription> take.
STREAM_TRACKS = {"inbound_track", "outbound_track", "both_tracks"}

ALLOWED = {
    CALL: SUPPORTED,
    QUEUE_WAIT: {"Play", "Say", "Pause", "Hangup", "Redirect", "Leave", "Gather"},
    CONFERENCE_WAIT: {"Say", "Play", "Pause", "Redirect"},
    WHISPER: {"Say", "Play", "Pause", "Gather", "Hangup", "Redirect", "Record"},
}
CHILDREN = {
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Number", "Client", "Queue", "Conference", "Sip"},
    "Enqueue": {"Task"},
    "Client": {"Identity", "Parameter"},
    "Start": {"Stream", "Transcription"},
    "Stop": {"Stream", "Transcription"},
    "Stream": {"Parameter"},
    "Transcription": {"Parameter"},
}
# Say may hold SSML; its children are read for their text only.
FREE_CHILDREN = {"Say"}
INTEGER_ATTRIBUTES = {
    "Gather": ("timeout", "numDigits"),
    "Pause": ("length",),
    "Say": ("loop",),
    "Play": ("loop",),
    "Dial": ("timeout", "timeLimit"),
    "Record": ("timeout", "maxLength"),
}
KEYS = set("0123456789*#")


@dataclass
class TwimlError(Exception):
    """A document Twilio would refuse, with Twilio's error code."""

    code: int
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def parse(text: str, *, context: str = CALL) -> ET.Element:
    """Parse and check a TwiML document for a context, raising TwimlError like Twilio would."""
    try:
        # The stand-in parses the TwiML of the hotline it drives; expat expands no external
        # entities and caps entity expansion.
        root = ET.fromstring(text.strip())  # nosec B314
    except ET.ParseError as error:
        raise TwimlError(12100, f"Document parse failure: {error}") from None
    if root.tag != "Response":
        raise TwimlError(12100, f"Document parse failure: root element is <{root.tag}>")
    for verb in root:
        check_verb(verb, context)
    return root


def check_verb(verb: ET.Element, context: str) -> None:
    """Check one verb's place, children and attribute values."""
    name = verb.tag
    if name in UNSUPPORTED:
        raise TwimlError(12200, f"Schema validation warning: <{name}> is not run by the carrier")
    if name not in SUPPORTED:
        raise TwimlError(12200, f"Schema validation warning: unknown verb <{name}>")
    if name not in ALLOWED[context]:
        code = 13238 if context == CONFERENCE_WAIT else 12200
        raise TwimlError(code, f"Schema validation warning: <{name}> is not allowed in {context}")
    if name not in FREE_CHILDREN:
        allowed = CHILDREN.get(name, set())
        for child in verb:
            if child.tag not in allowed:
                raise TwimlError(
                    12200, f"Schema validation warning: <{child.tag}> is not allowed in <{name}>"
                )
            if child.tag in CHILDREN:
                for grandchild in child:
                    if grandchild.tag not in CHILDREN[child.tag]:
                        raise TwimlError(
                            12200,
                            f"Schema validation warning: <{grandchild.tag}> in <{child.tag}>",
                        )
            elif name != "Client" and len(child):
                raise TwimlError(12200, f"Schema validation warning: <{child.tag}> has children")
    for attribute in INTEGER_ATTRIBUTES.get(name, ()):
        value = verb.get(attribute)
        if value is not None and not value.strip().isdigit():
            raise TwimlError(12200, f"Schema validation warning: <{name} {attribute}={value!r}>")
    if name == "Gather":
        check_gather(verb)
    if name == "Start":
        check_start(verb)
    if name in ("Redirect", "Play") and not (verb.text or "").strip():
        raise TwimlError(12200, f"Schema validation warning: <{name}> needs a URL")
    if name == "Enqueue" and not (verb.text or "").strip() and not verb.get("workflowSid"):
        raise TwimlError(12200, "Schema validation warning: <Enqueue> needs a queue name")
    if name == "Enqueue" and verb.get("workflowSid"):
        raise TwimlError(12200, "Schema validation warning: TaskRouter workflows are not run")


def check_gather(verb: ET.Element) -> None:
    """Check Gather's input modes and finishOnKey."""
    modes = (verb.get("input") or "dtmf").split()
    if not modes or any(mode not in ("dtmf", "speech") for mode in modes):
        raise TwimlError(12200, f"Schema validation warning: <Gather input={verb.get('input')!r}>")
    finish = verb.get("finishOnKey")
    if finish is not None and (len(finish) > 1 or (finish and finish not in KEYS)):
        raise TwimlError(12200, f"Schema validation warning: <Gather finishOnKey={finish!r}>")


def check_start(verb: ET.Element) -> None:
    """Check that each <Stream> has a URL and each noun a track Twilio knows."""
    for noun in verb:
        if noun.tag == "Stream" and not (noun.get("url") or "").strip():
            raise TwimlError(12200, "Schema validation warning: <Stream> needs a url")
        track = noun.get("track")
        if track is not None and track not in STREAM_TRACKS:
            raise TwimlError(12200, f"Schema validation warning: <{noun.tag} track={track!r}>")


def text_of(element: ET.Element) -> str:
    """Return the spoken text of an element, SSML tags included, whitespace collapsed."""
    return " ".join("".join(element.itertext()).split())


def integer(element: ET.Element, attribute: str, default: int) -> int:
    """Read an integer attribute (already checked by parse)."""
    value = element.get(attribute)
    return int(value) if value is not None and value.strip() else default


def flag(element: ET.Element, attribute: str, default: bool) -> bool:
    """Read a true/false attribute."""
    value = element.get(attribute)
    if value is None:
        return default
    return value.strip().lower() == "true"
