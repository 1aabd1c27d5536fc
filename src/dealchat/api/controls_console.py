"""The desk's page of held orders: each with the rules that held it and their values, and an
abort form (CSRF-checked). Server-rendered, autoescaped; the same services as the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require, require_form
from dealchat.controls import holds
from dealchat.conversations import pretrade
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import sessions

router = APIRouter(prefix="/console/holds", tags=["console"], include_in_schema=False)
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_STATES = ("open", "released", "aborted", "expired", "all")


def _row(view: holds.HoldView) -> dict[str, Any]:
    detail = json.loads(view.decision.detail)
    return {
        "id": view.hold.id,
        "ref": view.order.ref,
        "state": view.hold.state,
        "side": view.order.side.upper(),
        "quantity": f"{view.order.quantity.normalize():,f}",
        "instrument": view.order.pair or view.order.isin,
        "approvals": len(view.approvers),
        "required": view.hold.required,
        "expires_at": f"{view.hold.expires_at:%Y-%m-%d %H:%M}",
        "explanation": view.decision.explanation,
        "fired": detail["fired"],
    }


@router.get("", response_class=HTMLResponse)
def page(
    request: Request,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ORDER_APPROVE))],
    state: str = "open",
) -> HTMLResponse:
    if state not in _STATES:
        raise DealchatError(ErrorCode.BAD_REQUEST, "state: " + ", ".join(_STATES))
    cookie = request.cookies.get(sessions.COOKIE)
    html = _TEMPLATES.get_template("controls_holds.html").render(
        holds=[_row(v) for v in holds.views(db, state=None if state == "all" else state)],
        state=state,
        actor=actor.username,
        csrf=sessions.csrf_token(cookie) if cookie else None,
    )
    return HTMLResponse(html)


@router.post("/{hold_id}/abort")
def abort(
    hold_id: str,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require_form(Right.ORDER_APPROVE))],
) -> RedirectResponse:
    pretrade.abort_hold(
        db,
        desk=platform.desk,
        hold_id=hold_id[:32],
        actor=actor,
        reason=reason,
        now=platform.desk.clock(),
    )
    return RedirectResponse("/console/holds", status_code=303)
