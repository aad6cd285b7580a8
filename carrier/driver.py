"""The call driver: runs each call leg in a thread and executes the app's TwiML like Twilio does.

The driver starts legs and hands the REST API's requests (redirect, hang up) to live ones; a leg
(carrier/leg.py) fetches its TwiML and runs it verb by verb (carrier/verbs).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from carrier.faults import Faults
from carrier.leg import Leg
from carrier.network import Call, Network, Signal
from carrier.parties import Directory, LiveParty, Party, Script, Step
from carrier.streams import Streams
from carrier.transcript import mask_number
from carrier.transcriptions import Transcriptions
from carrier.webhook import Webhooks

log = logging.getLogger("carrier.driver")


@dataclass
class Settings:
    """Where the app lives and how the carrier presents itself to it."""

    account_sid: str
    auth_token: str
    hotline_number: str
    voice_url: str
    status_url: str | None
    # The number's Voice Fallback URL: asked when the voice URL or a later TwiML fetch fails.
    fallback_url: str | None
    # The carrier's own base URL, used in RecordingUrl and resource URIs.
    public_url: str
    # How long one <Play> of hold music lasts, in virtual seconds.
    play_seconds: float = 10.0
    # The events Twilio sends for incoming calls to the number's status callback.
    incoming_status_events: tuple[str, ...] = ("completed",)
    fallback_method: str = "POST"
    # The carrier's own TwiML Bins by name (carrier/bins.py), e.g. the number's fallback.
    bins: dict[str, str] = field(default_factory=dict)


class Driver:
    """Starts call legs and answers the REST API's requests to redirect, dequeue or hang up."""

    def __init__(
        self, network: Network, webhooks: Webhooks, directory: Directory, settings: Settings
    ):
        self.network = network
        self.webhooks = webhooks
        self.directory = directory
        self.settings = settings
        self._threads: list[threading.Thread] = []
        self._stopping = False
        # Live callers by call SID, fed by the control API.
        self.live: dict[str, LiveParty] = {}
        # Calls' media streams and live transcriptions (<Start>), each with threads of its own.
        self.streams = Streams(network.clock, webhooks)
        self.transcriptions = Transcriptions(network.clock, webhooks)

    @property
    def faults(self) -> Faults:
        """Return the run's fault plan (shared with the webhooks)."""
        return self.webhooks.faults

    def start_incoming(
        self, caller: str, script: Script, *, called: str | None = None, live: bool = False
    ) -> Call:
        """Place a simulated (or, with live, an interactive) call and return the inbound leg."""
        call = self.network.add_call(
            caller=caller,
            called=called or self.settings.hotline_number,
            direction="inbound",
            url=self.settings.voice_url,
            fallback_url=self.settings.fallback_url,
            fallback_method=self.settings.fallback_method,
            status_callback=self.settings.status_url,
            status_callback_events=self.settings.incoming_status_events,
            forge_signature=script.forge_signature,
        )
        log.info("incoming call %s from %s", call.sid, mask_number(caller))
        party: Party = Party(script)
        if live:
            party = LiveParty(time_scale=self.network.clock.time_scale)
            with self.network.cond:
                self.live[call.sid] = party
        self._spawn(Leg(self, call, party).run_inbound, call)
        return call

    def send_input(self, call_sid: str, step: Step) -> bool:
        """Hand a live caller's key presses or words to their call; False if not a live call."""
        with self.network.cond:
            party = self.live.get(call_sid)
            call = self.network.calls.get(call_sid)
            if party is None or call is None or call.ended:
                return False
            party.inputs.append(step)
            self.network.cond.notify_all()
        return True

    def start_outgoing(self, call: Call) -> None:
        """Ring the number of a call created through the REST API."""
        phone = self.directory.lookup(call.called)
        call.party_name, call.party_role = phone.name, phone.role
        log.info("outgoing call %s to %s", call.sid, mask_number(call.called))
        self._spawn(Leg(self, call, phone.party(), phone=phone).run_outgoing, call)

    def start_dialed(self, call: Call) -> None:
        """Ring the number a <Dial> asked for, as a child leg of the dialling call."""
        phone = self.directory.lookup(call.called)
        call.party_name, call.party_role = phone.name, phone.role
        self._spawn(Leg(self, call, phone.party(), phone=phone).run_dialed, call)

    def _spawn(self, target: Callable[[], None], call: Call) -> None:
        """Run a leg in its own daemon thread, refusing new legs while shutting down."""
        if self._stopping:
            raise RuntimeError("the carrier is shutting down")
        thread = threading.Thread(target=target, name=f"leg-{call.sid[-6:]}", daemon=True)
        self._threads = [alive for alive in self._threads if alive.is_alive()]
        self._threads.append(thread)
        thread.start()

    def hang_up(self, call_sid: str, *, reason: str = "api") -> bool:
        """End a live call (REST Status=completed or canceled)."""
        return self.network.signal(call_sid, Signal("hangup", reason=reason))

    def redirect(self, call_sid: str, *, url: str | None, method: str, twiml: str | None) -> bool:
        """Make a live call run another document now (REST Url or Twiml, or a member dequeue)."""
        return self.network.signal(
            call_sid, Signal("redirect", url=url, method=method, twiml=twiml)
        )

    def wait_finished(self, call_sid: str, timeout: float) -> bool:
        """Wait up to `timeout` real seconds for a call leg to finish; tell whether it did."""
        network = self.network
        with network.cond:
            return network.cond.wait_for(
                lambda: network.calls[call_sid].finished, timeout=max(timeout, 0.0)
            )

    def shutdown(self, timeout: float = 5.0) -> None:
        """Hang up every live call and wait briefly for their legs to finish."""
        self._stopping = True
        with self.network.cond:
            live = [sid for sid, call in self.network.calls.items() if not call.ended]
        for sid in live:
            self.hang_up(sid, reason="carrier")
        for thread in list(self._threads):
            thread.join(timeout)
        self.streams.close(timeout)
        self.transcriptions.close(timeout)
