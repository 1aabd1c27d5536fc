"""What a search asks, checked before anything is read: pure, no database.

Every field is optional, but a search needs at least one; `text` is the lexicon query language
(`surveillance/query.py`: words, "phrases", wildcards, AND/OR/NOT, NEAR/n, both Chinese scripts).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from dealchat.surveillance.query import Node, QueryError, parse

MAX_CONTEXT = 10
MAX_SHOWN = 500
MAX_EXPORTED = 5000  # hits an export holds (search/evidence.py)
_STATE = re.compile(r"^[a-z_]{1,24}$")
ALERT_STATES = frozenset({"open", "claimed", "escalated", "closed"})


class SearchError(ValueError):
    """A search that cannot run, with the reason in words (a 400, never a 500)."""


@dataclass(frozen=True)
class Criteria:
    start: dt.datetime | None = None
    end: dt.datetime | None = None  # exclusive
    client: str | None = None  # a username
    channel: str | None = None
    staff: str | None = None  # a bank user who took part
    counterparty: str | None = None
    order_ref: str | None = None
    order_state: str | None = None
    alert_state: str | None = None
    text: str | None = None
    context: int = 2  # messages shown before and after each hit
    shown: int = 100  # hits shown (all are counted)

    def described(self) -> dict[str, Any]:
        """The criteria as asked, for the audit entry and the result page."""
        return {
            name: value.isoformat() if isinstance(value, dt.datetime) else value
            for name, value in asdict(self).items()
            if value not in (None, "") and name not in ("context", "shown")
        }


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def check(criteria: Criteria, *, most: int = MAX_SHOWN) -> tuple[Criteria, Node | None]:
    """The criteria with blanks dropped, and the parsed text query; SearchError names the
    problem (no criterion, a time without zone, a window backwards, a bad query or state);
    `most` hits may be kept (an export keeps more than a page shows)."""
    fields = {name: _clean(getattr(criteria, name)) for name in _TEXT_FIELDS}
    cleaned = Criteria(
        start=criteria.start,
        end=criteria.end,
        context=criteria.context,
        shown=criteria.shown,
        **fields,
    )
    _check_window(cleaned.start, cleaned.end)
    if not cleaned.described():
        raise SearchError("the search is empty: give a period, a client, a text or another filter")
    if not 0 <= cleaned.context <= MAX_CONTEXT:
        raise SearchError(f"context must be between 0 and {MAX_CONTEXT} messages")
    if not 1 <= cleaned.shown <= most:
        raise SearchError(f"at most {most} hits are shown at once")
    if cleaned.order_state and not _STATE.match(cleaned.order_state):
        raise SearchError(f"unknown order state {cleaned.order_state!r}")
    if cleaned.alert_state and cleaned.alert_state not in ALERT_STATES:
        raise SearchError(f"unknown alert state {cleaned.alert_state!r}")
    node = None
    if cleaned.text is not None:
        try:
            node = parse(cleaned.text)
        except QueryError as error:
            raise SearchError(f"text query: {error}") from error
    return cleaned, node


_TEXT_FIELDS = (
    "client",
    "channel",
    "staff",
    "counterparty",
    "order_ref",
    "order_state",
    "alert_state",
    "text",
)


def _check_window(start: dt.datetime | None, end: dt.datetime | None) -> None:
    for moment in (start, end):
        if moment is not None and moment.tzinfo is None:
            raise SearchError("search times need a time zone, e.g. 2026-11-24T00:00:00Z")
    if start is not None and end is not None and end <= start:
        raise SearchError("'to' must be after 'from'")
