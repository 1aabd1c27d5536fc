"""Edge and core apart. The edge (webhooks and link pages, no database) verifies and parses each
platform request, then hands the messages to the core as a sealed envelope (`channels.link`);
link pages are relayed the same way, request and answer. The core opens envelopes at
`/internal/v1/inbound` and `/internal/v1/relay`; anything tampered, misdirected, stale or
replayed is 401 and nothing is recorded.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from dealchat.api import multipart
from dealchat.api.deps import public, source_ip
from dealchat.api.limits import body_limit
from dealchat.channels.interfaces import InboundMessage, InboundSink, Rejected, inbound_problem
from dealchat.channels.link import Link
from dealchat.documents.service import size_text
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.views import page as html_page

log = logging.getLogger("dealchat.channels.edge")
JOSE = "application/jose"
# Request headers a link page needs (the form's content type with its boundary, the CSRF cookie);
# hop-by-hop and forwarding headers never cross: the client's address travels signed, as `client`.
RELAYED_HEADERS = ("content-type", "cookie", "accept", "accept-language", "user-agent")
RETURNED_HEADERS = (
    "content-type",
    "content-disposition",
    "set-cookie",
    "location",
    "cache-control",
    "retry-after",
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)
# the tokens are secrets.token_urlsafe: never a dot, a slash or an escape in a path
LINK_SEGMENT = r"[A-Za-z0-9_-]{20,100}"
FORM_BYTES = 16 * 1024  # a login or enrolment form; an upload may take the documents limit


@dataclass(frozen=True)
class RelayedPage:
    """A client-facing page the edge relays: the exact path, the methods, and why a client
    outside the bank must reach it."""

    pattern: re.Pattern[str]
    methods: frozenset[str]
    why: str
    upload: bool = False  # its body may be as large as an upload


RELAYED = (
    RelayedPage(
        re.compile(rf"/link/{LINK_SEGMENT}"),
        frozenset({"GET", "POST"}),
        "the bank's login page behind a secure link the bot sends",
    ),
    RelayedPage(
        re.compile(r"/static/webchat/webchat\.css"),
        frozenset({"GET"}),
        "the stylesheet of every link page",
    ),
    RelayedPage(
        re.compile(rf"/documents/links/{LINK_SEGMENT}"),
        frozenset({"GET", "POST"}),
        "the document upload page behind the link the bot sends",
        upload=True,
    ),
    RelayedPage(
        re.compile(rf"/api/v1/receipts/links/{LINK_SEGMENT}"),
        frozenset({"GET"}),
        "a client's signed order receipt, once, behind the link the bot sends",
    ),
    RelayedPage(
        re.compile(rf"/enrol/{LINK_SEGMENT}"),
        frozenset({"GET", "POST"}),
        "authenticator enrolment behind the single-use link an operator gives a user",
    ),
)


def relayed(method: str, path: str) -> RelayedPage | None:
    """The allow-list entry for this request, or None: nothing else is ever relayed."""
    for page in RELAYED:
        if method in page.methods and page.pattern.fullmatch(path):
            return page
    return None


def relay_data_bytes(max_upload_bytes: int) -> int:
    """The most raw bytes one relayed request carries: an upload's body at the limit."""
    return max_upload_bytes + multipart.OVERHEAD_BYTES + FORM_BYTES


class RemoteSink:
    """The edge's sink: one sealed POST to the core per webhook. Failure raises, so the webhook
    answers 5xx and the platform retries (the core deduplicates by message id)."""

    def __init__(self, link: Link, core_url: str, client: httpx.Client) -> None:
        self._link, self._url, self._client = link, core_url.rstrip("/"), client

    def accept(self, messages: list[InboundMessage]) -> None:
        data = {"messages": [vars(message) for message in messages]}
        response = self._client.post(
            f"{self._url}/internal/v1/inbound",
            content=self._link.seal(data),
            headers={"content-type": JOSE},
        )
        response.raise_for_status()

    def drop(self, channel: str, reason: str) -> None:
        """The edge has no database: the drop is in its log (the core never sees the payload)."""
        log.warning("webhook payload dropped", extra={"channel": channel, "reason": reason})


# --- the core's side -------------------------------------------------------------------------

core_router = APIRouter(
    dependencies=[Depends(public("edge link: every request is a signed, encrypted envelope"))]
)


async def _opened(request: Request) -> dict[str, Any]:
    """The envelope in the body, read no further than the link's size limit, opened."""
    link: Link = request.app.state.link
    try:
        body = await multipart.read_within(
            request.stream(),
            content_length=request.headers.get("content-length"),
            cap=link.max_envelope,
        )
    except multipart.BodyTooLargeError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, "Too large", http_status=413) from error
    try:  # on a thread: a replay guard shared by several processes asks the database
        return await run_in_threadpool(link.open, body.decode("ascii"))
    except (Rejected, UnicodeDecodeError) as error:
        log.warning("envelope refused", extra={"reason": str(error)})
        raise DealchatError(ErrorCode.UNAUTHORIZED, "Not verified", http_status=401) from error


