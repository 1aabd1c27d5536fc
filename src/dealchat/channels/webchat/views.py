"""The web chat page at `/` and its JSON API, `POST /api/v1/webchat/messages`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from dealchat.api.deps import PlatformDep, public
from dealchat.channels.interfaces import InboundMessage
from dealchat.conversations.desk import handle_inbound
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode

CHANNEL = "webchat"
STATIC = Path(__file__).parent / "static"
ID_PATTERN = r"^[A-Za-z0-9._:-]+$"

# The chat is open to anyone: who the sender is, is settled by secure links and step-up (flow.py).
router = APIRouter(dependencies=[Depends(public("web chat: senders identify by secure link"))])


class WebchatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    conversation_id: str = Field(min_length=8, max_length=128, pattern=ID_PATTERN)
    sender_id: str = Field(min_length=8, max_length=128, pattern=ID_PATTERN)
    message_id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    text: str = Field(min_length=1, max_length=4000)


class Reply(BaseModel):
    text: str
    link: str | None = None


class Replies(BaseModel):
    replies: list[Reply]


@router.post("/api/v1/webchat/messages", response_model=Replies)
def post_message(body: WebchatMessage, platform: PlatformDep) -> Replies:
    """One chat message in, the bot's replies out. A repeated message_id gets the same replies."""
    message = InboundMessage(
        channel=CHANNEL,
        conversation_id=body.conversation_id,
        sender_id=body.sender_id,
        message_id=body.message_id,
        text=body.text,
    )
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
