"""The deployment files agree: the Procfile and the systemd units run the same commands, and the
HAProxy config shipped in deploy/ has the balancer settings `make scale-test` proved."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

from tests.scale.hosts import Cluster, Layout, Network, haproxy_config

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def procfile() -> dict[str, list[str]]:
    """The Procfile's commands by process name, split as a shell would."""
    commands = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        name, command = line.split(":", 1)
        commands[name] = shlex.split(command)
    return commands


def exec_start(unit: str) -> list[str]:
    """A unit's ExecStart, split as systemd does (a trailing backslash continues the line)."""
    text = (DEPLOY / "systemd" / unit).read_text().replace("\\\n", " ")
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.read_string(text)
    return shlex.split(parser["Service"]["ExecStart"])


def without_bind(command: list[str]) -> list[str]:
    """A gunicorn command without its --bind address (the Procfile takes PORT, a unit 5000)."""
    at = command.index("--bind")
    return command[:at] + command[at + 2 :]


def unit_environment(unit: str) -> dict[str, str]:
    """The variables a unit sets itself (Environment= lines), before its EnvironmentFile."""
    lines = (DEPLOY / "systemd" / unit).read_text().splitlines()
    pairs = [line.split("=", 2)[1:] for line in lines if line.startswith("Environment=")]
    return {name: value for name, value in pairs}


def test_the_web_unit_runs_the_procfiles_web_command() -> None:
    unit = exec_start("hotline-web.service")
    assert Path(unit[0]).name == "gunicorn"
    # The Procfile's ${NAME:-default} is the unit's ${NAME} with Environment=NAME=default, since
    # systemd has no defaults in ExecStart.
    web = procfile()["web"]
    defaults = dict(re.findall(r"\$\{(\w+):-([^}]*)\}", " ".join(web)))
    assert defaults.pop("PORT") == "5000"
    for name, default in defaults.items():
        assert unit_environment("hotline-web.service").get(name) == default
    expected = [re.sub(r"\$\{(\w+):-[^}]*\}", r"${\1}", arg) for arg in web]
    assert without_bind(unit)[1:] == without_bind(expected)[1:]
    assert unit[unit.index("--bind") + 1] == "0.0.0.0:5000"


def test_the_worker_unit_runs_the_procfiles_worker_command() -> None:
    unit = exec_start("hotline-worker.service")
    assert [Path(unit[0]).name, *unit[1:]] == procfile()["worker"] == ["hotline", "worker"]


def test_both_units_read_the_shared_settings_and_restart() -> None:
    for unit in ("hotline-web.service", "hotline-worker.service"):
        text = (DEPLOY / "systemd" / unit).read_text()
        assert "EnvironmentFile=/etc/hotline/hotline.env" in text
        assert "Restart=always" in text
        assert "PROMETHEUS_MULTIPROC_DIR=" in text


def balancer_lines(config: str) -> set[str]:
    """The web backend's settings that decide what Twilio sees when a host or Redis fails."""
    wanted = (
        "retry-on",
        "option redispatch",
        "option httpchk",
        "http-check",
        "timeout check",
        "default-server",
    )
    backend = config.split("\nbackend web\n", 1)[1].split("\n\n", 1)[0]
    return {line.strip() for line in backend.splitlines() if line.strip().startswith(wanted)}


def test_the_shipped_balancer_has_the_settings_the_scale_test_proved(tmp_path: Path) -> None:
    tested = haproxy_config(Cluster(tmp_path, Network("t", 1), {}, Layout()))
    shipped = (DEPLOY / "haproxy" / "hotline.cfg").read_text()
    assert len(balancer_lines(tested)) == 6
    assert balancer_lines(shipped) == balancer_lines(tested)
