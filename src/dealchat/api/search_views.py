"""`GET /api/v1/search`: the compliance search (search/service.py), for holders of audit:read;
conversations are opened only where conversation:read allows it on their client."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.access.service import AccessContext
from dealchat.api.deps import PlatformDep, SessionDep, require, source_ip
from dealchat.conversations.report_subjects import UnknownPersonError
from dealchat.errors import DealchatError, ErrorCode
from dealchat.search import service
from dealchat.search.criteria import Criteria, SearchError

router = APIRouter(prefix="/api/v1", tags=["search"])
Searcher = Annotated[Actor, Depends(require(Right.AUDIT_READ))]
Name = Annotated[str | None, Query(max_length=128)]


@router.get("/search")
def search(
    *,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Searcher,
    start: Annotated[dt.datetime | None, Query(alias="from")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
    client: Name = None,
    channel: Name = None,
    staff: Name = None,
    counterparty: Name = None,
    order_ref: Name = None,
    order_state: Name = None,
    alert_state: Name = None,
    text: Annotated[str | None, Query(alias="q", max_length=1000)] = None,
    context: Annotated[int, Query(ge=0, le=10)] = 2,
    shown: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Messages matching every criterion given, with the messages around each hit; counts of
    conversations and messages matched; the search is audited with its query and counts."""
    criteria = Criteria(
        start=start, end=end, client=client, channel=channel, staff=staff,
        counterparty=counterparty, order_ref=order_ref, order_state=order_state,
        alert_state=alert_state, text=text, context=context, shown=shown,
    )  # fmt: skip
    access = AccessContext("api", source_ip(request), "GET /api/v1/search")
    return run(db, platform, actor, criteria, access).as_dict()


def run(
    db: SessionDep,
    platform: PlatformDep,
    actor: Actor,
    criteria: Criteria,
    access: AccessContext,
) -> service.SearchResult:
    """The search, with its failures as problem+json: 400 naming the problem, 404 for nobody."""
    try:
        return service.run(
            db,
            envelope=platform.desk.envelope,
            actor=actor,
            criteria=criteria,
            context=access,
            now=platform.desk.clock(),
        )
    except UnknownPersonError as error:
        raise DealchatError(ErrorCode.NOT_FOUND, error.args[0], http_status=404) from error
    except SearchError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(error), http_status=400) from error
