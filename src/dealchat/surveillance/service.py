"""Surveillance on every recorded message and order event, in the recording transaction.

`Surveillance.on_record` is installed as an after-record hook (records/hooks.py) by the
composition root, and sees each batch of new entries in the recording transaction. For a
message (`message:received`, `message:sent`) it matches the active lexicon; for an order reaching
the market (`order:placed`, `order:held`) it runs the pattern rules. Alerts are written and
audited in the same transaction as the entry that raised them, so a message and its alerts
commit or roll back together.

Failing safe: whatever reads or writes the database runs inside a savepoint (for a message:
reading the lexicon when this process has no fresh copy, and writing its alerts when there are
any; most messages need neither). Any error rolls back only the savepoint (no half-written
alert), is logged, and is itself recorded as `surveillance:failed` naming the entry, so a
reviewer can rescan it (`backtest`); the message or order is never lost.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.db.base import utcnow
from dealchat.orders.models import Order
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import Queued
from dealchat.records.service import record, record_new
from dealchat.surveillance import patterns, store
from dealchat.surveillance.interfaces import MessageSource, StoredMessage
from dealchat.surveillance.lexicon import Hit, Lexicon, Utterance
from dealchat.surveillance.models import Alert

log = logging.getLogger("dealchat.surveillance")
MESSAGE_EVENTS = frozenset({AuditEvent.MESSAGE_RECEIVED.value, AuditEvent.MESSAGE_SENT.value})
ORDER_EVENTS = frozenset({AuditEvent.ORDER_PLACED.value, AuditEvent.ORDER_HELD.value})
OPEN_STATES = ("open", "claimed", "escalated")
PATTERNS = "order-patterns"
BOT = "bot"  # the sender of the bot's messages


@dataclass(frozen=True)
class Surveillance:
    messages: MessageSource
    params: patterns.PatternParams = field(default_factory=patterns.PatternParams)

    def on_record(self, session: Session, entries: Sequence[Queued]) -> None:
        """The after-record hook (records/hooks.py): each new entry, in the same transaction."""
        for entry in entries:
            self.on_entry(session, entry)

    def on_entry(self, session: Session, entry: Queued) -> None:
        if entry.event in MESSAGE_EVENTS:
            if entry.actor == BOT:
                return  # the bot's own words are the platform's templates, not a person's
            scan = self._scan_message
        elif entry.event in ORDER_EVENTS:
            scan = self._scan_order
        else:
            return
        event, subject = entry.event, entry.subject
        try:
            scan(session, entry)
        except Exception as error:
            log.exception("surveillance failed on %s (%s)", subject, event)
            _record_failure(session, event=event, subject=subject, error=error)

    def _scan_message(self, session: Session, entry: Queued) -> None:
        message_id = json.loads(entry.payload).get("message")
        stored = self._message(session, message_id) if message_id else None
        if stored is None or stored.sender_id == BOT:
            return  # the bot's own words are the platform's templates, not a person's
        hits = _lexicon(session).match(
            Utterance(stored.text, stored.channel, stored.direction, stored.participants)
        )
        if hits:
            with session.begin_nested():
                raise_message_alerts(session, stored, hits)

    def _message(self, session: Session, message_id: str) -> StoredMessage | None:
        """The message handed over when it was stored, else read (and opened) in a savepoint."""
        held = self.messages.remembered(session, message_id)
        if held is not None:
            return held
        with session.begin_nested():
            return self.messages.message(session, message_id)

    def _scan_order(self, session: Session, entry: Queued) -> None:
        with session.begin_nested():
            self._scan_order_in(session, entry)

    def _scan_order_in(self, session: Session, entry: Queued) -> None:
        kind, _, order_id = entry.subject.partition(":")
        order = session.get(Order, order_id) if kind == "order" else None
        if order is None:
            return
        for hit in patterns.check_order(session, order, self.params):
            if hit.rule == "structuring" and _open_alert(session, hit.rule, order.client_id):
                continue  # one open structuring alert per client at a time
            raise_alert(
                session,
                Alert(
                    kind="pattern",
                    policy=PATTERNS,
                    rule=hit.rule,
                    category="order_pattern",
                    severity=hit.severity,
                    subject=f"order:{order.id}",
                    conversation_id=order.conversation_id,
                    order_id=order.id,
                    party_id=order.client_id,
                    detail=json.dumps(hit.detail, sort_keys=True),
                ),
            )


def categories(session: Session, text: str, channel: str) -> frozenset[str]:
    """The categories of the policies in force that a client's message matches (the desk's
    `screen`); the alerts themselves are raised when the message is recorded. Fails safe like
    the hook: on any error the bot answers as if nothing matched."""
    try:
        hits = _lexicon(session).match(Utterance(text, channel, "in"))
    except Exception:
        log.exception("surveillance screen failed; answering without it")
        return frozenset()
    return frozenset(hit.category for hit in hits)


def _lexicon(session: Session) -> Lexicon:
    """The lexicon in force; a read of it runs in a savepoint (a failed read is then only the
    savepoint's)."""
    held = store.lexicon_in_force(session)
    if held is not None:
        return held
    with session.begin_nested():
        return store.active_lexicon(session)


def raise_message_alerts(session: Session, stored: StoredMessage, hits: Iterable[Hit]) -> None:
    for hit in hits:
        raise_alert(
            session,
            Alert(
                kind="lexicon",
                policy=hit.policy,
                policy_version=hit.version,
                rule=hit.rule,
                category=hit.category,
                severity=hit.severity,
                subject=f"message:{stored.id}",
                conversation_id=stored.conversation_id,
                message_id=stored.id,
                party_id=stored.user_id,
                spans=json.dumps([list(span) for span in hit.spans]),
            ),
        )


def raise_alert(session: Session, alert: Alert) -> Alert | None:
    """Store and audit a new open alert; None when this rule already alerted on this subject."""
    exists = session.scalar(
        select(Alert.id).where(
            Alert.policy == alert.policy, Alert.rule == alert.rule, Alert.subject == alert.subject
        )
    )
    if exists is not None:
        return None
    now = utcnow()
    alert.status, alert.raised_at, alert.updated_at = "open", now, now
    alert.escalation_level = 0
    alert.spans = alert.spans or "[]"
    alert.detail = alert.detail or "{}"
    record_new(
        session,
        alert,
        event=AuditEvent.ALERT_RAISED,
        actor="surveillance",
        kind="alert",
        payload={
            "kind": alert.kind,
            "policy": alert.policy,
            "version": alert.policy_version,
            "rule": alert.rule,
            "category": alert.category,
            "severity": alert.severity,
            "about": alert.subject,
            "spans": json.loads(alert.spans),
            "detail": json.loads(alert.detail),
        },
    )
    return alert


def _open_alert(session: Session, rule: str, party_id: str) -> bool:
    return (
        session.scalar(
            select(Alert.id).where(
                Alert.policy == PATTERNS,
                Alert.rule == rule,
                Alert.party_id == party_id,
                Alert.status.in_(OPEN_STATES),
            )
        )
        is not None
    )


def _record_failure(session: Session, *, event: str, subject: str, error: Exception) -> None:
    try:
        record(
            session,
            event=AuditEvent.SURVEILLANCE_FAILED,
            actor="surveillance",
            subject=subject,
            payload={"event": event, "error": type(error).__name__},
        )
    except Exception:  # the log line above is then the only trace; the entry itself stands
        log.exception("could not record the surveillance failure on %s", subject)
