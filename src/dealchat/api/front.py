"""What wraps every request, as plain ASGI middleware: the client's address behind our trusted
proxies, the security headers, and one access-log line.

Plain ASGI, not `BaseHTTPMiddleware` (`app.middleware("http")`): that one runs the rest of the
app in a task of its own and copies every response through a memory stream, per layer and per
request; these only look at the scope and at the response's start message.
"""

from __future__ import annotations

import logging
import time

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class ClientAddress:
    """Sets `request.state.client_ip` from the peer and, behind our proxies, X-Forwarded-For."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str]) -> None:
        self.app = app
        self._trusted = proxies.parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            client = scope.get("client")
            forwarded = [
                value.decode("latin-1")
                for name, value in scope.get("headers", ())
                if name == b"x-forwarded-for"
            ]
            address = proxies.client_address(
                client[0] if client else None, forwarded, self._trusted
            )
            scope.setdefault("state", {})["client_ip"] = address
        await self.app(scope, receive, send)


class SecurityHeaders:
    """Our security headers on every response (a route's own stricter value stays: downloads),
    `Cache-Control: no-store` under NO_STORE, and one access-log line per request (method,
    redacted path, status, milliseconds, client) when dealchat.access logs at INFO."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._defaults = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]  # what the client gets if the app raises: the error handler's answer
        no_store = scope["path"].startswith(NO_STORE)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = list(message.get("headers") or [])
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in self._defaults if item[0] not in present)
                if no_store:
                    MutableHeaders(raw=headers)["cache-control"] = "no-store"
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                _log(scope, status[0], time.perf_counter() - started)


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
