"""Exception handlers: every error leaves as problem+json, and no stack trace ever leaves.

A person's browser opening a console page it may not see (or one that does not exist) gets the
same status as a page it can read, not a JSON document: `console.pages.error_page`."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dealchat.api import limits
from dealchat.console.pages import error_page, return_to
from dealchat.errors import DealchatError, ErrorCode, internal_problem

log = logging.getLogger("dealchat.api")
PROBLEM = "application/problem+json"


def install(app: FastAPI) -> None:
    app.add_exception_handler(DealchatError, _dealchat_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _dealchat_error(request: Request, exc: DealchatError) -> Response:
    weak = exc.code == ErrorCode.INSUFFICIENT_AUTHENTICATION
    if exc.http_status == 401 and _console_page(request) and (request.method == "GET" or weak):
        # a person, not an API client: to the login page, or to step-up when the login is too
        # weak (also from a form whose change needs a fresher login than the page's)
        return RedirectResponse("/console/stepup" if weak else _login(request), status_code=303)
    if exc.http_status in (403, 404) and _person_reading(request):
        right = exc.data.get("right") if exc.data else None
        return error_page(exc.http_status, exc.message, right if isinstance(right, str) else None)
    return JSONResponse(
        exc.problem(), status_code=exc.http_status, media_type=PROBLEM, headers=exc.headers
    )


def _console_page(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/console/") and not path.startswith("/console/static/")


def _login(request: Request) -> str:
    """The login page, which brings a person back to the page they asked for (a session that
    timed out while they read the review queue returns them there, not to the home)."""
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET" or asked == "/console/" or not return_to(asked):
        return "/console/login"
    return f"/console/login?next={quote(asked, safe='')}"


def _person_reading(request: Request) -> bool:
    """A browser navigating to a console page (it asks for HTML first); never a script's fetch,
    an event stream or an API client, which keep problem+json."""
    accept = request.headers.get("accept", "")
    return request.method == "GET" and _console_page(request) and accept.startswith("text/html")


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    fields = [
        {"field": ".".join(str(part) for part in error["loc"][1:]), "problem": error["msg"]}
        for error in exc.errors()
    ]
    problem = DealchatError(
        ErrorCode.BAD_REQUEST, "Invalid request", http_status=422, data={"fields": fields}
    ).problem()
    return JSONResponse(problem, status_code=422, media_type=PROBLEM)


_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
}


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if isinstance(
        exc, limits.BodyTooLargeError
    ):  # the body passed its route's limit while streaming
        return JSONResponse(
            json.loads(limits.problem(exc.limit)), status_code=413, media_type=PROBLEM,
            headers={"Connection": "close"},
        )  # fmt: skip
    code = _HTTP_CODES.get(exc.status_code, ErrorCode.BAD_REQUEST)
    title = "Not found" if exc.status_code == 404 else "Bad request"
    if exc.status_code == 405:
        title = "Method not allowed"
    if exc.status_code == 404 and _person_reading(request):
        return error_page(404, "Not found", None)
    problem = DealchatError(code, title, http_status=exc.status_code).problem()
    return JSONResponse(problem, status_code=exc.status_code, media_type=PROBLEM)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse(internal_problem(), status_code=500, media_type=PROBLEM)
