"""Fixtures for the carrier's tests: a small TwiML hotline, the carrier, and a gateway to it.

The small hotline mirrors the real menu's shape (language, area by key or speech, intake,
queue with wait music, crisis dial, agent whisper and conference) so the carrier can be tested
without the full app; the e2e tests run the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask, Response, abort, request
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse
from werkzeug.serving import BaseWSGIServer, make_server

from carrier.driver import Settings
from carrier.faults import FaultPlan
from carrier.parties import Directory, Script, Step
from carrier.server import Carrier, Server
from telephony.gateway import Gateway
from tests.e2e.harness import poll

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "carrier-test-token"
HOTLINE = "+861012348000"
CALLER = "+8613912345678"
CRISIS_LINE = "+8612356"
TIME_SCALE = 0.005

AGENTS = {
    "labor": "+8613900000001",
    "family": "+8613900000002",
    "contract": "+8613900000003",
    "traffic": "+8613900000004",
}
PHONES = {
    AGENTS["labor"]: {
        "name": "Agent Li",
        "role": "agent",
        "answer_after": 2,
        "press": ["1"],
        # Long enough, in call seconds, that a busy machine bridges the caller before the
        # agent hangs up: at this time scale a call second lasts five milliseconds.
        "stay": 200,
    },
    AGENTS["family"]: {"name": "Agent Wang", "role": "agent", "answer_after": 2, "press": ["2"]},
    AGENTS["contract"]: {"name": "Agent Zhao", "role": "agent", "busy": True},
    AGENTS["traffic"]: {"name": "Agent Sun", "role": "agent", "answer_after": "never"},
    CRISIS_LINE: {"name": "crisis line", "role": "crisis-line", "answer_after": 1, "stay": 30},
}
AREA_KEYS = {"1": "family", "2": "labor", "3": "contract", "4": "traffic", "0": "general"}
AREA_WORDS = {"wages": "labor", "工资": "labor", "divorce": "family", "离婚": "family"}
CRISIS_WORDS = ("hurt myself", "不想活")
PROMPTS = {
    "zh": {"menu": "请选择咨询类别。", "invalid": "按键无效。", "queue": "请稍候。"},
    "en": {"menu": "Choose an area.", "invalid": "That key is not a choice.", "queue": "Hold on."},
}


class LocalServer:
    """A WSGI app served on a free port by a werkzeug thread."""

    def __init__(self, app: Flask):
        self.http: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.http.server_port}"
        self.thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)


@dataclass
class Seen:
    """Every webhook the small hotline received, in order."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, form: dict[str, str]) -> None:
        """Note one request."""
        with self.lock:
            self.requests.append((path, form))

    def at(self, path: str, **match: str) -> list[dict[str, str]]:
        """Return the forms posted to a path whose fields match the given values."""
        with self.lock:
            return [
                form
                for seen_path, form in self.requests
                if seen_path == path and all(form.get(k) == v for k, v in match.items())
            ]


def _xml(response: VoiceResponse) -> Response:
    """Return TwiML with Twilio's content type."""
    return Response(str(response), mimetype="text/xml")


