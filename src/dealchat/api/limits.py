"""Bounded request bodies, declared per route and enforced while the body streams in.

Every request body is limited before anything reads it: a route declares its own limit with
`@body_limit(bytes)` on its endpoint (or `@body_limit(None)` when it bounds its body itself as it
streams, like an upload), and every other route gets `DEFAULT_BODY_LIMIT`. The front layer
(`api.front.Front`, with `RouteLimits`) answers 413 at once when a declared `Content-Length` is
over the limit, and otherwise counts the bytes as they arrive (chunked bodies too) and stops the
request the moment they pass it: nothing reads an unbounded body into memory, and no signature
check or JSON parser ever sees one. The answer is `application/problem+json` naming the limit.

    @router.post("/api/v1/things")
    @body_limit(16 * 1024)
    def make_thing(body: Thing, ...) -> ...: ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import Message, Receive, Scope, Send

DEFAULT_BODY_LIMIT = 1024 * 1024  # JSON APIs and forms: far more than any of them needs
_ATTRIBUTE = "__dealchat_body_limit__"
F = TypeVar("F", bound=Callable[..., Any])


def body_limit(limit: int | None) -> Callable[[F], F]:
    """Declare the most bytes this route's request body may have (None: the route bounds its
    body itself while it streams)."""
    if limit is not None and limit < 0:
        raise ValueError("a body limit is a number of bytes (or None)")

    def declare(endpoint: F) -> F:
        setattr(endpoint, _ATTRIBUTE, limit)
        return endpoint

    return declare


class BodyTooLargeError(HTTPException):
    """413, raised from the request's receive channel when the body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")
        self.limit = limit


def problem(limit: int) -> bytes:
    return json.dumps({
        "type": "urn:dealchat:error:payload_too_large",
        "title": f"request body over {limit} bytes",
        "status": 413,
        "code": "payload_too_large",
        "data": {"limit": limit},
    }).encode()  # fmt: skip


class RouteLimits:
    """Each request's limit: the one its route declared, else the default (`api.front.Front`
    enforces it on every request)."""

    def __init__(self, default: int = DEFAULT_BODY_LIMIT) -> None:
        self.default = default
        self._tables: dict[int, list[tuple[re.Pattern[str], frozenset[str], int | None]]] = {}

    def limit_for(self, scope: Scope) -> int | None:
        """The limit the matching route declared, else the default."""
        path, method = scope.get("path", ""), scope.get("method", "")
        for pattern, methods, limit in self._declared(scope.get("app")):
            if (not methods or method in methods) and pattern.match(path):
                return limit
        return self.default

    def _declared(self, app: Any) -> list[tuple[re.Pattern[str], frozenset[str], int | None]]:
        """The routes of `app` that declared a limit, read once: (path pattern, methods, limit)."""
        found = self._tables.get(id(app))
        if found is None:
            found = []
            routes = getattr(getattr(app, "router", None), "routes", [])
            for context in iter_route_contexts(routes):
                endpoint = getattr(context.original_route, "endpoint", None)
                if endpoint is not None and hasattr(endpoint, _ATTRIBUTE):
                    declared: int | None = getattr(endpoint, _ATTRIBUTE)
                    pattern = compile_path(str(context.path))[0]
                    found.append((pattern, frozenset(context.methods or ()), declared))
            self._tables[id(app)] = found
        return found


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, when it has a sensible one."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() and len(text) < 19 else None
    return None


def counting(receive: Receive, limit: int) -> Receive:
    """`receive`, raising BodyTooLargeError once the body passes `limit` bytes."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLargeError(limit)
        return message

    return counted


async def refuse(send: Send, limit: int) -> None:
    """The 413 answer to a declared Content-Length over `limit`."""
    body = problem(limit)
    await send({
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ],
    })  # fmt: skip
    await send({"type": "http.response.body", "body": body})
