"""Operational rows checked against the audit log: `dealchat audit verify --deep`.

The log proves its own entries, but the rows the desk works from live beside it: a message's
sealed body and an order's fields. Each message entry commits to its message's id, conversation
and the SHA-256 of its ciphertext (and data key); each order's ticket, placing and fill entries
commit to its fields. `deep_check` reads the entries of those events in chunks, in seq order,
recomputes each commitment from its row and names every row that differs, is missing (its entry
remains), or exists with no entry at all (inserted behind the log's back).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealchat.conversations.models import Message
from dealchat.orders.integrity import (
    AMENDABLE_EVENTS,
    ORDER_EVENTS,
    SUPERSEDING_EVENTS,
    TICKET_EVENTS,
    fill_problem,
    ticket_problem,
    unfilled_problem,
)
from dealchat.orders.models import Order
from dealchat.records.envelope import body_digest
from dealchat.records.events import AuditEvent
from dealchat.records.service import ENTRY

MESSAGE_EVENTS = {AuditEvent.MESSAGE_RECEIVED.value: "in", AuditEvent.MESSAGE_SENT.value: "out"}
CHUNK = 5_000


@dataclass(frozen=True)
class RowProblem:
    table: str  # message | order
    row: str  # the row's id
    seq: int | None  # the entry it was checked against (None: a row with no entry)
    problem: str

    def __str__(self) -> str:
        against = f" (entry {self.seq})" if self.seq is not None else ""
        return f"{self.table} {self.row}{against}: {self.problem}"


def message_problem(
    row: Message | None, event: str, subject: str, payload: dict[str, Any]
) -> str | None:
    """What is wrong with a message row against its entry, or None."""
    if row is None:
        return "is missing (its audit entry remains)"
    if subject != f"conversation:{row.conversation_id}":
        return "belongs to another conversation than its audit entry says"
    if row.direction != MESSAGE_EVENTS[event]:
        return "has another direction than its audit entry says"
    return _body_problem(row, payload)


def _body_problem(row: Message, payload: dict[str, Any]) -> str | None:
    expected = payload.get("body_sha256")
    if expected is None:  # written before encryption at rest: the entry names no digest
        return None
    if row.body is None or body_digest(bytes(row.body)) != expected:
        return "its sealed body does not match its audit entry (SHA-256)"
    if payload.get("data_key") not in (None, row.data_key_id):
        return "is sealed under another data key than its audit entry says"
    return None


def deep_check(session: Session) -> list[RowProblem]:
    """Every message and order row against the entries that commit to it."""
    problems: list[RowProblem] = []
    seen_messages: set[str] = set()
    seen_orders: set[str] = set()
    filled: set[str] = set()
    for chunk in _entries(session):
        problems += _check_messages(session, chunk, seen_messages)
        problems += _check_orders(session, chunk, seen_orders, filled)
    problems += _unlogged(session, Message, "message", seen_messages)
    problems += _unlogged(session, Order, "order", seen_orders)
    problems += _unfilled(session, filled)
    return problems


Entry = tuple[int, str, str, dict[str, Any]]


def _entries(session: Session) -> Iterator[list[Entry]]:
    """The message and order entries, CHUNK at a time, in seq order."""
    events = [*MESSAGE_EVENTS, *ORDER_EVENTS]
    last = 0
    while True:
        rows = session.execute(
            select(ENTRY.c.seq, ENTRY.c.event, ENTRY.c.subject, ENTRY.c.payload)
            .where(ENTRY.c.seq > last, ENTRY.c.event.in_(events))
            .order_by(ENTRY.c.seq)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        last = int(rows[-1][0])
        yield [
            (int(seq), event, subject, json.loads(payload)) for seq, event, subject, payload in rows
        ]


def _check_messages(session: Session, chunk: list[Entry], seen: set[str]) -> list[RowProblem]:
    wanted = [(seq, event, subject, payload) for seq, event, subject, payload in chunk
              if event in MESSAGE_EVENTS and payload.get("message")]  # fmt: skip
    ids = {payload["message"] for *_rest, payload in wanted}
    rows = {row.id: row for row in session.scalars(select(Message).where(Message.id.in_(ids)))}
    found = []
    for seq, event, subject, payload in wanted:
        seen.add(payload["message"])
        problem = message_problem(rows.get(payload["message"]), event, subject, payload)
        if problem is not None:
            found.append(RowProblem("message", payload["message"], seq, problem))
    return found


def _check_orders(
    session: Session, chunk: list[Entry], seen: set[str], filled: set[str]
) -> list[RowProblem]:
    wanted = [(seq, event, subject.removeprefix("order:"), payload)
              for seq, event, subject, payload in chunk
              if event in ORDER_EVENTS and subject.startswith("order:")]  # fmt: skip
    ids = {order_id for _seq, _event, order_id, _payload in wanted}
    rows = {row.id: row for row in session.scalars(select(Order).where(Order.id.in_(ids)))}
    found = []
    for seq, event, order_id, payload in wanted:
        seen.add(order_id)
        order = rows.get(order_id)
        if order is None:
            problem: str | None = "is missing (its audit entries remain)"
        elif event in TICKET_EVENTS:
            if _amended_later(session, order, event, seq):
                continue  # the ticket as it was before an amend: the amend entry is checked
            problem = ticket_problem(order, payload)
        else:  # FILL_EVENT
            filled.add(order_id)
            problem = fill_problem(order, payload)
        if problem is not None:
            found.append(RowProblem("order", order_id, seq, problem))
    return found


def _amended_later(session: Session, order: Order, event: str, seq: int) -> bool:
    """Whether a later `ticket:amended` or `order:replaced` entry supersedes this ticket entry of
    `order` (a replaced order's ClOrdID is no longer its ref)."""
    replaced = order.clordid not in (None, order.ref)
    if event not in AMENDABLE_EVENTS or (order.amended_at is None and not replaced):
        return False
    later = session.scalar(
        select(func.count())
        .select_from(ENTRY)
        .where(
            ENTRY.c.seq > seq,
            ENTRY.c.event.in_(SUPERSEDING_EVENTS),
            ENTRY.c.subject == f"order:{order.id}",
        )
    )
    return bool(later)


def _unlogged(
    session: Session, model: type[Message] | type[Order], table: str, seen: set[str]
) -> list[RowProblem]:
    """Rows no entry names: counted first, listed only when the count says there are some."""
    total = session.scalar(select(func.count()).select_from(model)) or 0
    if total <= len(seen):
        return []
    found = []
    for (row_id,) in session.execute(select(model.id).order_by(model.id)):
        if row_id not in seen:
            found.append(RowProblem(table, row_id, None, "has no audit entry"))
    return found


def _unfilled(session: Session, filled: set[str]) -> list[RowProblem]:
    found = []
    for order in session.scalars(
        select(Order).where((Order.state == "filled") | Order.fill_quantity.is_not(None))
    ):
        problem = None if order.id in filled else unfilled_problem(order)
        if problem is not None:
            found.append(RowProblem("order", order.id, None, problem))
    return found
