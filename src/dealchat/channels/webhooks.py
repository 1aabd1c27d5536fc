"""`/channels/{name}/webhook`: one route for every webhook platform.

verify (401 on any doubt, before anything is stored) -> parse -> the sink (the core here, or the
core over the edge link) -> the platform's immediate answer.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from dealchat.api.deps import public
from dealchat.api.limits import body_limit
from dealchat.channels.interfaces import (
    ChannelAdapter,
    InboundSink,
    Rejected,
    WebhookRequest,
    inbound_problem,
)
from dealchat.db.base import utcnow
from dealchat.errors import DealchatError, ErrorCode

log = logging.getLogger("dealchat.channels")
MAX_BODY = 1_000_000

# Open to the platforms: each request proves itself with its platform's signature (verify).
router = APIRouter(dependencies=[Depends(public("channel webhooks: each platform's signature"))])


@dataclass
class ChannelRuntime:
    """The adapters this process serves and where their messages go; kept on `app.state`."""

    adapters: dict[str, ChannelAdapter]
    sink: InboundSink
    clock: Callable[[], dt.datetime] = field(default=utcnow)


def runtime(request: Request) -> ChannelRuntime:
    found: ChannelRuntime = request.app.state.channels
    return found


@router.api_route("/channels/{name}/webhook", methods=["GET", "POST"], include_in_schema=False)
@body_limit(MAX_BODY)  # counted as it streams, before any signature check (api.limits)
async def webhook(name: str, request: Request) -> Response:
    channels = runtime(request)
    adapter = channels.adapters.get(name)
    if adapter is None or name == "webchat":
        raise DealchatError(ErrorCode.NOT_FOUND, "Not found", http_status=404)
    body = await request.body()  # at most MAX_BODY: BodyLimits stops the request past it
    incoming = WebhookRequest(
        method=request.method,
        path=request.url.path,
        headers={key.lower(): value for key, value in request.headers.items()},
        query=dict(request.query_params),
        body=body,
    )
    return await _handle(channels, adapter, incoming)


async def _handle(
    channels: ChannelRuntime, adapter: ChannelAdapter, incoming: WebhookRequest
) -> Response:
    try:  # on a thread: a replay guard shared by several processes asks the database
        await run_in_threadpool(partial(adapter.verify, incoming, now=channels.clock()))
    except Rejected as error:
        log.warning("webhook rejected", extra={"channel": adapter.name, "reason": str(error)})
        raise DealchatError(ErrorCode.UNAUTHORIZED, "Not verified", http_status=401) from error
    try:
        parsed = adapter.parse(incoming)
    except Rejected as error:  # e.g. XML with entities: an attack, not the platform
        log.warning("webhook rejected", extra={"channel": adapter.name, "reason": str(error)})
        raise DealchatError(ErrorCode.UNAUTHORIZED, "Not verified", http_status=401) from error
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as error:
        # signed by the platform but unreadable (wrong types, nesting past reason): a 4xx would
        # make the platform send it again for ever, so it is answered 200 and dropped, noted
        why = f"unreadable payload: {type(error).__name__}"
        await run_in_threadpool(channels.sink.drop, adapter.name, why)
        return Response(status_code=200)
    messages = []
    for message in parsed.messages:
        problem = inbound_problem(message)
        if problem is None:
            messages.append(message)
        else:
            await run_in_threadpool(channels.sink.drop, adapter.name, f"message dropped: {problem}")
    if messages:
        try:
            await run_in_threadpool(channels.sink.accept, messages)
        except Exception:
            # not processed: the platform's retry must get in
            await run_in_threadpool(_release, adapter, incoming)
            raise
    answer = parsed.answer
    if answer is None:
        return Response(status_code=200)
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


def _release(adapter: ChannelAdapter, incoming: WebhookRequest) -> None:
    release = getattr(adapter, "release", None)  # adapters with a replay guard have one
    if release is not None:
        release(incoming)
