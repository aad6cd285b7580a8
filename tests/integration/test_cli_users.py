"""`hotline user` refuses what it cannot do in one line: an agent id not on the roster, a
password with no terminal to type it at. `hotline call` finds the carrier of the running serve."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from hotline.cli import main
from hotline.running import carrier_url
from queues.users import UserStore
from telephony.demo import DEMO_CARRIER_PORT
from tests.fixtures.ops import PASSWORD, hotline_fixture  # noqa: F401

pytestmark = pytest.mark.redis


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The single line a failed command left on stderr."""
    [line] = capsys.readouterr().err.splitlines()
    return line


def test_an_agent_id_not_on_the_roster_is_refused_naming_the_nearest(
    app, hotline, redis_url, monkeypatch, capsys
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))

    assert (
        main(["user", "add", "qian", "--role", "agent", "--agent", "n9", "--password-stdin"]) == 1
    )

    line = one_line(capsys)
    assert line.startswith("hotline: no agent 'n9' on the roster; the nearest ids are n1")
    assert UserStore(hotline.redis).get("qian") is None
    assert main(["user", "role", "wang", "agent", "--agent", "a99"]) == 1
    assert "no agent 'a99' on the roster" in one_line(capsys)


def test_a_password_without_a_terminal_asks_for_password_stdin(
    app, hotline, redis_url, monkeypatch, capsys
):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))

    assert main(["user", "add", "qian", "--role", "ops"]) == 2

    assert "--password-stdin" in one_line(capsys)
    assert UserStore(hotline.redis).get("qian") is None


def test_a_piped_password_without_the_option_says_so_as_a_process(redis_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "HOTLINE_"))}
    env.update(REDIS_URL=redis_url, HOTLINE_VAR_DIR=str(tmp_path / "var"))
    done = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "user", "add", "qian", "--role", "ops"],
        cwd=tmp_path,
        env=env,
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr == (
        "hotline: no terminal to type the password at: pipe it in with --password-stdin\n"
    )


class _Refusing(BaseHTTPRequestHandler):
    """A carrier that refuses every call, saying which carrier it is."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"error": "refused by the carrier of this serve"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_call_finds_the_carrier_of_the_serve_running_on_the_var_dir(tmp_path, monkeypatch, capsys):
    server = HTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    var = tmp_path / "var"
    var.mkdir()
    # This process stands in for the running serve: its pid is alive.
    state = {"supervisor": os.getpid(), "port": 1, "carrier_port": server.server_port}
    (var / "serve.json").write_text(json.dumps(state))
    monkeypatch.delenv("TWILIO_API_BASE_URL", raising=False)
    monkeypatch.setenv("HOTLINE_VAR_DIR", str(var))
    try:
        assert main(["call", "--timeout", "5"]) == 1
    finally:
        server.shutdown()
        server.server_close()

    assert "refused by the carrier of this serve" in one_line(capsys)


def test_a_stale_or_missing_state_file_falls_back_to_the_default_port(tmp_path: Path):
    default = f"http://127.0.0.1:{DEMO_CARRIER_PORT}"
    assert carrier_url(tmp_path) == default
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    gone = int(finished.stdout)
    (tmp_path / "serve.json").write_text(json.dumps({"supervisor": gone, "carrier_port": 5999}))
    assert carrier_url(tmp_path) == default
    (tmp_path / "serve.json").write_text(
        json.dumps({"supervisor": os.getpid(), "carrier_port": 5999})
    )
    assert carrier_url(tmp_path) == "http://127.0.0.1:5999"
