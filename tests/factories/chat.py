"""A web chat client for tests: says things, follows secure links, fills the bank's login form."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import urlparse

import httpx

from tests.conftest import Clock
from tests.factories.identity import TestUser

_IDS = itertools.count(1)


class Chat:
    def __init__(
        self,
        client: httpx.Client,
        clock: Clock,
        *,
        conversation: str = "conv-0000001",
        sender: str = "sender-alice-01",
    ) -> None:
        self.client, self.clock = client, clock
        self.conversation, self.sender = conversation, sender

    def post(self, text: str, message_id: str | None = None) -> httpx.Response:
        body = {
            "conversation_id": self.conversation,
            "sender_id": self.sender,
            "message_id": message_id or f"m-{next(_IDS)}",
            "text": text,
        }
        return self.client.post("/api/v1/webchat/messages", json=body)

    def say(self, text: str, message_id: str | None = None) -> list[dict[str, Any]]:
        response = self.post(text, message_id)
        assert response.status_code == 200, response.text
        replies: list[dict[str, Any]] = response.json()["replies"]
        return replies

    def text(self, text: str) -> str:
        return "\n".join(reply["text"] for reply in self.say(text))

    def link(self, text: str) -> str:
        """Say `text`, expect one reply with a secure link, return the link's path."""
        replies = self.say(text)
        assert len(replies) == 1, replies
        assert replies[0]["link"], replies
        return urlparse(replies[0]["link"]).path

    def log_in(self, path: str, user: TestUser, *, otp: str | None = None) -> httpx.Response:
        code = otp if otp is not None else user.code(self.clock.now.timestamp())
        form = {"username": user.username, "password": user.password, "otp": code}
        return self.client.post(path, data=form)

    def link_and_log_in(self, user: TestUser) -> None:
        response = self.log_in(self.link("login"), user)
        assert response.status_code == 200, response.text
        self.clock.advance(30)  # the next factor needs a fresh TOTP step
