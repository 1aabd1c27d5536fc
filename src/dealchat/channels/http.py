"""What the webhook adapters share: replay memory, time windows, and sending one HTTP call with
the platform's answer turned into delivered or `DeliveryFailed` (retryable, permanent, Retry-After).
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import threading
from collections import OrderedDict
from typing import Any, Protocol

import httpx

from dealchat.channels.interfaces import DeliveryFailed, Rejected

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
_MAX_RETRY_AFTER = 3600.0


class ReplayStore(Protocol):
    """Proofs seen by every process on one database (`channels.replays.DatabaseReplays`)."""

    def remember(self, scope: str, proof: str, *, now: dt.datetime, keep: dt.timedelta) -> bool:
        """False when `proof` was seen under `scope` within `keep`; else it is kept."""
        ...

    def forget(self, scope: str, proof: str) -> None: ...


class ReplayGuard:
    """Remembers the proofs (signatures, nonces) it has seen within the freshness window, so the
    same signed request presented twice is refused. One per adapter: in this process's memory,
    or, once `share`d, in the database every process and node on it checks (a request replayed
    to another worker is refused there too)."""

    def __init__(self, window: dt.timedelta, capacity: int = 100_000) -> None:
        self._window = window
        self._capacity = capacity
        self._seen: OrderedDict[str, dt.datetime] = OrderedDict()
        self._lock = threading.Lock()
        self._store: ReplayStore | None = None
        self._scope = ""

    def share(self, store: ReplayStore, scope: str) -> None:
        """Check and remember proofs in `store` under `scope` (the adapter's name) from now on."""
        self._store, self._scope = store, scope

    def check(self, proof: str, *, now: dt.datetime) -> None:
        if self._store is not None:
            if not self._store.remember(self._scope, proof, now=now, keep=self._window * 2):
                raise Rejected("replayed request")
            return
        with self._lock:
            while self._seen:
                oldest, at = next(iter(self._seen.items()))
                if now - at <= self._window * 2 and len(self._seen) < self._capacity:
                    break
                self._seen.pop(oldest)
            if proof in self._seen:
                raise Rejected("replayed request")
            self._seen[proof] = now

    def release(self, proof: str) -> None:
        """Forget a proof whose request we failed to process, so the platform's retry gets in."""
        if self._store is not None:
            self._store.forget(self._scope, proof)
            return
        with self._lock:
            self._seen.pop(proof, None)


def check_fresh(sent: dt.datetime, *, now: dt.datetime, window: dt.timedelta) -> None:
    if abs(now - sent) > window:
        raise Rejected("stale request: outside the time window")


def epoch(value: str | int | None) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(value or ""), tz=dt.UTC)
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise Rejected("missing or malformed timestamp") from error


def retry_after(response: httpx.Response, *, now: dt.datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at an hour."""
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def call(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    json: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One HTTP call; a transport error (refused, timed out) is a retryable `DeliveryFailed`."""
    try:
        return client.request(method, url, json=json, headers=headers or {}, params=params)
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"transport: {type(error).__name__}") from error


def post(
    client: httpx.Client,
    url: str,
    *,
    json: dict[str, Any],
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """POST one call. Transport errors, 429 and 5xx are retryable; other 4xx are permanent."""
    response = call(client, "POST", url, json=json, headers=headers, params=params)
    check_status(response)
    return response


def check_status(response: httpx.Response) -> None:
    status = response.status_code
    if status == 429:
        raise DeliveryFailed("rate limited", retry_after=retry_after(response), status=status)
    if status >= 500 or status == 408:
        raise DeliveryFailed(f"http {status}", retry_after=retry_after(response), status=status)
    if status >= 400:
        raise DeliveryFailed(f"http {status}", permanent=True, status=status)


def json_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as error:
        raise DeliveryFailed("answer is not JSON", status=response.status_code) from error
    if not isinstance(body, dict):
        raise DeliveryFailed("answer is not a JSON object", status=response.status_code)
    return body


def with_link(message_text: str, link: str | None) -> str:
    return message_text if link is None else f"{message_text}\n{link}"


def b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
