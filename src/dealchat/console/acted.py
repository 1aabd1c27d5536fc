"""A console form's action: back to `done`, or the page saying why it was refused."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.errors import DealchatError


def acted(
    action: Callable[[], object],
    db: Session,
    *,
    done: str,
    refused: Callable[[DealchatError], Response],
) -> Response:
    """Run `action`: a 303 to `done`; when refused (a 404 stays a 404), nothing of the action is
    kept but its authorisation decisions, and `refused` renders the page with the reason."""
    try:
        action()
    except DealchatError as error:
        if error.http_status == 404:
            raise
        access.rollback_keeping_decisions(db)
        return refused(error)
    return RedirectResponse(done, status_code=303)