def small_hotline(token: str, gateway: Gateway, seen: Seen) -> Flask:
    """Build the small TwiML hotline the carrier tests call."""
    app = Flask("small_hotline")
    state: dict[str, Any] = {"base": ""}

    @app.before_request
    def _check_signature() -> None:
        form = request.form.to_dict()
        seen.add(request.path, form)
        signature = request.headers.get("X-Twilio-Signature", "")
        if not RequestValidator(token).validate(request.url, form, signature):
            abort(403)
        state["base"] = request.host_url.rstrip("/")

    def url(path: str) -> str:
        return state["base"] + path

    @app.post("/voice")
    def voice() -> Response:
        response = VoiceResponse()
        gather = Gather(num_digits=1, action="/language", action_on_empty_result=True, timeout=4)
        gather.say("您好，这里是法律咨询热线。普通话请按1。", language="cmn-CN")
        gather.say("For English, press 2.", language="en-US")
        response.append(gather)
        return _xml(response)

    @app.post("/language")
    def language() -> Response:
        digits = request.form.get("Digits", "")
        lang = {"": "zh", "1": "zh", "2": "en"}.get(digits)
        response = VoiceResponse()
        if lang is None:
            response.say("按键无效。 That key is not a choice.")
            response.redirect("/voice")
            return _xml(response)
        response.redirect(f"/area-menu?lang={lang}")
        return _xml(response)

    @app.post("/area-menu")
    def area_menu() -> Response:
        lang = request.args["lang"]
        tries = int(request.args.get("tries", "0"))
        response = VoiceResponse()
        if tries >= 2:
            response.redirect(f"/enqueue?lang={lang}&area=general")
            return _xml(response)
        gather = Gather(
            input="dtmf speech",
            num_digits=1,
            action=f"/area?lang={lang}&tries={tries}",
            timeout=4,
            language="cmn-Hans-CN" if lang == "zh" else "en-US",
        )
        gather.say(PROMPTS[lang]["menu"])
        response.append(gather)
        response.redirect(f"/area-menu?lang={lang}&tries={tries + 1}")
        return _xml(response)

    @app.post("/area")
    def area() -> Response:
        lang, tries = request.args["lang"], int(request.args["tries"])
        digits = request.form.get("Digits", "")
        speech = request.form.get("SpeechResult", "")
        response = VoiceResponse()
        if digits == "9" or any(word in speech for word in CRISIS_WORDS):
            response.redirect(f"/crisis?lang={lang}")
            return _xml(response)
        chosen = AREA_KEYS.get(digits) or next(
            (area for word, area in AREA_WORDS.items() if word in speech), None
        )
        if chosen is None:
            response.say(PROMPTS[lang]["invalid"])
            response.redirect(f"/area-menu?lang={lang}&tries={tries + 1}")
            return _xml(response)
        gather = Gather(num_digits=1, action=f"/enqueue?lang={lang}&area={chosen}", timeout=3)
        gather.say(f"Intake for {chosen}: press 1 or 2.")
        response.append(gather)
        response.redirect(f"/enqueue?lang={lang}&area={chosen}")
        return _xml(response)

    @app.post("/enqueue")
    def enqueue() -> Response:
        area = request.args["area"]
        queue_sid = gateway.ensure_queue(area, 10)
        agent = AGENTS.get(area)
        if agent:
            gateway.create_call(
                agent,
                url(f"/agent?area={area}&queue={queue_sid}"),
                status_callback=url("/agent-status"),
            )
        response = VoiceResponse()
        response.say(PROMPTS[request.args["lang"]]["queue"])
        response.enqueue(area, wait_url="/wait", action="/queue-result")
        return _xml(response)

    @app.post("/wait")
    def wait() -> Response:
        response = VoiceResponse()
        response.say(f"You are number {request.form['QueuePosition']} in line.")
        response.play("https://example.org/music/hold.mp3")
        return _xml(response)

    @app.post("/hold")
    def hold() -> Response:
        response = VoiceResponse()
        response.play("https://example.org/music/hold.mp3")
        return _xml(response)

    @app.post("/queue-result")
    def queue_result() -> Response:
        response = VoiceResponse()
        response.say(f"Queue result {request.form['QueueResult']}.")
        response.hangup()
        return _xml(response)

    @app.post("/agent")
    def agent() -> Response:
        area, queue = request.args["area"], request.args["queue"]
        response = VoiceResponse()
        gather = Gather(num_digits=1, action=f"/agent-answer?area={area}&queue={queue}", timeout=4)
        gather.say(f"A caller is waiting for {area}. Press 1 to accept, 2 to decline.")
        response.append(gather)
        response.hangup()
        return _xml(response)

    @app.post("/agent-answer")
    def agent_answer() -> Response:
        response = VoiceResponse()
        if request.form.get("Digits") != "1":
            response.say("Declined.")
            response.hangup()
            return _xml(response)
        queue = request.args["queue"]
        front = gateway.queue_members(queue)[0]
        room = f"room-{front.call_sid[-8:]}"
        gateway.dequeue(queue, front.call_sid, url(f"/join?room={room}"))
        dial = Dial()
        dial.conference(room, end_conference_on_exit=True, start_conference_on_enter=True)
        response.append(dial)
        return _xml(response)

    @app.post("/join")
    def join() -> Response:
        response = VoiceResponse()
        dial = Dial(action="/after-consult")
        dial.conference(request.args["room"], end_conference_on_exit=False, wait_url="")
        response.append(dial)
        return _xml(response)

    @app.post("/after-consult")
    def after_consult() -> Response:
        response = VoiceResponse()
        response.say("Thank you for calling.")
        response.hangup()
        return _xml(response)

    @app.post("/crisis")
    def crisis() -> Response:
        response = VoiceResponse()
        response.say("We are connecting you with someone trained to help.")
        dial = Dial(action="/crisis-done", timeout=20)
        dial.number(request.args.get("number", CRISIS_LINE))
        response.append(dial)
        return _xml(response)

    @app.post("/crisis-done")
    def crisis_done() -> Response:
        response = VoiceResponse()
        response.say(f"Dial ended {request.form['DialCallStatus']}.")
        response.hangup()
        return _xml(response)

    @app.post("/voicemail")
    def voicemail() -> Response:
        response = VoiceResponse()
        response.say("Leave a message after the tone.")
        response.record(
            max_length=60,
            timeout=3,
            action="/voicemail-done",
            recording_status_callback="/recording-status",
        )
        return _xml(response)

    @app.post("/voicemail-done")
    def voicemail_done() -> Response:
        response = VoiceResponse()
        response.say(f"Saved {request.form['RecordingDuration']} seconds.")
        response.hangup()
        return _xml(response)

    @app.post("/broken")
    def broken() -> Response:
        # A verb Twilio does not know: the carrier must report it, not skip it.
        return Response("<Response><Sing>la la</Sing></Response>", mimetype="text/xml")

    @app.post("/slow-menu")
    def slow_menu() -> Response:
        response = VoiceResponse()
        response.say("Slow menu.")
        return _xml(response)

    for path in ("/voice/status", "/agent-status", "/recording-status"):
        app.add_url_rule(path, path, lambda: ("", 204), methods=["POST"])

    @app.post("/voice/fallback")
    def fallback() -> Response:
        response = VoiceResponse()
        response.say(f"Sorry, error {request.form.get('ErrorCode')}.")
        response.hangup()
        return _xml(response)

    return app


