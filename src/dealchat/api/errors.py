"""Exception handlers: every error leaves as problem+json, and no stack trace ever leaves."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from dealchat.errors import DealchatError, ErrorCode, internal_problem

log = logging.getLogger("dealchat.api")
PROBLEM = "application/problem+json"


def install(app: FastAPI) -> None:
    app.add_exception_handler(DealchatError, _dealchat_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _dealchat_error(request: Request, exc: DealchatError) -> JSONResponse:
    return JSONResponse(exc.problem(), status_code=exc.http_status, media_type=PROBLEM)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        {"field": ".".join(str(part) for part in error["loc"][1:]), "problem": error["msg"]}
        for error in exc.errors()
    ]
    problem = DealchatError(
        ErrorCode.BAD_REQUEST, "Invalid request", http_status=422, data={"fields": fields}
    ).problem()
    return JSONResponse(problem, status_code=422, media_type=PROBLEM)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse(internal_problem(), status_code=500, media_type=PROBLEM)
