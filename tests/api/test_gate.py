"""Requests working at once in a process (api/gate.py, held by api/front.py): bounded on both
databases."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from dealchat.api.deps import Platform
from dealchat.api.front import Front
from dealchat.app import create_app
from dealchat.settings import ServeSettings


def _limit(platform: Platform) -> int:
    app = create_app(platform=platform)
    [front] = [m for m in app.user_middleware if getattr(m, "cls", None) == Front]
    limit: Any = front.kwargs["requests_at_once"]
    return int(limit)


def test_each_database_has_its_bound_and_the_setting_overrides_it(platform: Platform) -> None:
    expected = {"sqlite": 8, "postgresql": 4}[platform.engine.dialect.name]
    assert _limit(platform) == expected
    settings = platform.settings.model_copy(update={"serve": ServeSettings(requests_at_once=2)})
    assert _limit(dataclasses.replace(platform, settings=settings)) == 2


def test_the_gate_lets_in_no_more_than_its_limit() -> None:
    working, most = [0], [0]

    async def app(scope: object, receive: object, send: object) -> None:
        working[0] += 1
        most[0] = max(most[0], working[0])
        await asyncio.sleep(0.01)
        working[0] -= 1

    gate = Front(app, trusted_proxies=[], requests_at_once=3)
    nothing: Any = None

    def scope() -> Any:
        return {"type": "http", "method": "POST", "path": "/api/v1/webchat/messages",
                "headers": [], "query_string": b""}  # fmt: skip

    async def many() -> None:
        await asyncio.gather(*(gate(scope(), nothing, nothing) for _ in range(12)))

    asyncio.run(many())
    assert most[0] == 3
