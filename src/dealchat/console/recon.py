"""The back office's reconciliation page: one value date's matched settlements, its breaks and
what no statement has shown yet (`recon.service.report`, as `dealchat recon report` prints)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import SessionDep, require
from dealchat.console.pages import csrf_for, render
from dealchat.recon import service

router = APIRouter(prefix="/console/recon", include_in_schema=False)
DAY = r"^\d{4}-\d{2}-\d{2}$"


@router.get("")
def page(
    request: Request,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ORDER_READ))],
    date: Annotated[str | None, Query(pattern=DAY)] = None,
) -> Response:
    try:
        day = dt.date.fromisoformat(date) if date else dt.datetime.now(dt.UTC).date()
    except ValueError:
        return render("recon.html", actor=actor, csrf=csrf_for(request), status=400,
                      day=date, report=None, notice=f"{date} is not a date")  # fmt: skip
    found = service.report(db, day=day)
    return render(
        "recon.html",
        actor=actor,
        csrf=csrf_for(request),
        day=day.isoformat(),
        report=found,
        previous=(day - dt.timedelta(days=1)).isoformat(),
        following=(day + dt.timedelta(days=1)).isoformat(),
        notice="",
    )
