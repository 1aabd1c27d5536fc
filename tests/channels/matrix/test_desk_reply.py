"""A dealer's reply from the console reaches the client's Matrix room (real Synapse) exactly once:
signed with the dealer's name, and sent again by the outbox (as after a crash between the send
and its record) under the same transaction id, which the homeserver does not post twice."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.outbox import DELIVERED, PENDING, OutboxItem
from dealchat.cli.channels_runtime import running_channels
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from tests.channels.matrix.client import wait_for
from tests.channels.matrix.conftest import Cast
from tests.conftest import Clock
from tests.factories.desk import console_login, desk_people

WORDS = "Morning, Dan from the FX desk here: cable is 1.2710/15."


def _console(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform=platform)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as browser:
        yield browser


def _item(platform: Platform) -> OutboxItem | None:
    with unit_of_work(platform.sessions) as session:
        return session.scalars(
            select(OutboxItem)
            .join(Message, Message.id == OutboxItem.message_id)
            .where(Message.author_id.is_not(None))
        ).one_or_none()


def _signed(cast: Cast, room: str) -> list[str]:
    bodies = [event["content"]["body"] for event in cast.client.events(room)]
    return [body for body in bodies if body == f"Dan Lee: {WORDS}"]


def test_a_dealer_reply_reaches_the_matrix_room_once(
    cast: Cast, matrix_platform: Platform, clock: Clock
) -> None:
    people = desk_people(matrix_platform)
    with running_channels(matrix_platform):
        room = cast.client.create_room(invite=[cast.bot.user_id])
        cast.client.wait_membership(room, cast.bot.user_id, until_not="invite")
        hello = cast.client.say(room, "hello")
        cast.client.wait_replies(room, hello)
        with unit_of_work(matrix_platform.sessions) as session:
            conversation = session.scalars(
                select(Conversation.id).where(Conversation.external_id == room)
            ).one()
        for console in _console(matrix_platform):
            csrf = console_login(console, people.dan, clock)
            sent = console.post(
                f"/console/conversations/{conversation}/reply",
                data={"csrf_token": csrf, "text": WORDS},
            )
            assert sent.status_code == 303, sent.text
        wait_for(lambda: _signed(cast, room))
        delivered = wait_for(lambda: (i := _item(matrix_platform)) and i.state == DELIVERED and i)
        assert delivered
        with unit_of_work(matrix_platform.sessions) as session:  # as if the record was lost
            item = session.get_one(OutboxItem, delivered.id)  # and the lease had run out
            item.state, item.finished_at, item.next_attempt_at = PENDING, None, clock.now
        again = wait_for(lambda: (i := _item(matrix_platform)) and i.finished_at and i)
        assert (again.state, again.attempts, again.last_error) == (DELIVERED, 2, None)
    assert _signed(cast, room) == [f"Dan Lee: {WORDS}"]
