"""Limit headroom, reserved atomically: lock the limit row, sum its window, reserve or refuse.

`usage_locked` takes each limit's row lock (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite the
transaction already holds the database write lock from `BEGIN IMMEDIATE`) in one fixed order, so
two orders under the same limit are decided one after the other and never both take the last
headroom. The locks last until the caller commits, which is after the reservation is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealchat.controls.engine import LimitCheck
from dealchat.controls.models import LimitRow, Reservation
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

RESERVED, CONSUMED, RELEASED = "reserved", "consumed", "released"
COUNTING = (RESERVED, CONSUMED)  # open and held orders count, and so do fills


def windowed(checks: Iterable[LimitCheck]) -> list[LimitCheck]:
    """The cumulative limits (a single-order limit needs no headroom), in lock order."""
    return sorted((c for c in checks if c.since is not None), key=lambda c: (c.rule_id, c.key))


def usage_locked(session: Session, checks: list[LimitCheck]) -> dict[tuple[str, str], Decimal]:
    """Lock every limit row in `checks` and return what each one already holds in its window."""
    usage: dict[tuple[str, str], Decimal] = {}
    for check in windowed(checks):
        _lock(session, check.rule_id, check.key)
        usage[(check.rule_id, check.key)] = used(session, check)
    return usage


def _lock(session: Session, rule_id: str, key: str) -> None:
    query = (
        select(LimitRow.id)
        .where(LimitRow.rule_id == rule_id, LimitRow.key == key)
        .with_for_update()
    )
    if session.scalar(query) is not None:
        return
    try:
        with session.begin_nested():
            session.add(LimitRow(rule_id=rule_id, key=key))
    except IntegrityError:
        pass  # another transaction created it first: lock theirs
    session.scalars(query).one()


def used(session: Session, check: LimitCheck) -> Decimal:
    """Reserved and consumed amounts under one limit since the window start (exact decimals)."""
    assert check.since is not None
    amounts = session.scalars(
        select(Reservation.amount).where(
            Reservation.rule_id == check.rule_id,
            Reservation.key == check.key,
            Reservation.state.in_(COUNTING),
            Reservation.at >= check.since,
        )
    )
    return sum((Decimal(str(amount)) for amount in amounts), Decimal(0))


def reserve(
    session: Session,
    *,
    order_id: str,
    checks: list[LimitCheck],
    amount: Decimal,
    at: dt.datetime,
) -> list[Reservation]:
    """Reserve `amount` under every cumulative limit; the caller has locked them (usage_locked)."""
    made = [
        Reservation(
            order_id=order_id,
            rule_id=check.rule_id,
            key=check.key,
            amount=amount,
            state=RESERVED,
            at=at,
            updated_at=at,
        )
        for check in windowed(checks)
    ]
    if not made:
        return made
    session.add_all(made)
    record(
        session,
        event=AuditEvent.RESERVATION_MADE,
        actor="system:controls",
        subject=f"order:{order_id}",
        payload={"amount": amount, "limits": [f"{r.rule_id}/{r.key}" for r in made]},
    )
    return made


def consume(session: Session, *, order_id: str, now: dt.datetime) -> int:
    """A fill turns the order's reservations into consumed headroom."""
    return _settle(session, order_id, CONSUMED, AuditEvent.RESERVATION_CONSUMED, now)


def release(session: Session, *, order_id: str, now: dt.datetime) -> int:
    """A cancel, reject, abort or expiry gives the order's headroom back."""
    return _settle(session, order_id, RELEASED, AuditEvent.RESERVATION_RELEASED, now)


def _settle(
    session: Session, order_id: str, state: str, event: AuditEvent, now: dt.datetime
) -> int:
    result = session.execute(
        update(Reservation)
        .where(Reservation.order_id == order_id, Reservation.state == RESERVED)
        .values(state=state, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:
        record(
            session,
            event=event,
            actor="system:controls",
            subject=f"order:{order_id}",
            payload={"reservations": count},
        )
    return count
