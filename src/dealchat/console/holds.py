"""The desk's page of held orders: each with the rules that held it and their values, an approve
form and an abort form (CSRF-checked). Approving is level 2 here as over HTTP: the form carries
the approver's password and a fresh authenticator code, checked for exactly that order's ticket
hash (`sessions.prove_now`); a wrong answer is committed for lockout and changes nothing else."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import (
    PlatformDep,
    SessionDep,
    commit_denial,
    require,
    require_form,
    source_ip,
)
from dealchat.console import people
from dealchat.console.acted import acted
from dealchat.console.pages import csrf_for, render
from dealchat.controls import holds
from dealchat.conversations import pretrade
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import passwords, sessions
from dealchat.identity import service as identity
from dealchat.orders.models import Order

router = APIRouter(prefix="/console/holds", include_in_schema=False)
_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]+")
STATES = ("open", "released", "aborted", "expired", "all")
Approver = Annotated[Actor, Depends(require_form(Right.ORDER_APPROVE))]


def _row(db: SessionDep, view: holds.HoldView) -> dict[str, Any]:
    detail = json.loads(view.decision.detail)
    client = people.shown(db, view.order.client_id)

    def readable(text: str) -> str:
        """A rule's words and values as the approver reads them: the client by name (the engine
        names it `client:<id>`), an amount without the trailing zeros of its computation."""
        text = text.replace(f"client:{view.order.client_id}", f"client {client}")
        if _DECIMAL.fullmatch(text):
            return f"{Decimal(text).normalize():f}"
        return text

    fired = [
        {**f, "values": {k: readable(str(v)) for k, v in f["values"].items()}}
        for f in detail["fired"]
    ]
    return {
        "id": view.hold.id,
        "ref": view.order.ref,
        # whose order it is: an approver must know the client (never its own RM's to approve)
        "client": client,
        "conversation": view.order.conversation_id,
        "state": view.hold.state,
        "side": view.order.side.upper(),
        "quantity": f"{view.order.quantity.normalize():,f}",
        "instrument": view.order.pair or view.order.isin,
        "approvals": len(view.approvers),
        "required": view.hold.required,
        "expires_at": f"{view.hold.expires_at:%Y-%m-%d %H:%M}",
        "explanation": readable(view.decision.explanation),
        "fired": fired,
    }


def _page(
    request: Request,
    db: SessionDep,
    actor: Actor,
    *,
    state: str,
    notice: str = "",
    status: int = 200,
) -> Response:
    return render(
        "holds.html",
        actor=actor,
        csrf=csrf_for(request),
        status=status,
        holds=[_row(db, v) for v in holds.views(db, state=None if state == "all" else state)],
        state=state,
        states=STATES,
        notice=notice,
    )


@router.get("")
def page(
    *,
    request: Request,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ORDER_APPROVE))],
    state: str = "open",
    done: str = "",
    hold: str = "",
) -> Response:
    if state not in STATES:
        raise DealchatError(ErrorCode.BAD_REQUEST, "state: " + ", ".join(STATES))
    return _page(request, db, actor, state=state, notice=_said(db, done, hold[:32]))


def _said(db: SessionDep, done: str, hold_id: str) -> str:
    """What the page says after an approval or an abort (`?done=approved|aborted&hold=ID`): the
    hold's own reference and state as they are now, never text taken from the address."""
    if done not in (holds.APPROVE, holds.ABORT) or not hold_id:
        return ""
    found = holds.views(db, state=None, hold_id=hold_id)
    if not found:
        return ""
    view = found[0]
    ref, left = view.order.ref, view.hold.required - len(view.approvers)
    if view.hold.state == holds.RELEASED:
        return f"{ref} released: it goes to the market, and the client is told in the chat."
    if view.hold.state == holds.ABORTED:
        return f"{ref} aborted: nothing was traded, and the client is told in the chat."
    if view.hold.state == holds.OPEN and done == holds.APPROVE and left > 0:
        return f"{ref}: your approval is recorded; {left} more needed before it is released."
    return f"{ref} is {view.hold.state}."


def _acted(
    action: Callable[[], object],
    request: Request,
    db: SessionDep,
    actor: Actor,
    *,
    done: str,
    hold_id: str,
) -> Response:
    """Back to the list saying what was done, or the list saying why the action was refused (a
    404 stays a 404)."""
    return acted(
        action,
        db,
        done=f"/console/holds?done={done}&hold={quote(hold_id)}",
        refused=lambda error: _page(
            request, db, actor, state="open", notice=error.message, status=error.http_status
        ),
    )


@router.post("/{hold_id}/approve")
def approve(
    *,
    hold_id: str,
    password: Annotated[str, Form(min_length=1, max_length=passwords.MAX_LENGTH)],
    otp: Annotated[str, Form(pattern=r"^[0-9]{6}$")],
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Approver,
    comment: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    found = holds.find(db, hold_or_ref=hold_id[:32])
    order = db.get(Order, found.order_id) if found is not None else None
    if found is None or order is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such hold", http_status=404)
    order_hash = order.ticket_hash
    now = platform.desk.clock()
    policy = platform.desk.policy
    door = sessions.Door(
        platform.desk.sealer, "console", source_ip(request), policy.lockout, policy.directory
    )
    factors = sessions.Factors(password=password, otp=otp)
    if not sessions.prove_now(
        db,
        actor=actor,
        factors=factors,
        content_hash=order_hash,
        door=door,
        policy=platform.session_policy,
        now=now,
    ):
        context = access.AccessContext("console", source_ip(request), "approve hold step-up")
        access.decide(db, actor=actor, right=None, context=context, denied_because="step-up failed")
        commit_denial(db)  # the failed attempt stays recorded; nothing else happened
        return _page(request, db, actor, state="open", notice=identity.LOGIN_FAILED, status=401)
    return _acted(
        lambda: pretrade.approve_hold(
            db, desk=platform.desk, hold_id=found.id, actor=actor, comment=comment, now=now
        ),
        request,
        db,
        actor,
        done=holds.APPROVE,
        hold_id=found.id,
    )


@router.post("/{hold_id}/abort")
def abort(
    *,
    hold_id: str,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Approver,
) -> Response:
    return _acted(
        lambda: pretrade.abort_hold(
            db,
            desk=platform.desk,
            hold_id=hold_id[:32],
            actor=actor,
            reason=reason,
            now=platform.desk.clock(),
        ),
        request,
        db,
        actor,
        done=holds.ABORT,
        hold_id=hold_id[:32],
    )