@core_router.post("/internal/v1/inbound", include_in_schema=False)
@body_limit(None)  # read within the link's envelope limit (_opened)
async def inbound(request: Request) -> Response:
    data = await _opened(request)
    try:
        messages = [InboundMessage(**item) for item in data["messages"]]
    except (KeyError, TypeError) as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, "Bad envelope", http_status=400) from error
    if any(inbound_problem(message) is not None for message in messages):  # the edge checked
        raise DealchatError(ErrorCode.BAD_REQUEST, "Bad envelope", http_status=400)
    sink: InboundSink = request.app.state.channels.sink
    await run_in_threadpool(sink.accept, messages)
    return Response(status_code=204)


@core_router.post("/internal/v1/relay", include_in_schema=False)
@body_limit(None)  # read within the link's envelope limit (_opened)
async def relay(request: Request) -> Response:
    """A link page request the edge received, answered by this app; the answer goes back sealed."""
    data = await _opened(request)
    path, method = str(data.get("path", "")), str(data.get("method", ""))
    if relayed(method, path) is None:  # the same allow-list, should the edge ever be wrong
        raise DealchatError(ErrorCode.FORBIDDEN, "Not relayed", http_status=403)
    # the client's address as the edge saw it (signed by the edge): lockout counts per source
    source = (str(data.get("client") or "0.0.0.0"), 0)  # noqa: S104 - an address, not a bind
    transport = httpx.ASGITransport(app=request.app, client=source)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        answer = await client.request(
            method,
            path,
            params=data.get("query") or {},
            headers=data.get("headers") or {},
            content=base64.b64decode(data.get("body", "")),
        )
    link: Link = request.app.state.link
    sealed = link.seal(
        {
            "status": answer.status_code,
            "headers": [[k, v] for k, v in answer.headers.multi_items() if k in RETURNED_HEADERS],
            "body": base64.b64encode(answer.content).decode("ascii"),
        }
    )
    return Response(sealed, media_type=JOSE)


def install_core(app: FastAPI, link: Link) -> None:
    app.state.link = link
    app.include_router(core_router)


# --- the edge's link pages -------------------------------------------------------------------

edge_router = APIRouter(
    dependencies=[Depends(public("client-facing link pages (channels.edge.RELAYED), relayed"))]
)


@edge_router.api_route("/link/{token}", methods=["GET", "POST"], include_in_schema=False)
@edge_router.api_route("/enrol/{token}", methods=["GET", "POST"], include_in_schema=False)
@edge_router.api_route("/documents/links/{token}", methods=["GET", "POST"], include_in_schema=False)
@edge_router.get("/api/v1/receipts/links/{token}", include_in_schema=False)
@edge_router.get("/static/webchat/{name}", include_in_schema=False)
@body_limit(None)  # read within the page's limit, an upload's at most (_relay)
async def link_page(request: Request) -> Response:
    """One relayed page: the body read within its limit (an oversize upload is 413 here and
    nothing reaches the core), sealed with the client's address, answered with the core's."""
    page = relayed(request.method, request.url.path)
    if page is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "Not found", http_status=404)
    max_upload: int = request.app.state.max_upload_bytes
    cap = max_upload + multipart.OVERHEAD_BYTES if page.upload else FORM_BYTES
    try:
        body = await multipart.read_within(
            request.stream(), content_length=request.headers.get("content-length"), cap=cap
        )
    except multipart.BodyTooLargeError:
        log.info("relayed body over its limit", extra={"limit": cap})
        return _too_large(max_upload if page.upload else None)
    data = await _relay(request, body)
    response = Response(base64.b64decode(data["body"]), status_code=int(data["status"]))
    for name, value in data["headers"]:
        response.headers.append(name, value)
    return response


async def _relay(request: Request, body: bytes) -> dict[str, Any]:
    link: Link = request.app.state.link
    client: httpx.AsyncClient = request.app.state.core_client
    sealed = link.seal(
        {
            "method": request.method,
            "path": request.url.path,
            "client": source_ip(request),  # the edge's trusted proxies decide, never the client
            "query": dict(request.query_params),
            "headers": {k: v for k, v in request.headers.items() if k in RELAYED_HEADERS},
            "body": base64.b64encode(body).decode("ascii"),
        }
    )
    answer = await client.post("/internal/v1/relay", content=sealed, headers={"content-type": JOSE})
    if answer.status_code != 200:
        raise DealchatError(ErrorCode.INTERNAL, "Core unavailable", http_status=502)
    try:
        return link.open(answer.text)
    except Rejected as error:
        raise DealchatError(ErrorCode.INTERNAL, "Core answer refused", http_status=502) from error


def _too_large(upload_limit: int | None) -> Response:
    text = "The request is too large."
    if upload_limit is not None:  # the upload page's own words; the link is still unused
        limit = size_text(upload_limit)
        text = f"The file is larger than the limit of {limit}. Choose a smaller one."
    response = html_page(f"<p>{html.escape(text)}</p>", 413)
    response.headers["Cache-Control"] = "no-store"
    return response
