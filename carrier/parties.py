"""Simulated people on the line: callers with a script, agents' phones configured by number."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# What a phone number nobody configured does: answers, listens, says nothing, hangs up later.
DEFAULT_ANSWER_AFTER_S = 3.0
DEFAULT_STAY_S = 60.0
# A caller who never hangs up still leaves after this long, so no call runs forever.
DEFAULT_MAX_CALL_S = 1800.0
# How long a simulated person takes to react to a prompt before pressing a key.
REACTION_S = 1.0
# A live caller (a person at the demo phone page) reacts in real seconds: each prompt waits as
# long as its words take to speak plus its timeout, plus this grace, and a call lasts at most
# LIVE_MAX_CALL_S real seconds.
LIVE_GRACE_S = 5.0
LIVE_MAX_CALL_S = 1800.0


@dataclass(frozen=True)
class Step:
    """One answer to a prompt that waits for input: keys pressed, words said, or silence."""

    kind: str  # "press", "say" or "wait"
    value: str = ""

    @classmethod
    def parse(cls, data: Any) -> Step:
        """Read a step from {"press": "1"}, {"say": "text"}, {"wait": true} or "press:1" forms."""
        if isinstance(data, str):
            kind, _, value = data.partition(":")
            data = {kind: value or True}
        if not isinstance(data, dict) or len(data) != 1:
            raise ValueError(f"a step is one of press, say or wait, not {data!r}")
        ((kind, value),) = data.items()
        if kind == "press":
            keys = str(value)
            if not keys or any(key not in "0123456789*#" for key in keys):
                raise ValueError(f"press takes keys 0-9, * and #, not {keys!r}")
            return cls("press", keys)
        if kind == "say":
            if not str(value).strip():
                raise ValueError("say takes some words")
            return cls("say", str(value))
        if kind == "wait":
            return cls("wait")
        raise ValueError(f"unknown step {kind!r}")

    def to_dict(self) -> dict[str, Any]:
        """Return the step in its JSON form."""
        return {self.kind: self.value if self.kind != "wait" else True}


@dataclass(frozen=True)
class Line:
    """Something a party says in a conference, some virtual seconds after first joining one."""

    after: float
    say: str
    # The voice the words are heard in on a media stream: a name in carrier/voices (without
    # .wav) or an absolute path to a WAV file; None streams silence (transcription still has
    # the words).
    audio: str | None = None

    @classmethod
    def parse(cls, data: Any) -> Line:
        """Read a line from {"after": 5, "say": "words"}, optionally with "audio": "voice"."""
        if not isinstance(data, dict) or not {"after", "say"} <= set(data) <= _LINE_FIELDS:
            raise ValueError(
                f'a talk line is {{"after": SECONDS, "say": "words", "audio": "voice"}} (audio '
                f"optional), not {data!r}"
            )
        try:
            after = float(data["after"])
        except (TypeError, ValueError):
            raise ValueError(f"after takes a number of seconds, not {data['after']!r}") from None
        if after < 0 or not str(data["say"]).strip():
            raise ValueError("a talk line says some words, zero or more seconds after joining")
        audio = data.get("audio")
        if audio is not None and not _is_voice(audio):
            raise ValueError(f"audio names a voice or a WAV file's absolute path, not {audio!r}")
        return cls(after, str(data["say"]), audio)

    def to_dict(self) -> dict[str, Any]:
        """Return the line in its JSON form."""
        data: dict[str, Any] = {"after": self.after, "say": self.say}
        if self.audio is not None:
            data["audio"] = self.audio
        return data


_LINE_FIELDS = {"after", "say", "audio"}


def _is_voice(audio: Any) -> bool:
    """Tell whether a line's audio is a voice's name (letters, digits, _ and -) or an absolute
    path (a name cannot climb out of carrier/voices)."""
    if not isinstance(audio, str) or not audio.strip():
        return False
    return Path(audio).is_absolute() or all(c.isalnum() or c in "_-" for c in audio)


def parse_talk(data: Any) -> tuple[Line, ...]:
    """Read a talk list, ordered by when each line is said."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ValueError('talk takes a list of {"after": SECONDS, "say": "words"}')
    return tuple(sorted((Line.parse(item) for item in data), key=lambda line: line.after))