@dataclass
class Rig:
    """The carrier and the small hotline wired together over real HTTP."""

    hub: Carrier
    carrier_url: str
    app_url: str
    gateway: Gateway
    seen: Seen

    def start(
        self,
        *steps: str,
        hangup_after: float | None = 300.0,
        voicemail: str | None = None,
        caller: str = CALLER,
        forge: bool = False,
    ) -> str:
        """Place a call with steps like "press:2" or "say:text" and return its SID.

        Callers hang up after 300 s unless told otherwise, so a wrong turn fails fast.
        """
        script = Script(
            steps=tuple(Step.parse(step) for step in steps),
            hangup_after=hangup_after,
            voicemail=voicemail,
            forge_signature=forge,
        )
        return self.hub.driver.start_incoming(caller, script).sid

    def finish(self, call_sid: str, timeout: float = 20.0) -> dict[str, Any]:
        """Wait for a call to end and return its transcript."""
        assert self.hub.driver.wait_finished(call_sid, timeout), f"call {call_sid} did not end"
        return self.transcript(call_sid)

    def call(self, *steps: str, **options: Any) -> dict[str, Any]:
        """Place a call and return its transcript once it and every leg it made have ended."""
        transcript = self.finish(self.start(*steps, **options))
        # An agent's leg can outlast the caller's; the next test must find every phone free.
        self.wait_until(self.idle, 20.0, "every call leg to end")
        return transcript

    def idle(self) -> bool:
        """Tell whether no call leg is still live on the carrier."""
        with self.hub.network.cond:
            return all(call.finished for call in self.hub.network.calls.values())

    def transcript(self, call_sid: str) -> dict[str, Any]:
        """Return a call's transcript through the control API."""
        reply = requests.get(
            f"{self.carrier_url}/carrier/calls/{call_sid}",
            auth=(ACCOUNT_SID, AUTH_TOKEN),
            timeout=5,
        )
        reply.raise_for_status()
        return reply.json()

    def legs_to(self, number: str) -> list[dict[str, Any]]:
        """Return the transcripts of every call made to a number."""
        with self.hub.network.cond:
            sids = [c.sid for c in self.hub.network.calls.values() if c.called == number]
        return [self.transcript(sid) for sid in sids]

    def wait_until(self, check: Any, timeout: float = 10.0, what: str = "a condition") -> Any:
        """Poll a check until it is truthy, with a deadline."""
        return poll(check, timeout, what)


def build_rig(*, faults: FaultPlan | None = None, voice_path: str = "/voice") -> Iterator[Rig]:
    """Start the carrier and the small hotline, yield them, and stop both."""
    seen = Seen()
    # The app needs the carrier's URL and the carrier the app's: bind both first.
    placeholder = Settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        hotline_number=HOTLINE,
        voice_url="",
        status_url=None,
        fallback_url=None,
        public_url="",
    )
    hub = Carrier.build(
        placeholder,
        directory=Directory.from_mapping(PHONES),
        time_scale=TIME_SCALE,
        faults=faults,
        webhook_timeout=5.0,
    )
    server = Server(hub, "127.0.0.1", 0).start()
    carrier_url = f"http://127.0.0.1:{server.port}"
    gateway = Gateway(ACCOUNT_SID, AUTH_TOKEN, carrier_url, HOTLINE)
    app_server = LocalServer(small_hotline(AUTH_TOKEN, gateway, seen))
    hub.settings.voice_url = app_server.url + voice_path
    hub.settings.status_url = app_server.url + "/voice/status"
    hub.settings.fallback_url = app_server.url + "/voice/fallback"
    hub.settings.public_url = carrier_url
    try:
        yield Rig(hub, carrier_url, app_server.url, gateway, seen)
    finally:
        server.stop()
        app_server.stop()


@pytest.fixture(name="rig")
def rig_fixture() -> Iterator[Rig]:
    """The carrier and the small hotline, fresh for one test."""
    yield from build_rig()
