"""The web chat page at `/` and its JSON API, `POST /api/v1/webchat/messages`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from dealchat.api.deps import INT64_MAX, Platform, PlatformDep, SeqQuery, platform_of, public
from dealchat.api.limits import body_limit
from dealchat.api.ratelimits import RateLimit, enforce_source, enforce_source_and, per_source
from dealchat.channels.interfaces import Rejected, WebhookRequest
from dealchat.channels.webchat.adapter import ID_PATTERN, WebchatAdapter, WebchatMessage, inbound
from dealchat.conversations import feed
from dealchat.conversations.desk import handle_inbound
from dealchat.db.base import utcnow
from dealchat.db.session import reading, unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.live.signals import conversation_topic
from dealchat.live.streams import event_stream, last_event_id

STATIC = Path(__file__).parent / "static"

# The chat is open to anyone: who the sender is, is settled by secure links and step-up (flow.py).
router = APIRouter(dependencies=[Depends(public("web chat: senders identify by secure link"))])


class Reply(BaseModel):
    text: str
    link: str | None = None
    seq: int | None = None  # its number in the conversation: the page acknowledges it


class Replies(BaseModel):
    replies: list[Reply]


MESSAGES = "POST /api/v1/webchat/messages"
# Anyone may write, so each source address and each conversation has a rate (api.ratelimits).
PER_SOURCE = RateLimit("webchat-source", 60)
PER_CONVERSATION = RateLimit("webchat-conversation", 20)
# The replies travel back in the answer to the page's own POST: delivered by it, in its transaction.
IN_THE_RESPONSE = "webchat-response"


@router.post("/api/v1/webchat/messages", response_model=Replies)
@body_limit(32 * 1024)  # ids and 4,000 characters, even all \u-escaped
async def post_message(body: WebchatMessage, request: Request) -> Response:
    """One chat message in, the bot's replies out (`Replies`, the schema says so). A repeated
    message_id gets the same replies. Async: the work, the rate limits included, is one trip to
    the thread pool (a sync route would take a second one for its answer, and a sync dependency
    one more). The answer comes back already encoded from its model: FastAPI would check it
    against `Replies` again and encode it a second time."""
    return await run_in_threadpool(_answer, body, request)


def _answer(body: WebchatMessage, request: Request) -> Response:
    platform = platform_of(request)  # not a dependency: one less for FastAPI to solve
    headers = {"origin": request.headers["origin"]} if "origin" in request.headers else {}
    try:
        WebchatAdapter(platform.settings.public_url).verify(
            WebhookRequest("POST", request.scope["path"], headers), now=platform.desk.clock()
        )
    except Rejected as error:
        raise DealchatError(ErrorCode.UNAUTHORIZED, "Not verified", http_status=401) from error
    key = body.conversation_id  # counted with the source, only when the source is within its own
    enforce_source_and(request, platform, PER_SOURCE, PER_CONVERSATION, key=key, operation=MESSAGES)
    message = inbound(body)
    with unit_of_work(platform.sessions) as session:
        answers = handle_inbound(
            session, message=message, desk=platform.desk, delivered_by=IN_THE_RESPONSE
        )
    replies = Replies(replies=[Reply(text=a.text, link=a.link, seq=a.seq) for a in answers])
    return Response(replies.model_dump_json(), media_type="application/json")


class Page(BaseModel):
    """Which conversation a page follows: its two random ids, held only by the client's browser."""

    conversation_id: str = Field(min_length=8, max_length=128, pattern=ID_PATTERN)
    sender_id: str = Field(min_length=8, max_length=128, pattern=ID_PATTERN)


class Seen(Page):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=0, le=INT64_MAX)


class History(BaseModel):
    messages: list[dict[str, object]]


STREAM = "GET /api/v1/webchat/stream"
PER_SOURCE_STREAM = RateLimit("webchat-stream", 120)
# What pages post back (what they showed) and read after a reload: not counted with messages.
PER_SOURCE_FEED = RateLimit("webchat-feed", 240)


def _follower(platform: Platform, page: Page) -> feed.Follower:
    with reading(platform.sessions) as session:
        found = feed.follower(session, conversation=page.conversation_id, sender=page.sender_id)
    if found is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "No such conversation", http_status=404)
    return found


@router.get(
    "/api/v1/webchat/stream",
    dependencies=[Depends(per_source(PER_SOURCE_STREAM, STREAM))],
    response_class=StreamingResponse,
)
async def stream(
    request: Request,
    platform: PlatformDep,
    page: Annotated[Page, Query()],
    after: SeqQuery = None,
) -> StreamingResponse:
    """What the bank sends to this conversation, as Server-Sent Events (`message`, id = its
    number), from `after` or the browser's Last-Event-ID; the page acknowledges what it shows."""
    who = await run_in_threadpool(_follower, platform, page)

    def read(position: int) -> list[tuple[int, str, dict[str, Any]]]:
        with reading(platform.sessions) as session:
            lines = feed.after(session, platform.desk, who, position, now=utcnow())
        return [(line.seq, "message", line.as_dict()) for line in lines]

    return event_stream(
        request,
        platform.hub,
        [conversation_topic(who.conversation_id)],
        read,
        after=last_event_id(request, after),
    )


SEEN = "POST /api/v1/webchat/seen"


@router.post("/api/v1/webchat/seen")
@body_limit(4 * 1024)
async def seen(body: Seen, request: Request, platform: PlatformDep) -> dict[str, int]:
    """The page showed every message up to `seq`: they are delivered (`delivery:succeeded`).
    Replies it got in the answer to its own POST are delivered already: then nothing is written.
    A page posts this for every message it shows: one trip to the thread pool, like messages."""
    return await run_in_threadpool(_seen, body, request, platform)


def _seen(body: Seen, request: Request, platform: Platform) -> dict[str, int]:
    enforce_source(request, platform, PER_SOURCE_FEED, operation=SEEN)
    who = _follower(platform, body)
    with reading(platform.sessions) as session:
        if not feed.pending(session, who, body.seq):
            return {"delivered": 0}
    with unit_of_work(platform.sessions) as session:
        count = feed.acknowledge(session, who, body.seq, now=platform.desk.clock())
    return {"delivered": count}


@router.get(
    "/api/v1/webchat/history",
    response_model=History,
    dependencies=[Depends(per_source(PER_SOURCE_FEED, "GET /api/v1/webchat/history"))],
)
def history(platform: PlatformDep, page: Annotated[Page, Query()]) -> History:
    """The conversation back after a reload, once the sender is linked to her account."""
    who = _follower(platform, page)
    with reading(platform.sessions) as session:
        lines = feed.history(session, platform.desk, who)
    return History(messages=[line.as_dict() for line in lines])


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/webchat/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    allowed = {"webchat.js": "text/javascript", "webchat.css": "text/css"}
    if name not in allowed:
        raise DealchatError(ErrorCode.NOT_FOUND, "Not found", http_status=404)
    return FileResponse(STATIC / name, media_type=allowed[name])
