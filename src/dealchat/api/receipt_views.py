"""Order receipts over HTTP: the single-use link a client gets in chat (no login: the link is the
capability, like the chat's secure links) and, for staff with order:read, any order's receipt."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, public, require
from dealchat.conversations.receipt_reply import receipt_of
from dealchat.errors import DealchatError, ErrorCode
from dealchat.orders.models import Order
from dealchat.records import reports_links
from dealchat.records.checkpoints import CheckpointKeys

router = APIRouter(prefix="/api/v1", tags=["receipts"])

_LINK = "a single-use receipt link sent to the client's own chat; the token is the capability"


def _keys(platform: PlatformDep) -> CheckpointKeys:
    settings = platform.settings
    return CheckpointKeys.load(settings.keys_dir, settings.records.origin)


def _not_found(message: str) -> DealchatError:
    return DealchatError(ErrorCode.NOT_FOUND, message, http_status=404)


@router.get("/receipts/links/{token}", dependencies=[Depends(public(_LINK))])
def get_linked_receipt(
    token: Annotated[str, Path(min_length=20, max_length=100)],
    db: SessionDep,
    platform: PlatformDep,
) -> dict[str, Any]:
    try:
        params = reports_links.spend(
            db, token=token, user_id=None, now=platform.desk.clock(), purpose="receipt"
        )
    except LookupError as error:
        raise _not_found(str(error)) from error
    order = db.get(Order, params.get("order"))
    if order is None:
        raise _not_found("no such order")
    return _receipt(db, platform, order, actor=f"user:{order.client_id}")


@router.get("/orders/{ref}/receipt")
def get_receipt(
    ref: Annotated[str, Path(pattern=r"^ORD-[A-Z0-9]{8}$")],
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ORDER_READ))],
) -> dict[str, Any]:
    order = db.scalar(select(Order).where(Order.ref == ref))
    if order is None:
        raise _not_found(f"no order {ref}")
    return _receipt(db, platform, order, actor=actor.audit_name)


def _receipt(db: SessionDep, platform: PlatformDep, order: Order, *, actor: str) -> dict[str, Any]:
    try:
        return receipt_of(db, order, keys=_keys(platform), actor=actor)
    except LookupError as error:
        raise DealchatError(ErrorCode.CONFLICT, str(error), http_status=409) from error
