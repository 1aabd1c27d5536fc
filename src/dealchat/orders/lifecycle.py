"""The order lifecycle with a counterparty, pure: which state an order may go to from which.

    awaiting_confirmation -> (held ->) pending_new          sent (or queued to be sent)
    pending_new -> new | partially_filled | filled | rejected
    new -> partially_filled | filled | cancelled | expired | pending_cancel | pending_replace
    partially_filled -> partially_filled | filled | cancelled | expired | pending_*
    pending_cancel -> cancelled | the state it came from (cancel refused) | filled ...
    pending_replace -> new (replaced) | the state it came from | filled ...
    any working state -> exec_review (an execution report failed a control: held for a person)

An order the simulated counterparty fills in the same transaction goes `placed -> filled` (the
demo's path); the FIX path goes through `pending_new`. Terminal states never change again, so a
fill for a cancelled order is refused here and raised as an exception by the caller.
"""

from __future__ import annotations

from typing import Final

PENDING_NEW: Final = "pending_new"
NEW: Final = "new"
PARTIALLY_FILLED: Final = "partially_filled"
FILLED: Final = "filled"
REJECTED: Final = "rejected"
CANCELLED: Final = "cancelled"
EXPIRED: Final = "expired"
PENDING_CANCEL: Final = "pending_cancel"
PENDING_REPLACE: Final = "pending_replace"
EXEC_REVIEW: Final = "exec_review"
PLACED: Final = "placed"  # the simulated counterparty's one-step placement

TERMINAL = frozenset({FILLED, REJECTED, CANCELLED, EXPIRED, "aborted"})
WORKING = frozenset({PENDING_NEW, NEW, PARTIALLY_FILLED, PENDING_CANCEL, PENDING_REPLACE})
CANCELLABLE = frozenset({PENDING_NEW, NEW, PARTIALLY_FILLED, PENDING_REPLACE})
REPLACEABLE = frozenset({NEW, PARTIALLY_FILLED})

_FILLS = {PARTIALLY_FILLED, FILLED}
_ENDS = {CANCELLED, EXPIRED}
_ALLOWED: dict[str, frozenset[str]] = {
    PLACED: frozenset({FILLED, REJECTED}),
    PENDING_NEW: frozenset({NEW, REJECTED, PENDING_CANCEL, *_FILLS, *_ENDS}),
    NEW: frozenset({PENDING_CANCEL, PENDING_REPLACE, *_FILLS, *_ENDS}),
    PARTIALLY_FILLED: frozenset({PENDING_CANCEL, PENDING_REPLACE, *_FILLS, *_ENDS}),
    PENDING_CANCEL: frozenset({PENDING_NEW, NEW, PARTIALLY_FILLED, *_FILLS, *_ENDS, REJECTED}),
    PENDING_REPLACE: frozenset({NEW, PARTIALLY_FILLED, PENDING_CANCEL, *_FILLS, *_ENDS}),
    EXEC_REVIEW: frozenset({PENDING_NEW, NEW, PARTIALLY_FILLED, PENDING_CANCEL, PENDING_REPLACE}),
}


class IllegalTransitionError(ValueError):
    """An order asked to move where the lifecycle does not go (e.g. a fill after a cancel)."""

    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"an order that is {current} cannot become {wanted}")
        self.current, self.wanted = current, wanted


def can_move(current: str, wanted: str) -> bool:
    if wanted == EXEC_REVIEW:
        return current in WORKING
    return wanted in _ALLOWED.get(current, frozenset()) or (
        current in WORKING | {EXEC_REVIEW} and wanted == current
    )


def check_move(current: str, wanted: str) -> str:
    """`wanted` when the lifecycle allows it from `current`; IllegalTransitionError otherwise."""
    if not can_move(current, wanted):
        raise IllegalTransitionError(current, wanted)
    return wanted
