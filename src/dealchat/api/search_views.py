"""`GET /api/v1/search`: the compliance search (search/service.py), for holders of audit:read;
conversations are opened only where conversation:read allows it on their client.
`GET /api/v1/search/export`: the same search's hits as evidence (search/evidence.py) in JSON,
CSV, signed PDF or a verifiable bundle, for holders of audit:export; each export audited."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.access.service import AccessContext
from dealchat.api.audit_views import Format, deliver
from dealchat.api.deps import PlatformDep, SessionDep, require, source_ip
from dealchat.conversations.report_subjects import UnknownPersonError
from dealchat.errors import DealchatError, ErrorCode
from dealchat.search import evidence, service
from dealchat.search.criteria import Criteria, SearchError

router = APIRouter(prefix="/api/v1", tags=["search"])
Searcher = Annotated[Actor, Depends(require(Right.AUDIT_READ))]
Exporter = Annotated[Actor, Depends(require(Right.AUDIT_EXPORT))]
Name = Annotated[str | None, Query(max_length=128)]


def asked(
    *,
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
) -> Criteria:
    """The search's criteria from the query string (the search and its export read the same)."""
    return Criteria(
        start=start, end=end, client=client, channel=channel, staff=staff,
        counterparty=counterparty, order_ref=order_ref, order_state=order_state,
        alert_state=alert_state, text=text, context=context, shown=shown,
    )  # fmt: skip


Asked = Annotated[Criteria, Depends(asked)]


@router.get("/search")
def search(
    *, request: Request, db: SessionDep, platform: PlatformDep, actor: Searcher, criteria: Asked
) -> dict[str, Any]:
    """Messages matching every criterion given, with the messages around each hit; counts of
    conversations and messages matched; the search is audited with its query and counts."""
    access = AccessContext("api", source_ip(request), "GET /api/v1/search")
    return run(db, platform, actor, criteria, access).as_dict()


@router.get("/search/export")
def export(
    *,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Exporter,
    criteria: Asked,
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Response:
    """The search's hits (every one, up to 5,000) with the messages around them and the entry
    recording the search, as an audit report in `format`; the export is itself audited."""
    access = AccessContext("api", source_ip(request), "GET /api/v1/search/export")
    try:
        report = evidence.build(db, platform.desk, actor=actor, criteria=criteria, context=access)
    except UnknownPersonError as error:
        raise DealchatError(ErrorCode.NOT_FOUND, error.args[0], http_status=404) from error
    except SearchError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(error), http_status=400) from error
    suffix = "bundle.json" if fmt == "bundle" else fmt
    name = f"dealchat-search-{report.generated_at:%Y%m%dT%H%M%SZ}.{suffix}"
    return deliver(db, platform, actor, report, fmt, name=name)


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
