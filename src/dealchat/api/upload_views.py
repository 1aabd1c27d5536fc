"""The upload page behind the chat's single-use link: GET shows a one-file form (CSRF token bound
to a cookie set with it, like the console login), POST reads the file within the size limit,
checks its type by content and extension, has it virus-scanned, then stores it sealed.

The link is looked at (not used) before anything is read, so a dead link costs no upload; it is
used by the POST that gets as far as the checks, whatever their answer (ask the bot for a new one).
The scan runs outside any transaction; everything that writes happens in one at the end.
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from dealchat.api import multipart
from dealchat.api.deps import Platform, PlatformDep, public, source_ip
from dealchat.api.limits import body_limit
from dealchat.console.pages import set_cookie
from dealchat.conversations import uploads
from dealchat.db.session import unit_of_work
from dealchat.documents import service as documents
from dealchat.documents.sniff import TYPES, RefusedError, extensions
from dealchat.identity import sessions
from dealchat.identity.views import page

router = APIRouter(
    prefix="/documents/links",
    include_in_schema=False,
    dependencies=[
        Depends(public("the upload page behind a single-use chat link (the capability)"))
    ],
)
CSRF_COOKIE = "__Host-dealchat-upload"
FILE_FIELD = "file"
Token = Annotated[str, Path(min_length=20, max_length=100)]
_DEAD = "This upload link is invalid, used or expired. Type upload in the chat for a new one."

_FORM = """<h2>Send a document</h2>{notice}
<p>One file, up to {limit}: {labels}. The name's extension must match what the file is.
It is virus-scanned, then stored encrypted with your conversation.</p>
<form method="post" enctype="multipart/form-data" autocomplete="off">
<input type="hidden" name="csrf_token" value="{csrf}">
<p><label>File<br><input type="file" name="file" required accept="{accept}"></label></p>
<p><button type="submit">Upload</button></p></form>"""


def rules_of(platform: Platform) -> documents.UploadRules:
    config = platform.settings.documents
    return documents.UploadRules(config.max_upload_bytes, tuple(config.allowed_types))


def _form(platform: Platform, csrf: str, notice: str = "", status: int = 200) -> HTMLResponse:
    rules = rules_of(platform)
    shown = f'<p role="alert"><strong>{html.escape(notice)}</strong></p>' if notice else ""
    body = _FORM.format(
        notice=shown,
        limit=documents.size_text(rules.max_bytes),
        labels=html.escape(", ".join(TYPES[name].label for name in rules.allowed)),
        csrf=html.escape(csrf),
        accept=html.escape(",".join(extensions(rules.allowed))),
    )
    return _no_store(page(body, status))


def _say(message: str, status: int) -> HTMLResponse:
    return _no_store(page(f"<p>{html.escape(message)}</p>", status))


def _no_store(response: HTMLResponse) -> HTMLResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


def _live(platform: Platform, token: str) -> bool:
    with unit_of_work(platform.sessions) as session:
        try:
            uploads.linked(session, token=token, now=platform.desk.clock())
        except LookupError:
            return False
    return True


@router.get("/{token}")
def show_form(token: Token, platform: PlatformDep) -> HTMLResponse:
    if not _live(platform, token):
        return _say(_DEAD, 404)
    secret = secrets.token_urlsafe(32)
    response = _form(platform, sessions.csrf_token(secret))
    max_age = int(platform.desk.policy.link_ttl.total_seconds())
    set_cookie(response, CSRF_COOKIE, secret, max_age=max_age)
    return response


@router.post("/{token}")
@body_limit(None)  # read as it streams within the upload limit (multipart.read_within)
async def upload(token: Token, request: Request, platform: PlatformDep) -> HTMLResponse:
    if not await run_in_threadpool(_live, platform, token):
        return _say(_DEAD, 404)
    rules = rules_of(platform)
    try:
        form = await multipart.read_form(
            content_type=request.headers.get("content-type"),
            content_length=request.headers.get("content-length"),
            stream=request.stream(),
            file_field=FILE_FIELD,
            limit=rules.max_bytes,
        )
    except multipart.BodyTooLargeError:
        return await _finish(platform, request, token, rules.too_large(), size=None)
    except multipart.BadFormError as error:
        return _say(f"The upload could not be read: {error}.", 400)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not cookie or not sessions.csrf_ok(cookie, form.fields.get("csrf_token")):
        return _say("The form expired. Open the link from the chat again.", 403)
    if not form.file_seen or form.filename is None:
        return _say("Choose a file to upload.", 400)
    data = bytes(form.data)
    try:
        outcome: documents.Accepted | RefusedError = await run_in_threadpool(
            documents.inspect,
            filename=form.filename,
            data=data,
            rules=rules,
            scanner=platform.scanner,
        )
    except RefusedError as refused:
        outcome = refused
    return await _finish(platform, request, token, outcome, size=len(data))


async def _finish(
    platform: Platform,
    request: Request,
    token: str,
    outcome: documents.Accepted | RefusedError,
    *,
    size: int | None,
) -> HTMLResponse:
    def write() -> uploads.Received:
        with unit_of_work(platform.sessions) as session:
            return uploads.receive(
                session,
                desk=platform.desk,
                token=token,
                outcome=outcome,
                size=size,
                source_ip=source_ip(request),
            )

    try:
        received = await run_in_threadpool(write)
    except LookupError:
        return _say(_DEAD, 404)
    if received.refusal is not None:
        refusal = received.refusal
        return _say(f"{refusal.message} Type upload in the chat to try again.", refusal.status)
    assert received.document is not None
    document = received.document
    return _say(
        f"Received {document.ref} ({documents.label_of(document)}, "
        f"{documents.size_text(document.size)}). You can close this page.",
        201,
    )
