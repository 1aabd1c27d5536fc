"""Console pages of compliance reviews (cases): the queue with what is overdue, a review opened
from an alert or a search hit showing the conversation around it, and the reviewer's forms
(claim, comment, escalate, close; a breach needs a second reviewer), each audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require, require_form
from dealchat.console import people
from dealchat.console.acted import acted
from dealchat.console.pages import csrf_for, render
from dealchat.conversations.models import Message
from dealchat.conversations.transcript import Transcript
from dealchat.identity.models import User
from dealchat.search.scope import client_of
from dealchat.surveillance import guard, reviews
from dealchat.surveillance.models import Alert

router = APIRouter(prefix="/console/reviews", include_in_schema=False)
Text = Annotated[str, Form(max_length=2000)]
Reviewer = Annotated[Actor, Depends(require_form(Right.ALERT_REVIEW))]
Id = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
CONTEXT = 5


@router.get("")
def queue_page(
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
) -> Response:
    items = reviews.queue(db, actor=actor, now=platform.desk.clock())
    overdue = sum(1 for item in items if item.overdue)
    return render(
        "reviews.html", actor=actor, csrf=csrf_for(request), items=items, overdue=overdue,
        closed=reviews.closed(db, actor=actor),
        deadline=platform.settings.surveillance.review_deadline_hours,
    )  # fmt: skip


@router.get("/new")
def new_page(
    *,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_REVIEW))],
    conversation: Id = None,
    message: Id = None,
    alert: Id = None,
) -> Response:
    """What a review would be opened on, with its context, and the button that opens it."""
    opening = _opening(db, conversation=conversation, message=message, alert=alert)
    return render(
        "review_new.html", actor=actor, csrf=csrf_for(request), opening=opening,
        context=_context(db, platform, actor, opening.message_id, opening.party_id),
    )  # fmt: skip


def _opening(
    db: SessionDep, *, conversation: str | None, message: str | None, alert: str | None
) -> reviews.Opening:
    if alert:
        row = db.get(Alert, alert)
        if row is None:
            raise guard.missing(f"no alert {alert}")
        summary = f"alert {row.policy}/{row.rule} ({row.severity})"
        return reviews.Opening(row.conversation_id, row.message_id, row.id, row.party_id, summary)
    anchor = db.get(Message, message) if message else None
    if anchor is None or (conversation and anchor.conversation_id != conversation):
        raise guard.missing("no such message in that conversation")
    party = _party(db, anchor)
    return reviews.Opening(anchor.conversation_id, anchor.id, None, party, "search hit")


def _party(db: SessionDep, anchor: Message) -> str | None:
    client = client_of(db, anchor.conversation_id)
    return client.id if client is not None else None


def _context(
    db: SessionDep, platform: PlatformDep, actor: Actor, message_id: str | None, party: str | None
) -> dict[str, Any]:
    """The messages around the one reviewed, when the reader may read the client's chat."""
    owner = db.get(User, party) if party else None
    resource = owner.attributes() if owner is not None else {}
    if message_id is None:
        return {"allowed": True, "lines": [], "anchor": None}
    if not can(actor, Right.CONVERSATION_READ, resource):
        return {"allowed": False, "lines": [], "anchor": message_id}
    lines = Transcript(platform.desk).around(db, message_id, before=CONTEXT, after=CONTEXT)
    return {"allowed": True, "lines": lines, "anchor": message_id}


@router.post("")
def open_review(
    *,
    db: SessionDep,
    platform: PlatformDep,
    actor: Reviewer,
    conversation: Annotated[str, Form(max_length=64)] = "",
    message: Annotated[str, Form(max_length=64)] = "",
    alert: Annotated[str, Form(max_length=64)] = "",
    summary: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    opening = _opening(
        db, conversation=conversation or None, message=message or None, alert=alert or None
    )
    if summary.strip():
        opening = reviews.Opening(
            opening.conversation_id, opening.message_id, opening.alert_id, opening.party_id,
            summary.strip(),
        )  # fmt: skip
    review = reviews.open_review(
        db, actor=actor, opening=opening, now=platform.desk.clock(),
        deadline_hours=platform.settings.surveillance.review_deadline_hours,
    )  # fmt: skip
    return RedirectResponse(f"/console/reviews/{review.id}", status_code=303)


def _page(
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Actor,
    review_id: str,
    *,
    notice: str = "",
    status: int = 200,
) -> Response:
    review = reviews.get(db, review_id)
    return render(
        "review.html", actor=actor, csrf=csrf_for(request), status=status, review=review,
        context=_context(db, platform, actor, review.message_id, review.party_id),
        history=[{**h, "actor": people.actor(db, h["actor"])} for h in reviews.history(db, review)],
        notice=notice,
        dispositions=reviews.DISPOSITIONS, may_review=bool(can(actor, Right.ALERT_REVIEW)),
        may_export=bool(can(actor, Right.AUDIT_EXPORT)),
    )  # fmt: skip


@router.get("/{review_id}")
def review_page(
    review_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
) -> Response:
    return _page(request, db, platform, actor, review_id)


def _acted(
    action: Callable[[], object],
    *,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Actor,
    review_id: str,
) -> Response:
    return acted(
        action,
        db,
        done=f"/console/reviews/{review_id}",
        refused=lambda error: _page(
            request, db, platform, actor, review_id, notice=error.message, status=error.http_status
        ),
    )


@router.post("/{review_id}/claim")
def claim(
    *, review_id: str, request: Request, db: SessionDep, platform: PlatformDep, actor: Reviewer
) -> Response:
    now = platform.desk.clock()
    return _acted(
        lambda: reviews.claim(db, actor=actor, review_id=review_id, now=now),
        request=request, db=db, platform=platform, actor=actor, review_id=review_id,
    )  # fmt: skip


@router.post("/{review_id}/comment")
def comment(
    *,
    review_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Reviewer,
    text: Text = "",
) -> Response:
    now = platform.desk.clock()
    return _acted(
        lambda: reviews.comment(db, actor=actor, review_id=review_id, text=text, now=now),
        request=request, db=db, platform=platform, actor=actor, review_id=review_id,
    )  # fmt: skip


@router.post("/{review_id}/escalate")
def escalate(
    *,
    review_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Reviewer,
    to: Annotated[str, Form(max_length=200)] = "",
    text: Text = "",
) -> Response:
    now = platform.desk.clock()
    return _acted(
        lambda: reviews.escalate(db, actor=actor, review_id=review_id, to=to, text=text, now=now),
        request=request, db=db, platform=platform, actor=actor, review_id=review_id,
    )  # fmt: skip


@router.post("/{review_id}/close")
def close(
    *,
    review_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Reviewer,
    disposition: Annotated[str, Form(max_length=32)] = "",
    text: Text = "",
) -> Response:
    now = platform.desk.clock()
    return _acted(
        lambda: reviews.close(
            db, actor=actor, review_id=review_id, disposition=disposition, text=text, now=now
        ),
        request=request, db=db, platform=platform, actor=actor, review_id=review_id,
    )  # fmt: skip
