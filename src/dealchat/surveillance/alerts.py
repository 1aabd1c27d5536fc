"""The review queue: list, show (highlighted text and context), claim, assign, escalate, close.

Rights (access/rights.py): `alert:read` to list and show, `alert:review` to claim, escalate and
close, `alert:assign` to give an alert to someone else. Only the alert's assignee escalates or
closes it; nobody reviews an alert about themselves. Every action is recorded in the audit log
on the alert's subject `alert:<id>`, with the comment.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.db.base import utcnow
from dealchat.identity.models import User
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry
from dealchat.records.service import in_stream, record
from dealchat.surveillance import guard
from dealchat.surveillance.interfaces import MessageSource, StoredMessage
from dealchat.surveillance.models import Alert

STATUSES = ("open", "claimed", "escalated", "closed")
MAX_COMMENT = 2000
CONTEXT = 3


class Disposition(StrEnum):
    """How a review ends: a fixed list, so reports can count them."""

    FALSE_POSITIVE = "false_positive"
    NO_BREACH = "no_breach"
    BREACH_REPORTED = "breach_reported"
    POLICY_REMINDER = "policy_reminder"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    text: str | None  # the message the alert is about
    highlighted: str | None  # the same with the matched stretches marked
    context: list[StoredMessage]  # the messages around it, itself included
    history: list[dict[str, Any]]  # the audit entries of the alert

    def as_json(self) -> dict[str, Any]:
        alert = self.alert
        return {
            "id": alert.id,
            "kind": alert.kind,
            "policy": alert.policy,
            "version": alert.policy_version,
            "rule": alert.rule,
            "category": alert.category,
            "severity": alert.severity,
            "subject": alert.subject,
            "status": alert.status,
            "assignee": alert.assignee_id,
            "escalation_level": alert.escalation_level,
            "disposition": alert.disposition,
            "comment": alert.comment,
            "raised_at": alert.raised_at.isoformat(),
            "spans": json.loads(alert.spans),
            "detail": json.loads(alert.detail),
            "text": self.text,
            "highlighted": self.highlighted,
            "context": [
                {
                    "id": m.id,
                    "direction": m.direction,
                    "sender": m.username or m.sender_id,
                    "at": m.created_at.isoformat(),
                    "text": m.text,
                    "this": m.id == alert.message_id,
                }
                for m in self.context
            ],
            "history": self.history,
        }


def mark(text: str, spans: list[list[int]], *, marks: tuple[str, str] = ("[[", "]]")) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last or end > len(text):
            continue  # a span that no longer fits the text (erased content) is not shown
        out += [text[last:start], marks[0], text[start:end], marks[1]]
        last = end
    return "".join([*out, text[last:]])


def list_alerts(
    session: Session,
    *,
    actor: Actor,
    status: str | None = None,
    assignee_id: str | None = None,
    limit: int = 50,
) -> list[Alert]:
    guard.check(actor, Right.ALERT_READ)
    if status is not None and status not in STATUSES:
        raise guard.bad(f"status is one of {', '.join(STATUSES)}")
    query = select(Alert).order_by(Alert.raised_at.desc(), Alert.id).limit(max(1, min(limit, 500)))
    if status is not None:
        query = query.where(Alert.status == status)
    if assignee_id is not None:
        query = query.where(Alert.assignee_id == assignee_id)
    return list(session.scalars(query))


def _get(session: Session, alert_id: str) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise guard.missing(f"no alert {alert_id}")
    return alert


def show(session: Session, *, actor: Actor, alert_id: str, messages: MessageSource) -> AlertView:
    guard.check(actor, Right.ALERT_READ)
    alert = _get(session, alert_id)
    context: list[StoredMessage] = []
    text = highlighted = None
    if alert.message_id is not None:
        context = messages.around(session, alert.message_id, before=CONTEXT, after=CONTEXT)
        this = next((m for m in context if m.id == alert.message_id), None)
        if this is not None:
            text, highlighted = this.text, mark(this.text, json.loads(alert.spans))
    history = [
        {
            "at": row.at.isoformat(),
            "event": row.event,
            "actor": row.actor,
            **json.loads(row.payload),
        }
        for row in session.scalars(
            select(AuditEntry).where(in_stream(f"alert:{alert.id}")).order_by(AuditEntry.seq)
        )
    ]
    return AlertView(alert, text, highlighted, context, history)


def _not_about_self(actor: Actor, alert: Alert) -> None:
    if alert.party_id is not None and alert.party_id == actor.user_id:
        raise guard.forbidden("nobody reviews an alert about themselves")


def _act(
    session: Session, alert: Alert, *, actor: Actor, event: AuditEvent, payload: dict[str, Any]
) -> Alert:
    alert.updated_at = utcnow()
    record(
        session,
        event=event,
        actor=actor.audit_name,
        subject=f"alert:{alert.id}",
        payload={"status": alert.status, **payload},
    )
    return alert


def claim(session: Session, *, actor: Actor, alert_id: str) -> Alert:
    """Take an open or escalated alert nobody holds."""
    guard.check(actor, Right.ALERT_REVIEW)
    alert = _get(session, alert_id)
    _not_about_self(actor, alert)
    if alert.status == "closed":
        raise guard.conflict("the alert is closed", status=alert.status)
    if alert.assignee_id not in (None, actor.user_id):
        raise guard.conflict("someone else holds this alert", assignee=alert.assignee_id)
    alert.assignee_id, alert.status = actor.user_id, "claimed"
    return _act(session, alert, actor=actor, event=AuditEvent.ALERT_CLAIMED, payload={})


def assign(
    session: Session, *, actor: Actor, alert_id: str, assignee: str, comment: str = ""
) -> Alert:
    """Give the alert to an internal user (by username)."""
    guard.check(actor, Right.ALERT_ASSIGN)
    alert = _get(session, alert_id)
    if alert.status == "closed":
        raise guard.conflict("the alert is closed", status=alert.status)
    user = session.scalar(select(User).where(User.username == assignee))
    if user is None or user.kind != "internal":
        raise guard.bad(f"{assignee!r} is not an internal user")
    if alert.party_id == user.id:
        raise guard.forbidden("nobody reviews an alert about themselves")
    previous = alert.assignee_id
    alert.assignee_id, alert.status = user.id, "claimed"
    return _act(
        session,
        alert,
        actor=actor,
        event=AuditEvent.ALERT_ASSIGNED,
        payload={
            "assignee": user.id,
            "previous": previous,
            "comment": _comment(comment, required=False),
        },
    )


def escalate(session: Session, *, actor: Actor, alert_id: str, comment: str) -> Alert:
    """Hand the alert up a level: it leaves the reviewer and waits for a senior one."""
    alert = _held_by(session, actor, alert_id)
    alert.escalation_level += 1
    alert.assignee_id, alert.status = None, "escalated"
    return _act(
        session,
        alert,
        actor=actor,
        event=AuditEvent.ALERT_ESCALATED,
        payload={"level": alert.escalation_level, "comment": _comment(comment, required=True)},
    )


def close(
    session: Session, *, actor: Actor, alert_id: str, disposition: str, comment: str
) -> Alert:
    """End the review with a disposition from the fixed list and a comment."""
    try:
        chosen = Disposition(disposition)
    except ValueError:
        raise guard.bad(
            f"disposition is one of {', '.join(d.value for d in Disposition)}"
        ) from None
    text = _comment(comment, required=True)
    alert = _held_by(session, actor, alert_id)
    alert.status, alert.disposition, alert.comment = "closed", chosen.value, text
    alert.closed_at = utcnow()
    return _act(
        session,
        alert,
        actor=actor,
        event=AuditEvent.ALERT_CLOSED,
        payload={"disposition": chosen.value, "comment": text},
    )


def _held_by(session: Session, actor: Actor, alert_id: str) -> Alert:
    guard.check(actor, Right.ALERT_REVIEW)
    alert = _get(session, alert_id)
    if alert.status != "claimed" or alert.assignee_id != actor.user_id:
        raise guard.conflict(
            "claim the alert first: only its assignee acts on it", status=alert.status
        )
    return alert


def _comment(comment: str, *, required: bool) -> str:
    text = comment.strip()
    if required and not text:
        raise guard.bad("a comment is required")
    if len(text) > MAX_COMMENT:
        raise guard.bad(f"a comment is at most {MAX_COMMENT} characters")
    return text


def age(alert: Alert, now: dt.datetime) -> dt.timedelta:
    return now - alert.raised_at
