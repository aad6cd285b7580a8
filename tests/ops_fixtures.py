"""Fixtures for the consoles' tests: a small roster, users of each role, signed-in clients."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from queues.agents import AgentBoard
from queues.matcher import Matcher
from queues.script import RoutingScript
from queues.users import UserStore
from queues.waiting import WaitingRoom
from routing.roster import parse_roster

PASSWORD = "correct horse battery"
# Three agents; nobody covers the general line (open round the clock) in Mandarin at night.
ROSTER = """\
timezone: Asia/Shanghai
agents:
  - id: d1
    name: 王丽
    phone: "+8613900000001"
    languages: [zh]
    skills: {family: 3, labor: 2, contract: 1, traffic: 1, criminal: 1, corporate: 1, general: 1}
    crisis_trained: true
    shifts:
      - {days: daily, hours: "08:00-22:00"}
  - id: d2
    name: Emily Zhou
    phone: "+8613900000002"
    languages: [en, zh]
    skills: {labor: 3, general: 2, family: 1, contract: 1, traffic: 1, criminal: 1, corporate: 1}
    shifts:
      - {days: mon-sat, hours: "08:00-22:00"}
  - id: n1
    name: 李夜
    phone: "+8613900000003"
    languages: [zh, en]
    skills: {general: 2}
    crisis_trained: true
    shifts:
      - {days: sun, hours: "08:00-22:00"}
"""
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Hotline:
    """The test app with its routing state objects on the test Redis."""

    app: object
    redis: object
    clock: object

    def __post_init__(self) -> None:
        config = self.app.config["HOTLINE"]
        script = RoutingScript(self.redis, config.routing)
        self.board = AgentBoard(self.redis, config.routing, script=script)
        self.room = WaitingRoom(self.redis, config.routing, script=script)
        self.matcher = Matcher(self.redis, config.routing, script=script)
        # A light scrypt keeps the tests quick; the hotline itself uses werkzeug's default cost.
        self.users = UserStore(self.redis, password_method="scrypt:1024:8:1")

    @property
    def now(self) -> float:
        return self.clock().timestamp()

    def load_roster(self, text: str = ROSTER) -> None:
        config = self.app.config["HOTLINE"]
        roster = parse_roster(
            text, source="roster.yaml", area_ids=config.areas, languages=config.languages
        )
        self.board.import_roster(roster, self.now)

    def add_users(self) -> None:
        for name, role, agent in (
            ("olga", "ops", None),
            ("sam", "supervisor", None),
            ("wang", "agent", "d1"),
            ("emily", "agent", "d2"),
        ):
            self.users.add(name, role, PASSWORD, self.now, agent_id=agent)

    def ring(self, call_sid: str, *, area: str = "family", language: str = "zh", summary: str = ""):
        """A caller queues and is matched: a reservation rings an agent."""
        self.redis.hset(
            f"hotline:call:{call_sid}",
            mapping={"area": area, "language": language, "summary": summary},
        )
        assert self.room.enqueue(call_sid, area=area, language=language, now=self.now - 42)
        return self.matcher.match_call(call_sid, self.now)


class Session:
    """A signed-in test client that sends the CSRF token with every change."""

    def __init__(self, client, csrf: str):
        self.client = client
        self.csrf = csrf

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def post(self, path: str, json=None, **kwargs):
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.client.post(path, json=json, headers=headers, **kwargs)

    def form(self, path: str, data: dict, **kwargs):
        return self.client.post(path, data={"csrf_token": self.csrf, **data}, **kwargs)

    def put(self, path: str, **kwargs):
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.client.put(path, headers=headers, **kwargs)

    def patch(self, path: str, json=None, **kwargs):
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.client.patch(path, json=json, headers=headers, **kwargs)

    def delete(self, path: str, **kwargs):
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        return self.client.delete(path, headers=headers, **kwargs)


def csrf_of(html: str) -> str:
    """The CSRF token in a page's form."""
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(app, name: str, password: str = PASSWORD) -> Session:
    """Sign in through the login form, as a browser does."""
    client = app.test_client()
    page = client.get("/ops/login")
    token = csrf_of(page.get_data(as_text=True))
    answer = client.post(
        "/ops/login", data={"name": name, "password": password, "csrf_token": token}
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    home = client.get("/ops/", follow_redirects=True)
    return Session(client, csrf_of(home.get_data(as_text=True)))


@pytest.fixture(name="hotline")
def hotline_fixture(app, redis, clock) -> Hotline:
    """The app with the small roster and a user of each role."""
    found = Hotline(app, redis, clock)
    found.load_roster()
    found.add_users()
    return found
