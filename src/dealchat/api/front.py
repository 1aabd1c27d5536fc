"""The one plain ASGI layer every request passes first (`Front`): the client's address behind our
trusted proxies, the request gate (`api.gate`), no control characters in the path or query
(`api.inputs`), bounded bodies (`api.limits`), our security headers and one access-log line.

Plain ASGI, not `BaseHTTPMiddleware` (`app.middleware("http")`): that one runs the rest of the
app in a task of its own and copies every response through a memory stream, per layer and per
request; this one only looks at the scope and at the response's start message. One layer, not
one per duty: each layer is a coroutine call on the way in and a wrapped `send` on the way out,
for every request.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealchat.api import inputs, limits
from dealchat.api.gate import UNGATED, Gate, streams
from dealchat.identity import proxies

access_log = logging.getLogger("dealchat.access")

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
NO_STORE = ("/link/", "/enrol/", "/api/")  # pages and answers that carry tokens or personal data
ADDRESSES_KEPT = 4096  # (peer, X-Forwarded-For) -> client address, decided once while kept


class Front:
    """For each HTTP request, in this order:

    1. `request.state.client_ip`: the peer and, behind our proxies, X-Forwarded-For;
    2. the request gate: at most `requests_at_once` requests inside (None: no gate, the edge);
       a stream leaves it once its response starts, /healthz never waits for it;
    3. 400 problem+json for a control character in the path or a query value;
    4. 413 problem+json for a body over its route's limit, declared or while it streams;
    5. our security headers on every response (a route's own stricter value stays: downloads),
       `Cache-Control: no-store` under NO_STORE;
    6. one access-log line per request (method, redacted path, status, milliseconds, client)
       when dealchat.access logs at INFO.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: list[str],
        requests_at_once: int | None = None,
        default_body_limit: int = limits.DEFAULT_BODY_LIMIT,
    ) -> None:
        self.app = app
        self._trusted = proxies.parse_networks(trusted_proxies)
        self._gate = None if requests_at_once is None else Gate(requests_at_once)
        self._limits = limits.RouteLimits(default_body_limit)
        self._defaults = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self._addresses: dict[tuple[str | None, tuple[str, ...]], str | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["client_ip"] = self._address(scope)
        path: str = scope["path"]
        slots: asyncio.Semaphore | None = None
        if self._gate is not None and path not in UNGATED:
            slots = self._gate.slots()
            await slots.acquire()
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises: the error handler's answer
        no_store = path.startswith(NO_STORE)

        def leave() -> None:
            nonlocal slots
            if slots is not None:
                slots.release()
                slots = None

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in self._defaults if item[0] not in present)
                if no_store:
                    MutableHeaders(raw=headers)["cache-control"] = "no-store"
                message["headers"] = headers
                if slots is not None and streams(headers):
                    leave()  # from here on it only reads
            await send(message)

        try:
            where = inputs.unclean(scope)
            if where is not None:
                await inputs.refuse(sending, where)
                return
            limit = self._limits.limit_for(scope)
            if limit is not None:
                declared = limits.declared_length(scope)
                if declared is not None and declared > limit:
                    await limits.refuse(sending, limit)
                    return
                receive = limits.counting(receive, limit)
            await self.app(scope, receive, sending)
        finally:
            leave()
            if access_log.isEnabledFor(logging.INFO):
                _log(scope, status, time.perf_counter() - started)

    def _address(self, scope: Scope) -> str | None:
        client = scope.get("client")
        peer = client[0] if client else None
        forwarded: tuple[str, ...] = ()
        if self._trusted:  # else the peer is the client, whatever the header says
            forwarded = tuple(
                value.decode("latin-1")
                for name, value in scope.get("headers", ())
                if name == b"x-forwarded-for"
            )
        key = (peer, forwarded)
        if key in self._addresses:
            return self._addresses[key]
        address = proxies.client_address(peer, forwarded, self._trusted)
        if len(self._addresses) >= ADDRESSES_KEPT:
            self._addresses.clear()
        self._addresses[key] = address
        return address


def _log(scope: Scope, status: int, seconds: float) -> None:
    access_log.info(
        "request",
        extra={
            "method": scope["method"],
            "path": redacted_path(scope["path"]),
            "status": status,
            "ms": round(seconds * 1000, 1),
            "client": scope.get("state", {}).get("client_ip"),
        },
    )


def redacted_path(path: str) -> str:
    """Secure-link, enrolment, report-link and receipt-link paths carry a token: never logged."""
    for prefix in ("/link/", "/enrol/"):
        if path.startswith(prefix):
            return f"{prefix}<redacted>"
    head, found, _token = path.partition("/links/")
    return f"{head}/links/<redacted>" if found else path
