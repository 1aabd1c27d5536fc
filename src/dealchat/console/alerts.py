"""Console pages of the surveillance review queue: the list, one alert with its highlighted text,
the conversation around it and its history, and the reviewer's forms (claim, assign, escalate,
close). Each page declares its right; forms carry the session's CSRF token (`require_form`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require, require_form
from dealchat.console import people
from dealchat.console.acted import acted
from dealchat.console.pages import csrf_for, render
from dealchat.conversations.transcript import Transcript
from dealchat.surveillance import alerts as queue

router = APIRouter(prefix="/console/alerts", include_in_schema=False)
Comment = Annotated[str, Form(max_length=queue.MAX_COMMENT)]


def segments(text: str, spans: list[list[int]]) -> list[tuple[str, bool]]:
    """The text cut into (piece, matched) for the template to mark, escaping every piece."""
    out: list[tuple[str, bool]] = []
    last = 0
    for start, end in sorted(spans):
        if start < last or end > len(text):
            continue
        out += [(text[last:start], False), (text[start:end], True)]
        last = end
    out.append((text[last:], False))
    return [piece for piece in out if piece[0]]


@router.get("")
def alert_list(
    request: Request,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
    status: str | None = "open",
) -> Response:
    chosen = status if status in queue.STATUSES else None
    rows = queue.list_alerts(db, actor=actor, status=chosen, limit=200)
    parties = {a.party_id: people.shown(db, a.party_id) for a in rows if a.party_id}
    return render(
        "alerts.html",
        actor=actor,
        csrf=csrf_for(request),
        alerts=rows,
        parties=parties,
        chosen=chosen,
        statuses=queue.STATUSES,
    )


def _page(
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Actor,
    alert_id: str,
    *,
    notice: str = "",
    status: int = 200,
) -> Response:
    view = queue.show(db, actor=actor, alert_id=alert_id, messages=Transcript(platform.desk))
    data: dict[str, Any] = view.as_json()
    data["history"] = [{**h, "actor": people.actor(db, h["actor"])} for h in data["history"]]
    party = view.alert.party_id
    spans = json.loads(view.alert.spans)
    return render(
        "alert.html",
        actor=actor,
        csrf=csrf_for(request),
        status=status,
        alert=data,
        party=people.shown(db, party) if party else None,
        conversation=view.alert.conversation_id,
        pieces=segments(view.text or "", spans),
        notice=notice,
        dispositions=[d.value for d in queue.Disposition],
        may_review=bool(can(actor, Right.ALERT_REVIEW)),
        may_assign=bool(can(actor, Right.ALERT_ASSIGN)),
        mine=view.alert.assignee_id == actor.user_id,
    )


@router.get("/{alert_id}")
def alert_page(
    alert_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
) -> Response:
    return _page(request, db, platform, actor, alert_id)


def _acted(
    action: Callable[[], object],
    *,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Actor,
    alert_id: str,
) -> Response:
    """Run a reviewer's action: back to the alert, or the alert page saying why it was refused."""
    return acted(
        action,
        db,
        done=f"/console/alerts/{alert_id}",
        refused=lambda error: _page(
            request, db, platform, actor, alert_id, notice=error.message, status=error.http_status
        ),
    )


@router.post("/{alert_id}/claim")
def claim(
    *,
    alert_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require_form(Right.ALERT_REVIEW))],
) -> Response:
    return _acted(
        lambda: queue.claim(db, actor=actor, alert_id=alert_id),
        request=request,
        db=db,
        platform=platform,
        actor=actor,
        alert_id=alert_id,
    )


@router.post("/{alert_id}/assign")
def assign(
    *,
    alert_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require_form(Right.ALERT_ASSIGN))],
    assignee: Annotated[str, Form(max_length=64)] = "",
    comment: Comment = "",
) -> Response:
    return _acted(
        lambda: queue.assign(
            db, actor=actor, alert_id=alert_id, assignee=assignee, comment=comment
        ),
        request=request,
        db=db,
        platform=platform,
        actor=actor,
        alert_id=alert_id,
    )


@router.post("/{alert_id}/escalate")
def escalate(
    *,
    alert_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require_form(Right.ALERT_REVIEW))],
    comment: Comment = "",
) -> Response:
    return _acted(
        lambda: queue.escalate(db, actor=actor, alert_id=alert_id, comment=comment),
        request=request,
        db=db,
        platform=platform,
        actor=actor,
        alert_id=alert_id,
    )


@router.post("/{alert_id}/close")
def close(
    *,
    alert_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require_form(Right.ALERT_REVIEW))],
    disposition: Annotated[str, Form(max_length=32)] = "",
    comment: Comment = "",
) -> Response:
    return _acted(
        lambda: queue.close(
            db, actor=actor, alert_id=alert_id, disposition=disposition, comment=comment
        ),
        request=request,
        db=db,
        platform=platform,
        actor=actor,
        alert_id=alert_id,
    )
