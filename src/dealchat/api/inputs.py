"""Paths and query strings checked at the edge, before routing: no control characters.

A NUL byte (or any other control character) in a path or a query value is never meaningful to
this API, and PostgreSQL refuses NUL in text outright, so letting one through turned a lookup into
a 500. `CleanInputs`, an ASGI middleware, answers 400 problem+json naming where it was instead.
(Bodies are checked by their models; ids and text from chat platforms by
`channels.interfaces.inbound_problem`.)
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send


def control_character_in(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def problem(where: str) -> bytes:
    return json.dumps({
        "type": "urn:dealchat:error:bad_request",
        "title": f"the {where} holds a control character",
        "status": 400,
        "code": "bad_request",
    }).encode()  # fmt: skip


class CleanInputs:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            where = _unclean(scope)
            if where is not None:
                body = problem(where)
                await send({
                    "type": "http.response.start",
                    "status": 400,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())],
                })  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _unclean(scope: Scope) -> str | None:
    if control_character_in(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    pairs = parse_qsl(query, keep_blank_values=True, errors="replace")
    if any(control_character_in(key) or control_character_in(value) for key, value in pairs):
        return "query"
    return None
