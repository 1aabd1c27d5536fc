"""`/api/v1/audit/reports`: the audit report as JSON, CSV, PDF or a verifiable bundle, for holders
of audit:export;
`/api/v1/audit/reports/links/{token}`: the report a single-use chat link points to."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require
from dealchat.conversations import reporting
from dealchat.conversations.report_subjects import NotFoundError
from dealchat.errors import DealchatError, ErrorCode
from dealchat.records import reports, reports_links
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.pdf_signing import EvidenceSigner
from dealchat.records.reports import Report

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

Format = Literal["json", "csv", "pdf", "bundle"]
Exporter = Annotated[Actor, Depends(require(Right.AUDIT_EXPORT))]
_ID = r"^[A-Za-z0-9._:-]{1,128}$"


@router.get("/reports")
def get_report(
    *,
    db: SessionDep,
    platform: PlatformDep,
    actor: Exporter,
    start: Annotated[dt.datetime | None, Query(alias="from")] = None,
    end: Annotated[dt.datetime | None, Query(alias="to")] = None,
    client: Annotated[str | None, Query(pattern=_ID)] = None,
    conversation: Annotated[str | None, Query(pattern=_ID)] = None,
    case: Annotated[str | None, Query(pattern=_ID)] = None,
    fmt: Annotated[Format, Query(alias="format")] = "json",
) -> Response:
    """Every entry from `from` (inclusive) to `to` (exclusive), optionally one client's or one
    conversation's; the export is itself an audit entry."""
    return _respond(
        db, platform, actor, fmt, start=start, end=end, client=client, conversation=conversation,
        case=case,
    )  # fmt: skip


@router.get("/reports/links/{token}")
def get_linked_report(
    token: str,
    db: SessionDep,
    platform: PlatformDep,
    actor: Exporter,
    fmt: Annotated[Format, Query(alias="format")] = "pdf",
) -> Response:
    """The report a chat link names: once, for the user it was given to, before it expires."""
    try:
        params = reports_links.spend(
            db, token=token, user_id=actor.user_id, now=platform.desk.clock()
        )
    except LookupError as error:
        raise DealchatError(ErrorCode.NOT_FOUND, str(error), http_status=404) from error
    return _respond(
        db,
        platform,
        actor,
        fmt,
        start=None,
        end=None,
        client=params.get("client"),
        conversation=params.get("conversation"),
    )


def _respond(
    db: SessionDep,
    platform: PlatformDep,
    actor: Actor,
    fmt: str,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
    client: str | None,
    conversation: str | None,
    case: str | None = None,
) -> Response:
    try:
        report = reporting.build(
            db, platform.desk, start=start, end=end, client=client, conversation=conversation,
            case=case,
        )  # fmt: skip
    except NotFoundError as error:
        raise DealchatError(ErrorCode.NOT_FOUND, error.args[0], http_status=404) from error
    except ValueError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(error), http_status=400) from error
    suffix = "bundle.json" if fmt == "bundle" else fmt
    return deliver(
        db, platform, actor, report, fmt,
        name=f"dealchat-audit-{report.generated_at:%Y%m%dT%H%M%SZ}.{suffix}",
    )  # fmt: skip


def deliver(
    db: SessionDep, platform: PlatformDep, actor: Actor, report: Report, fmt: str, *, name: str
) -> Response:
    """A report rendered in `fmt` (a PDF signed, a bundle proven), its export audited, as a
    download called `name`."""
    settings = platform.settings
    keys = CheckpointKeys.load(settings.keys_dir, settings.records.origin)
    data = reporting.render(
        report,
        fmt,
        session=db,
        keys=keys,
        signer=EvidenceSigner.load(settings.keys_dir, settings.records.origin),
    )
    reports.audit_export(db, report, actor=actor.audit_name, fmt=fmt)
    return Response(
        content=data,
        media_type=reporting.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
