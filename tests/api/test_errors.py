"""Bad input gets a clear 4xx as problem+json; an internal error shows no trace, nothing else."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.nlu import Parser

URL = "/api/v1/webchat/messages"
GOOD = {"conversation_id": "conv-0000001", "sender_id": "sender-0001", "message_id": "m-1"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "text": ""}, "text"),
        ({**GOOD, "text": "x" * 4001}, "text"),
        ({**GOOD, "text": 42}, "text"),
        ({**GOOD, "sender_id": "a b c d e f g", "text": "hi"}, "sender_id"),
        ({**GOOD, "conversation_id": "short", "text": "hi"}, "conversation_id"),
        ({**GOOD, "text": "hi", "extra": 1}, "extra"),
    ],
)
def test_invalid_messages_get_422_naming_the_field(
    client: TestClient, body: dict[str, object], field: str
) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = [item["field"] for item in response.json()["data"]["fields"]]
    assert field in fields


def test_not_json_gets_a_problem(client: TestClient) -> None:
    headers = {"content-type": "application/json"}
    response = client.post(URL, content=b"\xff\xfe not json", headers=headers)
    assert response.status_code in (400, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text
    assert client.get("/no/such/page").json()["code"] == "not_found"


class _Broken(Parser):
    def parse(self, text: str) -> object:  # type: ignore[override]
        raise RuntimeError("secret internals: /etc/shadow")


def test_an_internal_error_shows_no_trace(platform: Platform) -> None:
    broken = dataclasses.replace(
        platform, desk=dataclasses.replace(platform.desk, parser=_Broken())
    )
    with TestClient(create_app(platform=broken), raise_server_exceptions=False) as client:
        response = client.post(URL, json={**GOOD, "text": "buy 1m eurusd"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal"
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_security_headers_and_no_store(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "dealchat" in page.text
    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    api = client.post(URL, json={**GOOD, "text": "help"})
    assert api.headers["cache-control"] == "no-store"
    assert client.get("/static/webchat/webchat.js").status_code == 200
    assert client.get("/static/webchat/../../settings.py").status_code == 404
    assert client.get("/healthz").json() == {"status": "ok"}
