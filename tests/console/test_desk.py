"""The desk: who sees which conversation, every opening audited, a person replying, taking over
and handing back, and a bank user's words checked by surveillance like a client's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.conversations import inbox
from dealchat.conversations.models import Conversation, Handling, Message
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.desk import DeskPeople, console_login, desk_people


@pytest.fixture
def people(platform: Platform) -> DeskPeople:
    return desk_people(platform)


def _browser(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform=platform)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as test_client:
        yield test_client


@pytest.fixture
def staff(platform: Platform) -> Iterator[TestClient]:
    yield from _browser(platform)


@pytest.fixture
def chats(client: TestClient, clock: Clock, people: DeskPeople) -> dict[str, Chat]:
    alice = Chat(client, clock, conversation="conv-desk-alice", sender="sender-desk-alice")
    bob = Chat(client, clock, conversation="conv-desk-bob1", sender="sender-desk-bob01")
    alice.link_and_log_in(people.alice)
    bob.link_and_log_in(people.bob)
    alice.say("hello, anyone there?")
    return {"alice": alice, "bob": bob}


def _conversation(platform: Platform, external_id: str) -> str:
    with unit_of_work(platform.sessions) as session:
        return session.scalars(
            select(Conversation.id).where(Conversation.external_id == external_id)
        ).one()


def _transcript(staff: TestClient, conversation: str) -> str:
    page = staff.get(f"/console/conversations/{conversation}")
    assert page.status_code == 200, page.text
    return page.text


def test_each_reader_sees_only_the_conversations_they_may(
    platform: Platform, staff: TestClient, clock: Clock, people: DeskPeople, chats: dict[str, Chat]
) -> None:
    alice, bob = (
        _conversation(platform, "conv-desk-alice"),
        _conversation(platform, "conv-desk-bob1"),
    )
    console_login(staff, people.dan, clock)
    listed = staff.get("/console/conversations").text
    assert f"/console/conversations/{alice}" in listed
    assert f"/console/conversations/{bob}" in listed
    assert ">alice</a>" in listed
    assert ">bob</a>" in listed
    for other in _browser(platform):
        console_login(other, people.rita, clock)
        mine = other.get("/console/conversations").text
        assert f"/console/conversations/{alice}" in mine
        assert f"/console/conversations/{bob}" not in mine
        assert other.get(f"/console/conversations/{bob}").status_code == 403
        assert other.get(f"/console/conversations/{bob}/events").status_code == 403
        assert "hello, anyone there?" in _transcript(other, alice)
    denied = entries(platform, "access:denied")
    assert [(d["actor"], d["right"]) for d in denied][-2:] == [
        (f"user:{people.rita.id}", "conversation:read")
    ] * 2
    assert denied[-1]["operation"] == f"GET /console/conversations/{bob}/events"
    opened = entries(platform, "conversation:opened")
    assert [(o["actor"], o["subject"]) for o in opened] == [
        (f"user:{people.rita.id}", f"conversation:{alice}")
    ]
    assert opened[0]["allowed_by"] == "role rm: conversation:read where rm in ['self']"


def test_a_dealer_takes_over_answers_and_hands_back(
    platform: Platform, staff: TestClient, clock: Clock, people: DeskPeople, chats: dict[str, Chat]
) -> None:
    conversation = _conversation(platform, "conv-desk-alice")
    csrf = console_login(staff, people.dan, clock)
    form = {"csrf_token": csrf}
    taken = staff.post(f"/console/conversations/{conversation}/take-over", data=form)
    assert taken.status_code == 303
    alice = chats["alice"]
    assert alice.say("help") == []  # the person has it: the bot stays quiet
    assert "EUR" in alice.text("buy 1m eurusd")  # orders still go through the bot's flow
    reply = {**form, "text": "Good morning Alice, Dan here. How can I help?"}
    assert staff.post(f"/console/conversations/{conversation}/reply", data=reply).status_code == 303
    page = _transcript(staff, conversation)
    assert "You are now talking with Dan Lee of the FX-LDN desk." in page
    assert "Good morning Alice, Dan here. How can I help?" in page
    assert "Dan Lee</strong> has this conversation" in page
    back = staff.post(f"/console/conversations/{conversation}/hand-back", data=form)
    assert back.status_code == 303
    assert "I take FX and bond orders" in alice.text("help")  # the bot answers again
    sent = entries(platform, "message:sent")
    assert f"user:{people.dan.id}" in [s["actor"] for s in sent]
    events = [
        e["event"] for e in entries(platform, "conversation:taken_over", "conversation:handed_back")
    ]
    assert events == ["conversation:taken_over", "conversation:handed_back"]
    with unit_of_work(platform.sessions) as session:
        handled = session.scalars(select(Handling)).one()
        assert (handled.user_id, handled.ended_by) == (people.dan.id, f"user:{people.dan.id}")
        assert handled.ended_at is not None


def test_a_second_person_cannot_take_a_conversation_someone_has(
    platform: Platform, staff: TestClient, clock: Clock, people: DeskPeople, chats: dict[str, Chat]
) -> None:
    conversation = _conversation(platform, "conv-desk-alice")
    csrf = console_login(staff, people.dan, clock)
    staff.post(f"/console/conversations/{conversation}/take-over", data={"csrf_token": csrf})
    for other in _browser(platform):
        theirs = console_login(other, people.rita, clock)
        refused = other.post(
            f"/console/conversations/{conversation}/take-over", data={"csrf_token": theirs}
        )
        assert refused.status_code == 409
        assert "Dan Lee has this conversation" in refused.text
        no_csrf = other.post(f"/console/conversations/{conversation}/reply", data={"text": "x"})
        assert no_csrf.status_code == 403


def test_a_bank_user_s_words_are_checked_like_a_client_s(
    platform: Platform, staff: TestClient, clock: Clock, people: DeskPeople, chats: dict[str, Chat]
) -> None:
    conversation = _conversation(platform, "conv-desk-alice")
    csrf = console_login(staff, people.dan, clock)
    words = {"csrf_token": csrf, "text": "easier if you add me on whatsapp, let's chat there"}
    assert staff.post(f"/console/conversations/{conversation}/reply", data=words).status_code == 303
    with unit_of_work(platform.sessions) as session:
        alerts = session.scalars(select(Alert).where(Alert.conversation_id == conversation)).all()
        assert [(a.category, a.rule) for a in alerts] == [("off_channel", "other-app")]
    empty = staff.post(
        f"/console/conversations/{conversation}/reply", data={"csrf_token": csrf, "text": "  "}
    )
    assert empty.status_code == 400


def _unread(platform: Platform, people: DeskPeople, conversation: str) -> int:
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, people.dan.id)
        assert user is not None
        actor = access.actor_for(session, user)
        rows = {row.id: row for row in inbox.rows(session, platform.desk, actor)}
    return rows[conversation].unread


def _client_messages(platform: Platform, conversation: str) -> int:
    with unit_of_work(platform.sessions) as session:
        return len(
            session.scalars(
                select(Message.id).where(
                    Message.conversation_id == conversation, Message.direction == "in"
                )
            ).all()
        )


def test_unread_counts_the_client_s_messages_since_the_reader_last_read(
    platform: Platform, staff: TestClient, clock: Clock, people: DeskPeople, chats: dict[str, Chat]
) -> None:
    conversation = _conversation(platform, "conv-desk-alice")
    before = _client_messages(platform, conversation)
    assert before >= 1
    assert _unread(platform, people, conversation) == before  # the bot's replies are not news
    console_login(staff, people.dan, clock)
    _transcript(staff, conversation)  # read
    assert _unread(platform, people, conversation) == 0
    chats["alice"].say("help")  # her message and the bot's answer
    assert _unread(platform, people, conversation) == 1
    listed = staff.get("/console/conversations/list").text
    assert '<td class="unread-count">1</td>' in listed
