"""The one front layer every request passes (api/front.py), each of its duties on its own, straight
through the ASGI interface: client address, request gate, control characters, body limits,
security headers, access-log line; and uvicorn leaving X-Forwarded-For to it."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import uvicorn

from dealchat.api.front import SECURITY_HEADERS, Front
from dealchat.api.limits import BodyTooLargeError
from dealchat.cli import common

Sent = list[dict[str, Any]]


def _scope(path: str = "/api/v1/things", **extra: Any) -> dict[str, Any]:
    return {
        "type": "http", "method": "POST", "path": path, "query_string": b"", "headers": [],
        "client": ("198.51.100.7", 5000), **extra,
    }  # fmt: skip


async def _answer(scope: Any, receive: Any, send: Any) -> None:
    """The inner app: reads the body, answers 200 JSON naming the client it was given."""
    while (await receive()).get("more_body"):
        pass
    body = json.dumps({"client": scope["state"]["client_ip"]}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})  # fmt: skip
    await send({"type": "http.response.body", "body": body})


def _call(front: Front, scope: dict[str, Any], chunks: tuple[bytes, ...] = (b"",)) -> Sent:
    sent: Sent = []
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(front(scope, receive, send))
    return sent


def _headers(sent: Sent) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


def test_the_client_is_the_peer_unless_the_peer_is_our_proxy() -> None:
    spoofed = [(b"x-forwarded-for", b"203.0.113.9")]
    alone = Front(_answer, trusted_proxies=[])
    assert json.loads(_call(alone, _scope(headers=spoofed))[1]["body"]) == {
        "client": "198.51.100.7"
    }
    behind = Front(_answer, trusted_proxies=["10.0.0.0/24"])
    for forwarded, client in (
        (b"203.0.113.9", "203.0.113.9"),
        (b"192.0.2.1, 203.0.113.10, 10.0.0.3", "203.0.113.10"),  # the left is the client's own
    ):
        scope = _scope(client=("10.0.0.2", 5000), headers=[(b"x-forwarded-for", forwarded)])
        assert json.loads(_call(behind, scope)[1]["body"]) == {"client": client}
    stranger = _scope(headers=spoofed)  # not our proxy: its header is not believed
    assert json.loads(_call(behind, stranger)[1]["body"]) == {"client": "198.51.100.7"}


def test_a_control_character_in_the_path_or_query_is_400_with_our_headers() -> None:
    front = Front(_answer, trusted_proxies=[])
    for scope, where in (
        (_scope("/api/v1/alerts/a\x00b"), "path"),
        (_scope(query_string=b"status=open%00"), "query"),
        (_scope(query_string=b"st%C2%85atus=open"), "query"),  # C1, percent-encoded
    ):
        sent = _call(front, scope)
        assert sent[0]["status"] == 400
        assert json.loads(sent[1]["body"])["title"] == f"the {where} holds a control character"
        assert _headers(sent)[b"x-frame-options"] == b"DENY"
    assert _call(front, _scope(query_string=b"status=open&q=%C3%A9t%C3%A9"))[0]["status"] == 200


def test_a_body_over_the_limit_is_refused_declared_or_while_it_streams() -> None:
    front = Front(_answer, trusted_proxies=[], default_body_limit=10)
    declared = _call(front, _scope(headers=[(b"content-length", b"11")]), (b"x" * 11,))
    assert declared[0]["status"] == 413
    assert json.loads(declared[1]["body"])["data"] == {"limit": 10}
    assert _call(front, _scope(), (b"x" * 5, b"x" * 5))[0]["status"] == 200
    with pytest.raises(BodyTooLargeError):  # the app's error handler answers it 413
        _call(front, _scope(), (b"x" * 6, b"x" * 5))


def test_security_headers_on_every_answer_and_no_store_for_the_api() -> None:
    async def download(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-security-policy", b"sandbox"),
                                (b"cache-control", b"max-age=60")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b""})

    front = Front(download, trusted_proxies=[])
    api = _headers(_call(front, _scope("/api/v1/things")))
    assert api[b"content-security-policy"] == b"sandbox"  # the route's own, stricter
    assert api[b"cache-control"] == b"no-store"
    for name, value in SECURITY_HEADERS.items():
        if name != "Content-Security-Policy":
            assert api[name.lower().encode()] == value.encode()
    page = _headers(_call(front, _scope("/static/webchat/webchat.js")))
    assert page[b"cache-control"] == b"max-age=60"
    assert page[b"x-content-type-options"] == b"nosniff"


def test_one_access_log_line_per_request_with_tokens_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    front = Front(_answer, trusted_proxies=[])
    with caplog.at_level(logging.INFO, logger="dealchat.access"):
        _call(front, _scope("/link/secret-token-123"))
        _call(front, _scope("/a\x01"))
    first, second = [r for r in caplog.records if r.name == "dealchat.access"]
    assert (first.path, first.status, first.client) == ("/link/<redacted>", 200, "198.51.100.7")  # type: ignore[attr-defined]
    assert second.status == 400  # type: ignore[attr-defined]
    assert "secret-token-123" not in caplog.text


def test_a_stream_leaves_the_gate_once_it_starts_and_health_never_waits() -> None:
    going_on = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] == "/api/v1/webchat/stream":
            events = [(b"content-type", b"text/event-stream; charset=utf-8")]
            await send({"type": "http.response.start", "status": 200, "headers": events})
            await going_on.wait()
            return
        if scope["path"] == "/api/v1/slow":
            await going_on.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})

    front = Front(app, trusted_proxies=[], requests_at_once=1)

    async def sink(message: Any) -> None:
        return None

    async def nothing() -> Any:
        return {"type": "http.request", "body": b""}

    async def scenario() -> None:
        stream = asyncio.create_task(front(_scope("/api/v1/webchat/stream"), nothing, sink))
        await asyncio.sleep(0.01)  # streaming: out of the gate, the one slot free
        await asyncio.wait_for(front(_scope("/api/v1/things"), nothing, sink), 1)
        going_on.set()
        await stream
        going_on.clear()
        slow = asyncio.create_task(front(_scope("/api/v1/slow"), nothing, sink))
        await asyncio.sleep(0.01)  # holding the one slot: health checks do not wait for it
        await asyncio.wait_for(front(_scope("/healthz", method="GET"), nothing, sink), 1)
        going_on.set()
        await slow
        assert front._gate is not None
        assert not front._gate.slots().locked()  # each slot given back

    asyncio.run(scenario())


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(
        Front(app, trusted_proxies=[], requests_at_once=1)({"type": "lifespan"}, None, None)
    )  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_uvicorn_leaves_forwarded_headers_to_the_front(monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's own proxy headers believe X-Forwarded-For from any local peer and would hand
    the front a client it never decided: off."""
    configs: list[uvicorn.Config] = []
    monkeypatch.setattr(
        uvicorn.Server, "run", lambda self, sockets=None: configs.append(self.config)
    )
    common.serve_app(_answer, "127.0.0.1", 0)
    [config] = configs
    assert config.proxy_headers is False
