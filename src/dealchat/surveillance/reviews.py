"""Compliance reviews (cases): open from an alert or a search hit, claim, comment, escalate to a
case, close with a disposition. Closing as a breach takes two reviewers (four eyes): the first
proposes it (`closing`), a different one confirms it. Nobody reviews a case about themselves.
Every step is audited on `review:<id>` in the caller's transaction; due dates come from
`review_deadline_hours` and the queue shows what is past them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry
from dealchat.records.service import in_stream, record, record_new
from dealchat.surveillance import guard
from dealchat.surveillance.models import Alert
from dealchat.surveillance.review_models import Review

DISPOSITIONS = ("false_positive", "no_breach", "policy_reminder", "breach", "escalated")
OPEN_STATES = ("open", "claimed", "escalated", "closing")
BREACH = "breach"
_COMMENT = 2000


@dataclass(frozen=True)
class Opening:
    conversation_id: str | None
    message_id: str | None = None
    alert_id: str | None = None
    party_id: str | None = None  # the client the case is about
    summary: str = ""


def _next_ref(session: Session) -> str:
    count = session.scalar(select(func.count()).select_from(Review)) or 0
    return f"CASE-{count + 1}"


def open_review(
    session: Session, *, actor: Actor, opening: Opening, now: dt.datetime, deadline_hours: int
) -> Review:
    guard.check(actor, Right.ALERT_REVIEW)
    if opening.conversation_id is None and opening.alert_id is None:
        raise guard.bad("a review needs a conversation or an alert")
    party = opening.party_id
    if opening.alert_id is not None:
        alert = session.get(Alert, opening.alert_id)
        if alert is None:
            raise guard.missing(f"no alert {opening.alert_id}")
        party = party or alert.party_id
    _not_about_self(actor, party)
    review = Review(
        ref=_next_ref(session),
        opened_at=now,
        opened_by=actor.user_id,
        conversation_id=opening.conversation_id,
        message_id=opening.message_id,
        alert_id=opening.alert_id,
        party_id=party,
        summary=(opening.summary or "review")[:500],
        state="open",
        due_at=now + dt.timedelta(hours=deadline_hours),
        updated_at=now,
    )
    record_new(
        session,
        review,
        event=AuditEvent.REVIEW_OPENED,
        actor=actor.audit_name,
        kind="review",
        payload={
            "ref": review.ref,
            "conversation": review.conversation_id,
            "message": review.message_id,
            "alert": review.alert_id,
            "party": party,
            "due_at": review.due_at,
        },
    )
    return review


def get(session: Session, review_id: str) -> Review:
    review = session.get(Review, review_id) or session.scalar(
        select(Review).where(Review.ref == review_id)
    )
    if review is None:
        raise guard.missing(f"no review {review_id}")
    return review


def _not_about_self(actor: Actor, party: str | None) -> None:
    if party is not None and party == actor.user_id:
        raise guard.forbidden("nobody reviews a case about themselves")


def _act(
    session: Session,
    review: Review,
    *,
    actor: Actor,
    event: AuditEvent,
    now: dt.datetime,
    payload: dict[str, Any],
) -> Review:
    review.updated_at = now
    record(
        session,
        event=event,
        actor=actor.audit_name,
        subject=f"review:{review.id}",
        payload={"ref": review.ref, "state": review.state, **payload},
    )
    return review


def _reviewable(session: Session, actor: Actor, review_id: str) -> Review:
    guard.check(actor, Right.ALERT_REVIEW)
    review = get(session, review_id)
    _not_about_self(actor, review.party_id)
    if review.state == "closed":
        raise guard.conflict("the review is closed", state=review.state)
    return review


def claim(session: Session, *, actor: Actor, review_id: str, now: dt.datetime) -> Review:
    review = _reviewable(session, actor, review_id)
    if review.assignee_id not in (None, actor.user_id) and review.state != "escalated":
        raise guard.conflict("someone else holds the review", state=review.state)
    review.assignee_id = actor.user_id
    if review.state == "open":
        review.state = "claimed"
    return _act(session, review, actor=actor, event=AuditEvent.REVIEW_CLAIMED, now=now, payload={})


def comment(
    session: Session, *, actor: Actor, review_id: str, text: str, now: dt.datetime
) -> Review:
    review = _reviewable(session, actor, review_id)
    words = _words(text)
    return _act(
        session, review, actor=actor, event=AuditEvent.REVIEW_COMMENTED, now=now,
        payload={"comment": words},
    )  # fmt: skip


def escalate(
    session: Session, *, actor: Actor, review_id: str, to: str, text: str, now: dt.datetime
) -> Review:
    """Make the review a case for `to` (a team or a person, in words)."""
    review = _reviewable(session, actor, review_id)
    target = to.strip()[:200]
    if not target:
        raise guard.bad("escalate to whom? name a team or a person")
    review.state, review.escalated_to = "escalated", target
    return _act(
        session, review, actor=actor, event=AuditEvent.REVIEW_ESCALATED, now=now,
        payload={"to": target, "comment": text.strip()[:_COMMENT]},
    )  # fmt: skip


def close(
    session: Session,
    *,
    actor: Actor,
    review_id: str,
    disposition: str,
    text: str,
    now: dt.datetime,
) -> Review:
    """Close with a disposition; a breach needs a second, different reviewer to confirm it."""
    review = _reviewable(session, actor, review_id)
    if disposition not in DISPOSITIONS:
        raise guard.bad(f"disposition must be one of {', '.join(DISPOSITIONS)}")
    words = _words(text)
    if disposition == BREACH and review.state != "closing":
        review.state, review.proposed_by, review.disposition = "closing", actor.user_id, BREACH
        return _act(
            session, review, actor=actor, event=AuditEvent.REVIEW_CLOSE_PROPOSED, now=now,
            payload={"disposition": BREACH, "comment": words},
        )  # fmt: skip
    if review.state == "closing":
        _check_second(review, actor, disposition)
    review.state, review.disposition, review.comment = "closed", disposition, words
    review.closed_by, review.closed_at = actor.user_id, now
    return _act(
        session, review, actor=actor, event=AuditEvent.REVIEW_CLOSED, now=now,
        payload={"disposition": disposition, "comment": words, "proposed_by": review.proposed_by},
    )  # fmt: skip


def _check_second(review: Review, actor: Actor, disposition: str) -> None:
    if disposition != BREACH:
        raise guard.conflict(
            "a breach was proposed: a second reviewer confirms it as a breach, or comments",
            state=review.state,
        )
    if review.proposed_by == actor.user_id:
        raise guard.forbidden("a breach is closed by a second reviewer, not the one proposing it")


def _words(text: str) -> str:
    words = text.strip()[:_COMMENT]
    if not words:
        raise guard.bad("say why (a comment is required)")
    return words


@dataclass(frozen=True)
class QueueItem:
    review: Review
    overdue: bool


def queue(session: Session, *, actor: Actor, now: dt.datetime) -> list[QueueItem]:
    """Open reviews, soonest due first, each marked overdue once past its due time."""
    guard.check_any(actor, Right.ALERT_READ, Right.ALERT_REVIEW)
    rows = session.scalars(
        select(Review).where(Review.state.in_(OPEN_STATES)).order_by(Review.due_at, Review.ref)
    )
    return [QueueItem(row, _aware(row.due_at) < now) for row in rows]


def closed(session: Session, *, actor: Actor, limit: int = 50) -> list[Review]:
    """The latest closed reviews, last closed first: a case stays findable once closed."""
    guard.check_any(actor, Right.ALERT_READ, Right.ALERT_REVIEW)
    query = (
        select(Review)
        .where(Review.state.not_in(OPEN_STATES))
        .order_by(Review.closed_at.desc().nulls_last(), Review.ref.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def history(session: Session, review: Review) -> list[dict[str, Any]]:
    """The review's audit entries, oldest first."""
    return [
        {
            "seq": row.seq,
            "at": row.at,
            "event": row.event,
            "actor": row.actor,
            **json.loads(row.payload),
        }
        for row in session.scalars(
            select(AuditEntry).where(in_stream(f"review:{review.id}")).order_by(AuditEntry.seq)
        )
    ]
