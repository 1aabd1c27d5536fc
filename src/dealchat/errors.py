"""Every error a client can see: a stable code, an HTTP status and structured data, as problem+json.

The tree: `DealchatError` is the only exception the edges translate; anything else is a bug and
becomes a generic 500 with nothing of its message shown (the log keeps the trace).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    LINK_INVALID = "link_invalid"
    LOGIN_FAILED = "login_failed"
    INTERNAL = "internal"
    INSUFFICIENT_AUTHENTICATION = "insufficient_user_authentication"
    CSRF_FAILED = "csrf_failed"
    GONE = "gone"
    RATE_LIMITED = "rate_limited"
    PAYLOAD_TOO_LARGE = "payload_too_large"


class DealchatError(Exception):
    """An error with a stable code, the HTTP status for it and data safe to show."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        http_status: int = 400,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.data = data or {}
        self.headers = headers or {}  # e.g. WWW-Authenticate on a 401

    def problem(self) -> dict[str, Any]:
        """RFC 9457 problem details."""
        return {
            "type": f"urn:dealchat:error:{self.code.value}",
            "title": self.message,
            "status": self.http_status,
            "code": self.code.value,
            **({"data": self.data} if self.data else {}),
        }


def internal_problem() -> dict[str, Any]:
    return DealchatError(ErrorCode.INTERNAL, "Internal error", http_status=500).problem()
