"""Order receipts over HTTP: the single-use link a client gets in chat (no login: the link is the
capability, like the chat's secure links) and, for staff with order:read, any order's receipt.

A browser (Accept: text/html) opening the client's link gets a readable page: the order, its fill,
both amounts and the value date, and the signed receipt itself to download (the JSON, carried in
the page: the link is spent once) for `dealchat audit verify-receipt`. API clients get the JSON."""

from __future__ import annotations

import base64
import html
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, public, require
from dealchat.conversations.receipt_reply import receipt_of
from dealchat.conversations.signing import receipt_rows
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.views import page
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


_PAGE = """<h2>Receipt for {ref}</h2>
<table class="ticket">{rows}</table>
<p><a class="button" download="{file}" href="data:application/json;base64,{data}">Download the
signed receipt ({file})</a></p>
<p>Keep it. Anyone can check it offline, without asking the bank:
<code>dealchat audit verify-receipt {file}</code>. It proves that the order above was recorded in
the bank's audit log (entry {seq}, in the tree of {size} entries the bank signed).</p>
<details><summary>The signed receipt (JSON)</summary><pre>{json}</pre></details>"""


def _wants_html(request: Request) -> bool:
    """A browser asks for HTML first; an API client (or no Accept) gets the JSON."""
    accept = request.headers.get("accept", "")
    html_at, json_at = accept.find("text/html"), accept.find("application/json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)


def receipt_page(platform: PlatformDep, order: Order, receipt: dict[str, Any]) -> HTMLResponse:
    default_lp = platform.settings.pricing.counterparty
    if platform.desk.routing is not None:
        default_lp = platform.desk.routing.default or default_lp
    cells = "".join(
        f'<tr><th scope="row">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'
        for label, value in receipt_rows(order, default_lp)
    )
    text = json.dumps(receipt, indent=2, sort_keys=True)
    entry, inclusion = receipt.get("entry", {}), receipt.get("inclusion", {})
    body = _PAGE.format(
        ref=html.escape(order.ref),
        rows=cells,
        file=f"receipt-{order.ref}.json",
        data=base64.b64encode(text.encode("utf-8")).decode("ascii"),
        seq=html.escape(str(entry.get("seq", "?"))),
        size=html.escape(str(inclusion.get("tree_size", "?"))),
        json=html.escape(text),
    )
    return page(body)


@router.get(
    "/receipts/links/{token}",
    dependencies=[Depends(public(_LINK))],
    response_model=None,
)
def get_linked_receipt(
    token: Annotated[str, Path(min_length=20, max_length=100)],
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
) -> dict[str, Any] | HTMLResponse:
    try:
        params = reports_links.spend(
            db, token=token, user_id=None, now=platform.desk.clock(), purpose="receipt"
        )
    except LookupError as error:
        raise _not_found(str(error)) from error
    order = db.get(Order, params.get("order"))
    if order is None:
        raise _not_found("no such order")
    receipt = _receipt(db, platform, order, actor=f"user:{order.client_id}")
    return receipt_page(platform, order, receipt) if _wants_html(request) else receipt


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
