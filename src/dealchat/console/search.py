"""The console's search page: the same engine and rights as `GET /api/v1/search`; each hit with
the messages around it, a link to the conversation and a review opened from it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.access.service import AccessContext
from dealchat.api.deps import PlatformDep, SessionDep, require, source_ip
from dealchat.api.search_views import run
from dealchat.console.pages import csrf_for, render
from dealchat.errors import DealchatError
from dealchat.search.criteria import Criteria

router = APIRouter(prefix="/console/search", include_in_schema=False)
Field = Annotated[str, Query(max_length=1000)]
FIELDS = ("client", "channel", "staff", "counterparty", "order_ref", "order_state",
          "alert_state", "q", "from", "to")  # fmt: skip


def _moment(text: str) -> dt.datetime | None:
    """A date or an instant from the form; a date or a time without zone is UTC."""
    if not text.strip():
        return None
    moment = dt.datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _iso(text: str) -> str:
    moment = _moment(text)
    return "" if moment is None else moment.isoformat()


@router.get("")
def page(
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.AUDIT_READ))],
) -> Response:
    asked = {name: request.query_params.get(name, "")[:1000] for name in FIELDS}
    show: dict[str, Any] = {"asked": asked, "result": None, "export": None}
    csrf = csrf_for(request)
    if not any(value.strip() for value in asked.values()):
        return render("search.html", actor=actor, csrf=csrf, notice="", **show)
    try:
        criteria = Criteria(
            start=_moment(asked["from"]), end=_moment(asked["to"]), client=asked["client"],
            channel=asked["channel"], staff=asked["staff"], counterparty=asked["counterparty"],
            order_ref=asked["order_ref"], order_state=asked["order_state"],
            alert_state=asked["alert_state"], text=asked["q"],
        )  # fmt: skip
    except ValueError as error:
        return render(
            "search.html",
            actor=actor,
            csrf=csrf,
            notice=f"a time is not valid: {error}",
            status=400,
            **show,
        )
    access = AccessContext("console", source_ip(request), "GET /console/search")
    try:
        result = run(db, platform, actor, criteria, access)
    except DealchatError as error:
        return render(
            "search.html",
            actor=actor,
            csrf=csrf,
            notice=error.message,
            status=error.http_status,
            **show,
        )
    show["result"] = result
    if can(actor, Right.AUDIT_EXPORT):  # the same search, as evidence (api/search_views.py)
        wanted = urlencode(
            {
                name: (value if name not in ("from", "to") else _iso(value))
                for name, value in asked.items()
                if value.strip()
            }
        )
        show["export"] = f"/api/v1/search/export?{wanted}"
    return render("search.html", actor=actor, csrf=csrf, notice="", **show)
