"""A Matrix client account for the tests, written against the client-server API with httpx
(not matrix-nio, so the bot is checked by an independent implementation)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from tests.channels.matrix.synapse import Account

_TXN = itertools.count(1)
WAIT_SECONDS = 60.0
MESSAGES = '{"types":["m.room.message","m.room.encrypted"]}'
T = TypeVar("T")


def wait_for(probe: Callable[[], T]) -> T:
    """Poll `probe` until it returns something truthy (bounded; not a timing assertion)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"still nothing after {WAIT_SECONDS} s")


class Person:
    def __init__(self, url: str, account: Account) -> None:
        self.account = account
        self.http = httpx.Client(
            base_url=f"{url}/_matrix/client/v3",
            headers={"Authorization": f"Bearer {account.access_token}"},
            timeout=30,
        )

    @property
    def user_id(self) -> str:
        return self.account.user_id

    def create_room(self, *, invite: list[str]) -> str:
        body = {"preset": "private_chat", "invite": invite, "is_direct": True}
        response = self.http.post("/createRoom", json=body)
        response.raise_for_status()
        room_id: str = response.json()["room_id"]
        return room_id

    def invite(self, room_id: str, user_id: str) -> None:
        self.http.post(
            f"/rooms/{quote(room_id)}/invite", json={"user_id": user_id}
        ).raise_for_status()

    def say(self, room_id: str, text: str) -> str:
        path = f"/rooms/{quote(room_id)}/send/m.room.message/t{time.time_ns()}.{next(_TXN)}"
        response = self.http.put(path, json={"msgtype": "m.text", "body": text})
        response.raise_for_status()
        event_id: str = response.json()["event_id"]
        return event_id

    def membership(self, room_id: str, user_id: str) -> str | None:
        path = f"/rooms/{quote(room_id)}/state/m.room.member/{quote(user_id)}"
        response = self.http.get(path)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        membership: str = response.json()["membership"]
        return membership

    def wait_membership(self, room_id: str, user_id: str, *, until_not: str | None = None) -> str:
        """Wait until `user_id`'s membership is something other than `until_not` (and not none)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            state = self.membership(room_id, user_id)
            if state is not None and state != until_not:
                return state
            time.sleep(0.1)
        raise AssertionError(f"{user_id} stayed {until_not!r} in {room_id}")

    def events(self, room_id: str) -> list[dict[str, Any]]:
        """The room's message events, oldest first."""
        response = self.http.get(
            f"/rooms/{quote(room_id)}/messages",
            params={"dir": "b", "limit": 200, "filter": MESSAGES},
        )
        response.raise_for_status()
        chunk: list[dict[str, Any]] = response.json()["chunk"]
        return list(reversed(chunk))

    def replies_to(self, room_id: str, event_id: str) -> list[dict[str, Any]]:
        """The bot's answer: the notices after `event_id` up to the next message of a person."""
        events = self.events(room_id)
        ids = [event["event_id"] for event in events]
        if event_id not in ids:
            return []
        answer: list[dict[str, Any]] = []
        for event in events[ids.index(event_id) + 1 :]:
            if event["content"].get("msgtype") != "m.notice":
                break
            answer.append(event)
        return answer

    def wait_replies(self, room_id: str, event_id: str, count: int = 1) -> list[dict[str, Any]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            found = self.replies_to(room_id, event_id)
            if len(found) >= count:
                return found
            time.sleep(0.1)
        raise AssertionError(f"no reply to {event_id} in {room_id}: {self.events(room_id)}")

    def ask(self, room_id: str, text: str) -> str:
        """Say `text` and return the body of the bot's (first) answer to it."""
        event_id = self.say(room_id, text)
        body: str = self.wait_replies(room_id, event_id)[0]["content"]["body"]
        return body
