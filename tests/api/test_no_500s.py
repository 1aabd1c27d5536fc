"""Finding 7: the red team's 500s, each now a 4xx problem+json, or for a signed webhook payload
the core cannot take a 200 that drops it with an audit note (a 4xx or 5xx makes the platform
send it again for ever). On SQLite and PostgreSQL (which refuses NUL bytes in text)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from tests.channels.slack import wire
from tests.factories.access import token_for
from tests.factories.audit import entries
from tests.factories.identity import make_user

BIG = "9" * 25  # past 64 bits


@pytest.fixture
def api(platform: Platform) -> Iterator[TestClient]:
    admin = make_user(platform, "probe-admin", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="admin", username=admin.username)
    with httpx.Client() as slack_client:
        app = create_app(platform=platform, adapters={"slack": wire.adapter(slack_client)})
        with TestClient(app, raise_server_exceptions=False) as client:
            client.headers["Authorization"] = f"Bearer {token_for(platform, admin.id)}"
            yield client


SIGNED_IN: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/alerts/a%00b", None),  # a NUL byte in a path
    ("GET", "/api/v1/documents/%ED%A0%80", None),  # a lone surrogate, percent-encoded
    ("GET", "/api/v1/documents/%FF%FE", None),  # not UTF-8 at all
    ("GET", f"/api/v1/admin/access-log?before={BIG}", None),  # an integer past 64 bits
    ("GET", "/api/v1/admin/access-log?before=-" + BIG, None),
    ("GET", "/api/v1/alerts?status=open%00", None),  # a NUL in a query value
    ("POST", f"/api/v1/lexicon/off-channel/{BIG}/approve", None),  # ... in a path
    ("POST", "/api/v1/lexicon/backtest", {"name": "off-channel", "version": int(BIG)}),
    ("POST", "/api/v1/rules/versions", {"yaml": "a: [\x06", "comment": "x"}),  # malformed YAML
    ("POST", "/api/v1/rules/versions", {"yaml": "a: " + "[" * 5000, "comment": "x"}),
    ("POST", "/api/v1/lexicon", {"source": "name: [unclosed"}),  # malformed lexicon source
    ("POST", "/api/v1/lexicon", {"source": "name: x\nrules: [" + "[" * 3000}),
    ("POST", "/api/v1/lexicon/backtest", {"source": ""}),  # an empty backtest source
    ("POST", "/api/v1/rules/backtest", {"yaml": ""}),
    ("POST", "/api/v1/admin/roles", {"name": "nul\u0000role"}),  # a NUL in a field
    ("POST", "/api/v1/retention/holds", {"kind": "client", "target": "\ud800", "reason": "x"}),
    ("POST", "/api/v1/admin/roles", {"name": "x", "description": "\ud800"}),
    ("POST", "/api/v1/admin/roles", {"name": ["nested"] * 3}),  # a wrong type
]


@pytest.mark.parametrize(("method", "path", "body"), SIGNED_IN)
def test_bad_input_on_signed_in_routes_is_a_4xx_problem(
    api: TestClient, method: str, path: str, body: Any
) -> None:
    content = None if body is None else json.dumps(body)  # lone surrogates escaped as \\ud800
    response = api.request(method, path, content=content,
                           headers={"Content-Type": "application/json"})  # fmt: skip
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json"


def test_json_nested_past_reason_is_a_4xx(api: TestClient) -> None:
    deep = '{"name": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = api.post("/api/v1/admin/roles", content=deep,
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert 400 <= response.status_code < 500, response.status_code


def _slack(api: TestClient, body: bytes) -> httpx.Response:
    headers = wire.headers(body, int(time.time()))
    return api.post("/channels/slack/webhook", content=body, headers=headers)


def _event(**event: Any) -> bytes:
    payload = json.loads(wire.fixture("message_im"))
    payload["event"].update(event)
    payload["event_id"] = f"Ev{time.monotonic_ns()}"
    return json.dumps(payload).encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_event(text=12345), None),  # wrong types: read as text, answered as usual
        (_event(ts=None, user={"id": 1}), None),
        (_event(channel=None, user=None, text=None, ts=None), None),
        (_event(text="mkt \ud800 eurusd"), "lone surrogate"),
        (_event(text="mkt\u0000eurusd"), "NUL byte"),
        (_event(user="U" + "9" * 300), "sender_id is not 1-128"),  # an over-long id
        (_event(channel="D\u0000X"), "control character"),
        (
            b'{"type": "event_callback", "event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "unreadable payload",
        ),  # nesting past reason
    ],
)
def test_a_signed_payload_the_core_cannot_take_is_dropped_with_a_note(
    api: TestClient, platform: Platform, body: bytes, reason: str | None
) -> None:
    response = _slack(api, body)
    assert response.status_code == 200, (response.status_code, response.text[:200])
    if reason is None:
        return
    dropped = entries(platform, "webhook:dropped")
    assert len(dropped) == 1
    assert reason in str(dropped[0]["reason"])
    assert dropped[0]["subject"] == "channel:slack"
