"""The web chat as a `ChannelAdapter`. Its page posts to our own API, so there is no platform
signature: `verify` refuses a cross-site post (an `Origin` that is not our public URL), and the
replies travel back in the HTTP response, so `send` has nothing left to do."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dealchat.channels.interfaces import (
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)

NAME = "webchat"
ID_PATTERN = r"^[A-Za-z0-9._:-]+$"


class WebchatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    conversation_id: str = Field(min_length=8, max_length=128, pattern=ID_PATTERN)
    sender_id: str = Field(min_length=8, max_length=128, pattern=ID_PATTERN)
    message_id: str = Field(min_length=1, max_length=128, pattern=ID_PATTERN)
    text: str = Field(min_length=1, max_length=4000)


class WebchatAdapter:
    name = NAME

    def __init__(self, public_url: str) -> None:
        self._origin = public_url.rstrip("/")

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        origin = request.header("origin")
        if origin is not None and origin.rstrip("/") != self._origin:
            raise Rejected("cross-site post to the web chat")

    def parse(self, request: WebhookRequest) -> Parsed:
        try:
            body = WebchatMessage.model_validate_json(request.body)
        except ValidationError as error:
            raise ValueError("not a web chat message") from error
        return Parsed(messages=[inbound(body)])

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        return {"text": message.text, "link": message.link}

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        """Delivered already: the page got the replies in the answer to its own request."""


def inbound(body: WebchatMessage) -> InboundMessage:
    return InboundMessage(
        channel=NAME,
        conversation_id=body.conversation_id,
        sender_id=body.sender_id,
        message_id=body.message_id,
        text=body.text,
    )
