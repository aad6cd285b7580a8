"""What a running `hotline serve` says about itself in var/serve.json, for the commands and the
demo phone that reach its parts (its demo carrier's port follows PORT, or is any free port)."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from telephony.demo import DEMO_CARRIER_PORT

STATE_NAME = "serve.json"


def state_path(var_dir: Path) -> Path:
    """Where serve lists its processes and ports."""
    return var_dir / STATE_NAME


def serve_state(var_dir: Path) -> dict[str, Any] | None:
    """The state of the serve running on var_dir, or None when none runs there."""
    try:
        state = json.loads(state_path(var_dir).read_text())
        pid = int(state["supervisor"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    # A serve killed outright leaves its file behind; its ports mean nothing then.
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return state


def carrier_url(var_dir: Path) -> str:
    """The demo carrier of the serve running on var_dir, else the carrier's default port."""
    state = serve_state(var_dir) or {}
    port = state.get("carrier_port") or DEMO_CARRIER_PORT
    return f"http://127.0.0.1:{port}"


def port_taken(host: str, port: int) -> bool:
    """Tell whether something listens on a port (binding as the server would, SO_REUSEADDR)."""
    try:
        # Probes the address the server itself would bind: all addresses when none is given.
        family, kind, proto, _, address = socket.getaddrinfo(
            host or "0.0.0.0",  # nosec B104
            port,
            type=socket.SOCK_STREAM,
        )[0]
    except socket.gaierror:
        return False
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return True
    return False
