"""The carrier as a process: its parts wired together, a Flask app, and a real HTTP server."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from types import FrameType

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, make_server

from carrier import (
    bins,
    control,
    rest,
    rest_recordings,  # noqa: F401 - adds the Recording resources to rest.bp
)
from carrier.clock import Clock
from carrier.driver import Driver, Settings
from carrier.faults import FaultPlan, Faults
from carrier.network import Network
from carrier.parties import Directory
from carrier.webhook import TIMEOUT_S, Webhooks

log = logging.getLogger("carrier")


@dataclass
class Carrier:
    """One carrier run: the network, its driver, the phones it knows and the faults it injects."""

    settings: Settings
    network: Network
    driver: Driver
    faults: Faults
    directory: Directory

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        directory: Directory | None = None,
        time_scale: float = 1.0,
        faults: FaultPlan | None = None,
        webhook_timeout: float = TIMEOUT_S,
    ) -> Carrier:
        """Wire a carrier's parts together (nothing runs until calls are placed)."""
        clock = Clock(time_scale)
        network = Network(clock, settings.account_sid)
        live_faults = Faults(faults)
        webhooks = Webhooks(settings.auth_token, clock, live_faults, timeout=webhook_timeout)
        directory = directory or Directory()
        driver = Driver(network, webhooks, directory, settings)
        return cls(settings, network, driver, live_faults, directory)


def create_app(hub: Carrier) -> Flask:
    """Create the carrier's Flask app: Twilio's REST subset, the /carrier control API, bins."""
    app = Flask("carrier")
    app.extensions["carrier"] = hub
    app.register_blueprint(rest.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(bins.bp)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        """Answer unknown Twilio paths with Twilio's error JSON, others plainly."""
        status = error.code or 500
        if request.path.startswith("/2010-04-01"):
            code = 20404 if status == 404 else 20001
            return rest.error_response(status, code, f"{error.name}: {request.path}")
        return Response(f"{error.name}\n", status=status, mimetype="text/plain")

    return app


class Server:
    """The carrier's HTTP server in a background thread (tests) or the foreground (CLI)."""

    def __init__(self, hub: Carrier, host: str, port: int):
        self.hub = hub
        self.http: BaseWSGIServer = make_server(host, port, create_app(hub), threaded=True)
        self.port = self.http.server_port
        self._thread: threading.Thread | None = None

    def start(self) -> Server:
        """Serve in a daemon thread and return self."""
        self._thread = threading.Thread(
            target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Hang up live calls and stop serving."""
        self.hub.driver.shutdown()
        self.http.shutdown()
        self.http.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def run_until_signal(self) -> None:
        """Serve in the foreground until SIGTERM or SIGINT, then stop cleanly."""
        stop = threading.Event()

        def _on_signal(number: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            stop.wait()
        finally:
            log.info("carrier stopping")
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
