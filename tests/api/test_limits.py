"""Finding 5: bodies bounded per route while they stream, before signature checks and parsing
(a 400 MB body was read whole into memory); finding 6: the public web chat is rate-limited per
source address (IPv6 per /64) and per conversation, 429 with Retry-After, only the first
refusal of a window recorded, and a secure link issued once per chat per link lifetime."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.api.limits import DEFAULT_BODY_LIMIT
from dealchat.app import create_app
from dealchat.channels.webhooks import MAX_BODY
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.identity.models import SecureLink
from dealchat.records.models import AuditEntry
from dealchat.settings import LimitSettings, Settings
from tests.channels.slack import wire
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat

CHUNK = 64 * 1024


@pytest.fixture
def app(platform: Platform) -> Iterator[FastAPI]:
    with httpx.Client() as client:
        yield create_app(platform=platform, adapters={"slack": wire.adapter(client)})


def _drive(
    app: FastAPI, path: str, *, total: int, declared: int | None = None
) -> tuple[int, dict[str, Any], int]:
    """POST `total` bytes to `path` in 64 KiB chunks (chunked unless `declared`), straight
    through the ASGI interface: the status, the JSON answer and how many bytes the app read."""
    consumed = 0
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("198.51.100.7", 5000),
        "server": ("testserver", 80),
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal consumed
        if consumed >= total:
            return {"type": "http.disconnect"}
        consumed += CHUNK
        return {"type": "http.request", "body": b"{" * CHUNK, "more_body": consumed < total}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), consumed


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/channels/slack/webhook", MAX_BODY),
        ("/api/v1/webchat/messages", 32 * 1024),
        ("/api/v1/rules/backtest", DEFAULT_BODY_LIMIT),
    ],
)
def test_a_body_past_its_routes_limit_is_refused_as_it_streams(
    app: FastAPI, path: str, limit: int
) -> None:
    status, problem, consumed = _drive(app, path, total=20 * 1024 * 1024)
    assert status == 413
    assert problem["code"] == "payload_too_large"
    assert problem["data"] == {"limit": limit}
    assert consumed <= limit + CHUNK, f"read {consumed} bytes of a 20 MiB body"


def test_a_declared_length_over_the_limit_is_refused_before_reading(app: FastAPI) -> None:
    status, problem, consumed = _drive(
        app, "/channels/slack/webhook", total=400 * 1024 * 1024, declared=400 * 1024 * 1024
    )
    assert (status, consumed) == (413, 0)
    assert problem["title"] == f"request body over {MAX_BODY} bytes"


def test_bodies_within_the_limit_still_work(app: FastAPI, platform: Platform, clock: Clock) -> None:
    with TestClient(app) as client:
        assert Chat(client, clock).say("help")


def _flood(platform: Platform, **limits: int) -> Platform:
    settings = platform.settings.model_copy(update={"limits": LimitSettings(per_minute=limits)})
    return dataclasses.replace(platform, settings=settings, limits=type(platform.limits)(limits))


def _client(platform: Platform, peer: str) -> TestClient:
    return TestClient(create_app(platform=platform), client=(peer, 40000))


def test_one_source_is_limited_with_retry_after_and_recorded_once(
    platform: Platform, clock: Clock
) -> None:
    limited = _flood(platform, **{"webchat-source": 5})
    answers = []
    with (
        _client(limited, "2001:db8:1:2::10") as first,
        _client(limited, "2001:db8:1:2::99") as same64,
    ):
        for n in range(8):  # one /64: the same source, whatever the address inside it
            chat = Chat(first if n % 2 else same64, clock, conversation=f"conv-flood-{n:04d}")
            answers.append(chat.post("help"))
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 3
    refused = answers[-1]
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["data"]["limit"] == "webchat-source"
    with _client(limited, "2001:db8:9:9::1") as other:
        assert Chat(other, clock, conversation="conv-other-0001").post("help").status_code == 200
    denied = [e for e in entries(platform, "access:denied") if "rate limited" in e["rule"]]
    assert [e["rule"] for e in denied] == [
        "rate limited: over 5 requests per 60 s (webchat-source)"
    ], "only the first refusal of the window is recorded"
    with unit_of_work(platform.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 6
    clock.advance(61)
    with _client(limited, "2001:db8:1:2::10") as later:
        assert Chat(later, clock, conversation="conv-later-0001").post("help").status_code == 200


def test_one_conversation_is_limited_and_the_flood_writes_little(
    platform: Platform, clock: Clock
) -> None:
    limited = _flood(platform, **{"webchat-conversation": 4})
    with _client(limited, "198.51.100.20") as client:
        chat = Chat(client, clock, conversation="conv-chatty-001")
        codes = [chat.post("login").status_code for _ in range(10)]
    assert codes == [200] * 4 + [429] * 6
    with unit_of_work(platform.sessions) as session:
        links = session.scalar(select(func.count()).select_from(SecureLink))
        written = session.scalar(select(func.count()).select_from(AuditEntry))
    assert links == 1, "one secure link per chat and link lifetime"
    assert written is not None
    assert written < 25, f"{written} audit entries for 10 requests"


def test_the_default_limits_stop_the_red_teams_flood(platform: Platform, clock: Clock) -> None:
    """600 anonymous messages from one address, each in a new conversation: 60 go in."""
    with _client(platform, "203.0.113.50") as client:
        codes = [
            Chat(client, clock, conversation=f"conv-red-{n:05d}", sender=f"sender-red-{n:05d}")
            .post("mkt eurusd 1m").status_code
            for n in range(100)
        ]  # fmt: skip
    assert codes.count(200) == 60
    assert set(codes[60:]) == {429}


def test_settings_name_the_limits(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, limits=LimitSettings(per_minute={"webchat-source": 120}))
    assert settings.limits.per_minute == {"webchat-source": 120}
    with pytest.raises(ValueError, match="1-100000"):
        LimitSettings(per_minute={"webchat-source": 0})
