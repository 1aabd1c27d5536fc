"""Pure rules of the Matrix bot: who may invite it or talk to it, which events are new to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

MAX_ID_LENGTH = 128  # the width of our conversation, sender and message id columns
MAX_TEXT_LENGTH = 4000
T = TypeVar("T")


def server_of(user_id: str) -> str:
    """The server name of an MXID: '@alice:example.org' -> 'example.org' ('' when malformed)."""
    if not user_id.startswith("@"):
        return ""
    _local, _, server = user_id[1:].partition(":")
    return server


def is_allowed(user_id: str, *, users: Iterable[str], servers: Iterable[str]) -> bool:
    """Allowed when named in `users` or a user of one of `servers`; nobody when both are empty."""
    server = server_of(user_id)
    return user_id in set(users) or (bool(server) and server in set(servers))


def after_last(events: Sequence[T], is_own_join: Callable[[T], bool]) -> list[T]:
    """The events after the bot's last own join in this batch.

    A room the bot has just joined arrives with some history before the join: that history was
    not addressed to the bot. Without a join in the batch every event is new.
    """
    last = max((index for index, event in enumerate(events) if is_own_join(event)), default=-1)
    return list(events[last + 1 :])


def usable_ids(*ids: str) -> bool:
    """Ids we can store: non-empty and within our columns' width."""
    return all(0 < len(value) <= MAX_ID_LENGTH for value in ids)


def without_reply_fallback(body: str) -> str:
    """A Matrix reply quotes the message it answers ('> <@x> ...' lines, then a blank line)."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    rest = body.split("\n\n", 1)
    return rest[1] if len(rest) == 2 and rest[1].strip() else body
