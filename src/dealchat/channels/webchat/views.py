"""The web chat page at `/` and its JSON API, `POST /api/v1/webchat/messages`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from dealchat.api.deps import PlatformDep, public
from dealchat.api.limits import body_limit
from dealchat.api.ratelimits import RateLimit, enforce, per_source
from dealchat.channels.interfaces import Rejected, WebhookRequest
from dealchat.channels.webchat.adapter import WebchatAdapter, WebchatMessage, inbound
from dealchat.conversations.desk import handle_inbound
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode

STATIC = Path(__file__).parent / "static"

# The chat is open to anyone: who the sender is, is settled by secure links and step-up (flow.py).
router = APIRouter(dependencies=[Depends(public("web chat: senders identify by secure link"))])


class Reply(BaseModel):
    text: str
    link: str | None = None


class Replies(BaseModel):
    replies: list[Reply]


MESSAGES = "POST /api/v1/webchat/messages"
# Anyone may write, so each source address and each conversation has a rate (api.ratelimits).
PER_SOURCE = RateLimit("webchat-source", 60)
PER_CONVERSATION = RateLimit("webchat-conversation", 20)


@router.post(
    "/api/v1/webchat/messages",
    response_model=Replies,
    dependencies=[Depends(per_source(PER_SOURCE, MESSAGES))],
)
@body_limit(32 * 1024)  # ids and 4,000 characters, even all \u-escaped
def post_message(body: WebchatMessage, request: Request, platform: PlatformDep) -> Replies:
    """One chat message in, the bot's replies out. A repeated message_id gets the same replies."""
    headers = {"origin": request.headers["origin"]} if "origin" in request.headers else {}
    try:
        WebchatAdapter(platform.settings.public_url).verify(
            WebhookRequest("POST", request.url.path, headers), now=platform.desk.clock()
        )
    except Rejected as error:
        raise DealchatError(ErrorCode.UNAUTHORIZED, "Not verified", http_status=401) from error
    enforce(request, platform, PER_CONVERSATION, key=body.conversation_id, operation=MESSAGES)
    message = inbound(body)
    with unit_of_work(platform.sessions) as session:
        answers = handle_inbound(session, message=message, desk=platform.desk)
    return Replies(replies=[Reply(text=a.text, link=a.link) for a in answers])


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.get("/static/webchat/{name}", include_in_schema=False)
def asset(name: str) -> FileResponse:
    allowed = {"webchat.js": "text/javascript", "webchat.css": "text/css"}
    if name not in allowed:
        raise DealchatError(ErrorCode.NOT_FOUND, "Not found", http_status=404)
    return FileResponse(STATIC / name, media_type=allowed[name])
