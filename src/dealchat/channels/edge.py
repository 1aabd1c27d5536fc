"""Edge and core apart. The edge (webhooks and link pages, no database) verifies and parses each
platform request, then hands the messages to the core as a sealed envelope (`channels.link`);
link pages are relayed the same way, request and answer. The core opens envelopes at
`/internal/v1/inbound` and `/internal/v1/relay`; anything tampered, misdirected, stale or
replayed is 401 and nothing is recorded.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from dealchat.api.deps import public
from dealchat.channels.interfaces import InboundMessage, InboundSink, Rejected
from dealchat.channels.link import Link
from dealchat.errors import DealchatError, ErrorCode

log = logging.getLogger("dealchat.channels.edge")
JOSE = "application/jose"
RELAYED_HEADERS = ("content-type", "cookie", "accept", "user-agent")
RETURNED_HEADERS = ("content-type", "set-cookie", "location", "cache-control")
RELAYED_PATHS = ("/link/", "/static/webchat/")  # the link page and its stylesheet, nothing else


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


# --- the core's side -------------------------------------------------------------------------

core_router = APIRouter(
    dependencies=[Depends(public("edge link: every request is a signed, encrypted envelope"))]
)


def _opened(request: Request, body: bytes) -> dict[str, Any]:
    link: Link = request.app.state.link
    try:
        return link.open(body.decode("ascii"))
    except (Rejected, UnicodeDecodeError) as error:
        log.warning("envelope refused", extra={"reason": str(error)})
        raise DealchatError(ErrorCode.UNAUTHORIZED, "Not verified", http_status=401) from error


@core_router.post("/internal/v1/inbound", include_in_schema=False)
async def inbound(request: Request) -> Response:
    data = _opened(request, await request.body())
    try:
        messages = [InboundMessage(**item) for item in data["messages"]]
    except (KeyError, TypeError) as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, "Bad envelope", http_status=400) from error
    sink: InboundSink = request.app.state.channels.sink
    await run_in_threadpool(sink.accept, messages)
    return Response(status_code=204)


@core_router.post("/internal/v1/relay", include_in_schema=False)
async def relay(request: Request) -> Response:
    """A link page request the edge received, answered by this app; the answer goes back sealed."""
    data = _opened(request, await request.body())
    path = str(data.get("path", ""))
    if not path.startswith(RELAYED_PATHS) or data.get("method") not in ("GET", "POST"):
        raise DealchatError(ErrorCode.FORBIDDEN, "Not relayed", http_status=403)
    # the client's address as the edge saw it (signed by the edge): lockout counts per source
    source = (str(data.get("client") or "0.0.0.0"), 0)  # noqa: S104 - an address, not a bind
    transport = httpx.ASGITransport(app=request.app, client=source)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        answer = await client.request(
            data["method"],
            path,
            params=data.get("query") or {},
            headers=data.get("headers") or {},
            content=base64.b64decode(data.get("body", "")),
        )
    link: Link = request.app.state.link
    sealed = link.seal(
        {
            "status": answer.status_code,
            "headers": {k: v for k, v in answer.headers.items() if k in RETURNED_HEADERS},
            "body": base64.b64encode(answer.content).decode("ascii"),
        }
    )
    return Response(sealed, media_type=JOSE)


def install_core(app: FastAPI, link: Link) -> None:
    app.state.link = link
    app.include_router(core_router)


# --- the edge's link pages -------------------------------------------------------------------

edge_router = APIRouter(
    dependencies=[Depends(public("the bank's login page, relayed to the core"))]
)


@edge_router.api_route("/link/{token}", methods=["GET", "POST"], include_in_schema=False)
@edge_router.get("/static/webchat/{name}", include_in_schema=False)
async def link_page(request: Request) -> Response:
    link: Link = request.app.state.link
    client: httpx.AsyncClient = request.app.state.core_client
    sealed = link.seal(
        {
            "method": request.method,
            "path": request.url.path,
            "client": request.client.host if request.client else None,
            "query": dict(request.query_params),
            "headers": {k: v for k, v in request.headers.items() if k in RELAYED_HEADERS},
            "body": base64.b64encode(await request.body()).decode("ascii"),
        }
    )
    answer = await client.post("/internal/v1/relay", content=sealed, headers={"content-type": JOSE})
    if answer.status_code != 200:
        raise DealchatError(ErrorCode.INTERNAL, "Core unavailable", http_status=502)
    try:
        data = link.open(answer.text)
    except Rejected as error:
        raise DealchatError(ErrorCode.INTERNAL, "Core answer refused", http_status=502) from error
    return Response(
        base64.b64decode(data["body"]), status_code=int(data["status"]), headers=data["headers"]
    )
