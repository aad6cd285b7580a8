"""Schemathesis fuzzes the staff API from its own OpenAPI document, as every role.

Each operation of `/api/v1/openapi.json` gets generated requests (valid ones, then ones that
break the schema) from an anonymous caller and from an agent's, an ops user's and a
supervisor's bearer token, through the WSGI app in-process on the embedded test Redis. No
answer may be a 5xx, and each answer's status, content type and body must be ones the document
lists. One app serves the whole module (building one per operation cost a fifth of its CPU);
Redis is reset for every role, so deletions, closures and roster imports made by one run
cannot starve the next; each request comes from its own address, so the per-address limits on
unknown tokens and wrong PINs hold no later request back and hide no operation. Examples are
bounded and derandomized: the same requests on every run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ops.openapi import paths
from tests.fixtures.app import OPEN_TIME, Clock, demo_environment
from tests.fixtures.ops import Hotline

pytestmark = pytest.mark.redis

# Who calls: anonymous, then one user of each role (see tests/fixtures/ops.py).
ROLES = {"anonymous": None, "agent": "wang", "ops": "olga", "supervisor": "sam"}
OPERATIONS = [(method, path) for path, methods in paths().items() for method in methods]
# Real ids beside generated ones, so requests also reach agents, users and areas that exist.
KNOWN = {
    "agent_id": ["d1", "d2", "n1"],
    "name": ["wang", "emily", "olga", "sam"],
    "area": ["family", "labor", "general"],
    "shift_id": ["mon-0800-2200", "sun-0800-2200"],
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
_LOADED: list[schemathesis.BaseSchema] = []
# Per operation, role and mode: 44 operations x 4 roles x 2 modes; more examples cost minutes
# of a 2-core CI run for little: each role meets every operation every run.
EXAMPLES = 3


@pytest.fixture(scope="module")
def app(redis_url: str, hotline_config, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """The hotline app on the test Redis, built once for every operation of the module."""
    from hotline.app import create_app

    with pytest.MonkeyPatch.context() as env:
        demo_environment(env, tmp_path_factory.mktemp("fuzz") / "var")
        env.setenv("REDIS_URL", redis_url)
        yield create_app({"TESTING": True, "CLOCK": Clock(OPEN_TIME), "HOTLINE": hotline_config})


@pytest.fixture
def hotline(app, redis) -> Hotline:
    """The app with its routing state on the flushed test Redis; each role's run fills it."""
    return Hotline(app, redis, app.config["CLOCK"])


def _reset(hotline: Hotline) -> dict[str, str]:
    """A clean Redis with the small roster and one user of each role; their bearer tokens."""
    hotline.redis.flushdb()
    hotline.load_roster()
    hotline.add_users()
    return {name: hotline.users.create_token(name, hotline.now) for name in ROLES.values() if name}


def _known_ids(case, draw) -> None:
    """Swap generated path parameters for real ids half the time."""
    for name, value in list((case.path_parameters or {}).items()):
        if name in KNOWN and draw(st.booleans()):
            case.path_parameters[name] = draw(st.sampled_from(KNOWN[name]))
        else:
            case.path_parameters[name] = value


def _schema(app) -> schemathesis.BaseSchema:
    """The document the app serves, loaded once: loading it takes seconds."""
    if not _LOADED:
        _LOADED.append(schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app))
    return _LOADED[0]


def _address(number: int) -> str:
    """The number-th caller's own address."""
    return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"


def _fuzz(app, operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    """Send an operation's generated requests to the app with the headers; check each answer."""
    addresses = iter(range(1, 1 << 24))

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def fuzz(case, data):
        _known_ids(case, data.draw)
        environ = {"REMOTE_ADDR": _address(next(addresses))}
        case.call_and_validate(app=app, headers=headers, checks=CHECKS, environ_base=environ)

    fuzz()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_answers_every_role_within_its_document(app, hotline, method, path):
    operation = _schema(app)[path][method]
    for role, user in ROLES.items():
        # Once per role: its schema-breaking requests follow its valid ones on the same state.
        tokens = _reset(hotline)
        headers = {"Authorization": f"Bearer {tokens[user]}"} if user else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(app, operation, mode, headers)
            except Exception as error:
                error.add_note(f"role: {role}, generated: {mode.value}")
                raise


def test_incidents_document_the_422_a_malformed_days_gets(app, hotline):
    tokens = _reset(hotline)
    answer = app.test_client().get(
        "/api/v1/incidents?days=soon", headers={"Authorization": f"Bearer {tokens['sam']}"}
    )
    assert answer.status_code == 422 and answer.json["error"]["field"] == "days"
    assert "422" in paths()["/api/v1/incidents"]["get"]["responses"]