@dataclass(frozen=True)
class Script:
    """What one party does during a call: answers to prompts in order, and when to hang up."""

    steps: tuple[Step, ...] = ()
    # Virtual seconds after answering when this party hangs up (None: never on their own).
    hangup_after: float | None = None
    # What they say when recorded: a WAV path, "silence", "speech", or None (they stay silent).
    voicemail: str | None = None
    voicemail_seconds: float = 8.0
    # Sign this call's webhooks with a wrong token, as a forger would.
    forge_signature: bool = False
    # Words that make this party hang up once heard in full: a caller told to call again later.
    hangup_on: tuple[str, ...] = ()
    # Lines said in a conference, timed from when this party first joins one.
    talk: tuple[Line, ...] = ()

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Script:
        """Build a caller script from the control API's JSON."""
        known = {
            "steps",
            "hangup_after",
            "voicemail",
            "voicemail_seconds",
            "forge_signature",
            "hangup_on",
            "talk",
        }
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown script field(s): {', '.join(unknown)}")
        hangup_after = data.get("hangup_after")
        hangup_on = data.get("hangup_on", [])
        if not isinstance(hangup_on, list) or not all(isinstance(w, str) for w in hangup_on):
            raise ValueError("hangup_on takes a list of the words heard")
        return cls(
            steps=tuple(Step.parse(step) for step in data.get("steps", [])),
            hangup_after=float(hangup_after) if hangup_after is not None else None,
            voicemail=data.get("voicemail"),
            voicemail_seconds=float(data.get("voicemail_seconds", 8.0)),
            forge_signature=bool(data.get("forge_signature", False)),
            hangup_on=tuple(hangup_on),
            talk=parse_talk(data.get("talk")),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the script in its JSON form."""
        return {
            "steps": [step.to_dict() for step in self.steps],
            "hangup_after": self.hangup_after,
            "voicemail": self.voicemail,
            "voicemail_seconds": self.voicemail_seconds,
            "forge_signature": self.forge_signature,
            "hangup_on": list(self.hangup_on),
            "talk": [line.to_dict() for line in self.talk],
        }


class Party:
    """A person on one leg, working through their script one prompt at a time."""

    # A live party's inputs come from the control API while the call runs.
    live = False

    def __init__(
        self,
        script: Script,
        *,
        name: str | None = None,
        role: str | None = None,
        star_after: float | None = None,
    ):
        self.script = script
        self.name = name
        self.role = role
        self._next = 0
        # Seconds into a conference joined with <Dial hangupOnStar> before pressing * once.
        self.star_after = star_after
        self.star_used = False
        # When this party first joined a conference (virtual time), and the next line to say.
        self.talk_from: float | None = None
        self.talk_next = 0
        # Virtual seconds after answering before the carrier ends a call nobody hangs up.
        self.max_call_s = DEFAULT_MAX_CALL_S

    def peek(self) -> Step | None:
        """Return the next step without using it."""
        if self._next >= len(self.script.steps):
            return None
        return self.script.steps[self._next]

    def next_step(self) -> Step | None:
        """Return the answer to the prompt now waiting, or None when the script is used up."""
        if self._next >= len(self.script.steps):
            return None
        step = self.script.steps[self._next]
        self._next += 1
        return step


class LiveParty(Party):
    """A person at the demo phone page: keys and words arrive through the control API.

    Inputs are queued under the network's condition by the control API and taken by the leg's
    next <Gather>; a key pressed while a prompt is still being spoken waits for that Gather.
    """

    live = True

    def __init__(self, *, time_scale: float):
        super().__init__(Script())
        self.inputs: list[Step] = []
        self.time_scale = time_scale
        # Speaking time (virtual seconds) of what was heard since the last Gather ended.
        self.heard_s = 0.0
        self.max_call_s = LIVE_MAX_CALL_S / time_scale

    def ready(self) -> bool:
        """Tell whether an input is waiting (called under the network's condition)."""
        return bool(self.inputs)

    def peek(self) -> Step | None:
        """Return the next input without using it."""
        return self.inputs[0] if self.inputs else None

    def next_step(self) -> Step | None:
        """Take the next input, or None when the person has not done anything."""
        return self.inputs.pop(0) if self.inputs else None

    def patience(self, timeout: float) -> float:
        """Virtual seconds a Gather waits: the prompt's speaking time and timeout, in real time."""
        return (self.heard_s + timeout + LIVE_GRACE_S) / self.time_scale


@dataclass(frozen=True)
class Phone:
    """How the phone at one number behaves when the carrier rings it."""

    number: str
    name: str | None = None
    # Seconds of ringing before answering (None: never answers, the caller gets no-answer).
    answer_after: float | None = DEFAULT_ANSWER_AFTER_S
    busy: bool = False
    # Keys pressed at successive prompts after answering, e.g. ["1"] to accept a call.
    press: tuple[str, ...] = ()
    # Seconds on the line after answering before hanging up (None: stays until the other side).
    stay: float | None = DEFAULT_STAY_S
    # What the number is, for outcomes: "agent", "crisis-line", or anything else.
    role: str | None = None
    # Seconds into a conference (joined with hangupOnStar) before pressing * once, as an agent
    # does to reach their in-call menu; the next key in `press` answers that menu.
    star_after: float | None = None
    # Lines said in a conference (a supervisor coaching, an agent answering).
    talk: tuple[Line, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the phone in the form of its YAML entry."""
        return {
            "name": self.name,
            "answer_after": self.answer_after if self.answer_after is not None else "never",
            "busy": self.busy,
            "press": list(self.press),
            "stay": self.stay,
            "role": self.role,
            "star_after": self.star_after,
            "talk": [line.to_dict() for line in self.talk],
        }

    def party(self) -> Party:
        """Return a fresh person answering this phone for one call."""
        steps = tuple(Step("press", keys) for keys in self.press)
        return Party(
            Script(steps=steps, hangup_after=self.stay, talk=self.talk),
            name=self.name,
            role=self.role,
            star_after=self.star_after,
        )


_PHONE_FIELDS = {"name", "answer_after", "busy", "press", "stay", "role", "star_after", "talk"}


def phone_from_mapping(number: str, data: dict[str, Any] | None) -> Phone:
    """Build one phone from its YAML entry, checking field names and types."""
    data = data or {}
    unknown = sorted(set(data) - _PHONE_FIELDS)
    if unknown:
        raise ValueError(f"{number}: unknown field(s) {', '.join(unknown)}")
    press = data.get("press", ())
    if isinstance(press, str | int):
        press = (str(press),)
    answer_after = data.get("answer_after", DEFAULT_ANSWER_AFTER_S)
    if answer_after == "never":
        answer_after = None
    stay = data.get("stay", DEFAULT_STAY_S)
    return Phone(
        number=number,
        name=data.get("name"),
        answer_after=float(answer_after) if answer_after is not None else None,
        busy=bool(data.get("busy", False)),
        press=tuple(str(keys) for keys in press),
        stay=float(stay) if stay is not None else None,
        role=data.get("role"),
        star_after=float(data["star_after"]) if data.get("star_after") is not None else None,
        talk=parse_talk(data.get("talk")),
    )


@dataclass
class Directory:
    """Every configured phone by number or client identity, with a default for the rest."""

    phones: dict[str, Phone] = field(default_factory=dict)

    def lookup(self, number: str) -> Phone:
        """Return the phone at this number, or the default phone for unknown numbers."""
        return self.phones.get(number) or Phone(number=number)

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> Directory:
        """Build a directory from the YAML mapping of number to phone settings."""
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ValueError("the phone file is a mapping of numbers to phone settings")
        phones = {
            str(number): phone_from_mapping(str(number), entry) for number, entry in data.items()
        }
        for number in phones:
            if not (number.startswith("+") or number.startswith("client:")):
                raise ValueError(f"{number}: keys are E.164 numbers (+...) or client:NAME")
        return cls(phones)

    @classmethod
    def load(cls, path: str | Path | None) -> Directory:
        """Read a directory from a YAML file (None: an empty directory)."""
        if path is None:
            return cls()
        return cls.from_mapping(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
