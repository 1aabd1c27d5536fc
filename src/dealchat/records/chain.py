"""The hash chain, pure: entry hash = SHA-256 over the previous hash and the canonical entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, Decimals and datetimes as strings: the same bytes every time."""
    return _CANONICAL.encode(value)


def _plain(value: Any) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    raise TypeError(f"not canonical JSON: {type(value).__name__}")


# What json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
# default=_plain) builds on every call, built once.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
)


def decimal_text(value: Decimal) -> str:
    """One text per number, whatever its stored scale: 1.0851100000 and 1.08511 -> '1.08511'."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def entry_hash(
    *, seq: int, prev_hash: str, at: dt.datetime, event: str, actor: str, subject: str, payload: str
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "prev": prev_hash,
            "at": at.astimezone(dt.UTC).isoformat(),
            "event": event,
            "actor": actor,
            "subject": subject,
            "payload": payload,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
