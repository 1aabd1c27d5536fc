"""Rate limits that routes declare, for requests no login can vouch for (the public web chat).

A `RateLimit` has a name, a default number of requests per window and what it counts by: the
source address (IPv4, or the IPv6 /64, behind our proxies the client's) or a key the route names
(a conversation). Routes declare source limits as a dependency and key limits with one call once
they know the key:

    WEBCHAT_SOURCE = RateLimit("webchat-source", 30)
    @router.post("/api/v1/things", dependencies=[Depends(per_source(WEBCHAT_SOURCE, "things"))])
    def make(body: Thing, request: Request, platform: PlatformDep) -> ...:
        enforce(request, platform, THINGS_PER_OWNER, key=body.owner, operation="things")

A route that does its work in one trip to the thread pool counts its source there with
`enforce_source` (a body that fails validation, 422, is then not counted, and the request costs
no second trip), or its source and a key together with `enforce_source_and` (the web chat's
messages: one statement on PostgreSQL).

Past the limit the request gets 429 with `Retry-After` (seconds to the end of the window) and
does nothing; only the first refusal of a window goes to the access log (so a flood cannot grow
the audit log), sealed like every anonymous decision. `DEALCHAT_LIMITS__PER_MINUTE` overrides a
limit by name. Counted by `access.counting`: in memory for one SQLite process, in the database
when several processes or nodes share it (`Settings.shares_state`), so they refuse what one would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import NoReturn

from fastapi import Request

from dealchat.access import service as access
from dealchat.access.throttle import RateLimit, RateLimits, Verdict, source_key
from dealchat.api.deps import Platform, PlatformDep, source_ip
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode

__all__ = [
    "RateLimit",
    "RateLimits",
    "enforce",
    "enforce_source",
    "enforce_source_and",
    "per_source",
]


def enforce(
    request: Request, platform: Platform, limit: RateLimit, *, key: str, operation: str
) -> None:
    """Count this request under `key`; past the limit, 429 (the first refusal recorded)."""
    _enforce(request, platform, limit, _hashed(key), operation)


def enforce_source_and(
    request: Request,
    platform: Platform,
    source: RateLimit,
    limit: RateLimit,
    *,
    key: str,
    operation: str,
) -> None:
    """`enforce_source` then `enforce`, counted together: one statement on PostgreSQL. A
    request the source limit refuses is not counted under `key`."""
    checks = [(source, source_key(source_ip(request))), (limit, _hashed(key))]
    refused = platform.limits.check_in_turn(checks, platform.desk.clock())
    if refused is not None:
        _refuse(request, platform, *refused, operation)


def enforce_source(
    request: Request, platform: Platform, limit: RateLimit, *, operation: str
) -> None:
    """Count this request under its source address; past the limit, 429 (the first refusal
    recorded). For a route doing its work in one trip to the thread pool: counted there, the
    source costs no trip of its own (a sync dependency does, about 0.1-0.2 ms of CPU)."""
    _enforce(request, platform, limit, source_key(source_ip(request)), operation)


def per_source(limit: RateLimit, operation: str) -> Callable[[Request, Platform], None]:
    """A dependency counting each request under its source address."""

    def by_source(request: Request, platform: PlatformDep) -> None:
        enforce_source(request, platform, limit, operation=operation)

    return by_source


def _enforce(
    request: Request, platform: Platform, limit: RateLimit, key: str, operation: str
) -> None:
    verdict = platform.limits.check(limit, key, platform.desk.clock())
    if not verdict.allowed:
        _refuse(request, platform, limit, verdict, operation)


def _hashed(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]  # bounded, never the key


def _refuse(
    request: Request, platform: Platform, limit: RateLimit, verdict: Verdict, operation: str
) -> NoReturn:
    """429 with Retry-After; the first refusal of the window recorded."""
    allowed = platform.limits.allowed(limit)
    if verdict.first_refusal:
        seconds = int(limit.window.total_seconds())
        why = f"rate limited: over {allowed} requests per {seconds} s ({limit.name})"
        context = access.AccessContext("web", source_ip(request), operation)
        with unit_of_work(platform.sessions) as session:
            access.decide(session, actor=None, right=None, context=context, denied_because=why)
    raise DealchatError(
        ErrorCode.RATE_LIMITED,
        "Too many requests: try again later",
        http_status=429,
        headers={"Retry-After": str(max(1, verdict.retry_after))},
        data={"limit": limit.name, "retry_after": max(1, verdict.retry_after)},
    )
