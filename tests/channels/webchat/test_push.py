"""Live delivery to the web chat: what the bank sends later reaches the open page by itself
(Server-Sent Events), resumes after a dropped connection, and is delivered only once shown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import build_platform
from dealchat.channels.interfaces import OutboundMessage
from dealchat.channels.outbox import DELIVERED, PENDING, OutboxItem
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.channels.registry import build_adapters
from dealchat.conversations.desk import notify
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.live.watcher import Watcher
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import make_user
from tests.factories.live import EventReader, served

CONVERSATION, SENDER = "conv-push-0001", "sender-push-01"
PAGE = f"conversation_id={CONVERSATION}&sender_id={SENDER}"
SLOW = 30.0  # s: a request's bound on a loaded machine (a full run timed out once at httpx's 5 s)


@pytest.fixture
def live(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[tuple[str, Platform]]:
    with served(database_url, tmp_path / "var", clock) as found:
        yield found


def _later(platform: Platform, text: str, link: str | None = None) -> None:
    """A message the bank sends later (a hold released, a fill), from another transaction."""
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.external_id == CONVERSATION)
        ).one()
        notify(
            session,
            desk=platform.desk,
            conversation_id=conversation.id,
            answer=OutboundMessage(text=text, link=link),
        )


def _states(platform: Platform) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        items = session.scalars(select(OutboxItem).order_by(OutboxItem.created_at)).all()
        return [item.state for item in items]


def test_a_later_message_reaches_the_open_page_by_itself(
    live: tuple[str, Platform], clock: Clock
) -> None:
    url, platform = live
    with httpx.Client(base_url=url, timeout=SLOW) as http:
        replies = Chat(http, clock, conversation=CONVERSATION, sender=SENDER).say("help")
        assert [reply["seq"] for reply in replies] == [2]  # her message is 1, the answer 2
        reader = EventReader(f"{url}/api/v1/webchat/stream?{PAGE}&after=2")
        try:
            assert reader.status == 200
            _later(platform, "Your order ORD-1 was released.")
            event = reader.next()  # pushed: nobody asked (bench/desk.py measures how fast)
            assert (event.id, event.kind) == ("3", "message")
            assert event.data["text"] == "Your order ORD-1 was released."
            assert event.data["author"] is None
        finally:
            reader.close()
        # the reply came back in the answer to her POST: delivered there; the later one waits
        assert _states(platform) == [DELIVERED, PENDING]
        # the dispatcher leaves web chat messages to the page: nothing is 'delivered' unseen
        Dispatcher(
            platform.sessions,
            build_adapters(platform.settings.channels, public_url=url),
            platform.desk,
        ).run_once()
        assert _states(platform) == [DELIVERED, PENDING]
        page = {"conversation_id": CONVERSATION, "sender_id": SENDER}
        assert http.post("/api/v1/webchat/seen", json={**page, "seq": 2}).json() == {"delivered": 0}
        seen = http.post("/api/v1/webchat/seen", json={**page, "seq": 3})
        assert seen.json() == {"delivered": 1}
    assert _states(platform) == [DELIVERED, DELIVERED]
    delivered = entries(platform, "delivery:succeeded")
    assert [(e["actor"], e["channel"]) for e in delivered] == [
        ("webchat-response", "webchat"),
        ("webchat-page", "webchat"),
    ]


def test_a_message_another_process_sends_reaches_the_open_page(
    live: tuple[str, Platform], database_url: str, tmp_path: Path, clock: Clock
) -> None:
    """A second `dealchat serve` or a command (a hold released from the host) writes through its
    own platform, whose hub this server never hears: the watcher reads the change and wakes the
    page. Polled by hand first (what it publishes, and not twice), then on its own thread."""
    url, platform = live
    with httpx.Client(base_url=url, timeout=SLOW) as http:
        Chat(http, clock, conversation=CONVERSATION, sender=SENDER).say("help")
    other = build_platform(
        Settings(data_dir=tmp_path / "var", database_url=database_url, public_url=url)
    )
    watcher = Watcher(platform.sessions, platform.hub.publish, interval=0.1)
    reader = EventReader(f"{url}/api/v1/webchat/stream?{PAGE}&after=2")
    try:
        watcher.poll(publish=False)
        _later(other, "Released from the host.")
        assert len(watcher.poll(publish=False)) == 1
        assert watcher.poll(publish=False) == []
        assert reader.none_within(1.5)  # nothing told this server's hub
        watcher.start()
        _later(other, "Filled, told by another node.")
        texts = {reader.next().data["text"], reader.next().data["text"]}
        assert texts == {"Released from the host.", "Filled, told by another node."}
    finally:
        watcher.stop()
        reader.close()
        other.engine.dispose()


def test_a_dropped_stream_resumes_from_the_last_event_id(
    live: tuple[str, Platform], clock: Clock
) -> None:
    url, platform = live
    with httpx.Client(base_url=url, timeout=SLOW) as http:
        Chat(http, clock, conversation=CONVERSATION, sender=SENDER).say("help")
    _later(platform, "first")
    _later(platform, "second")
    reader = EventReader(f"{url}/api/v1/webchat/stream?{PAGE}", headers={"Last-Event-ID": "3"})
    try:
        event = reader.next()
        assert (event.id, event.data["text"]) == ("4", "second")
        assert reader.none_within(0.3)
    finally:
        reader.close()


def test_only_the_chat_s_own_browser_follows_it(live: tuple[str, Platform], clock: Clock) -> None:
    url, _platform = live
    with httpx.Client(base_url=url, timeout=SLOW) as http:
        Chat(http, clock, conversation=CONVERSATION, sender=SENDER).say("help")
        stranger = f"conversation_id={CONVERSATION}&sender_id=sender-stranger"
        assert http.get(f"/api/v1/webchat/stream?{stranger}").status_code == 404
        assert http.get(f"/api/v1/webchat/history?{stranger}").status_code == 404
        bad = http.post(
            "/api/v1/webchat/seen",
            json={"conversation_id": CONVERSATION, "sender_id": "sender-stranger", "seq": 9},
        )
        assert bad.status_code == 404


def test_the_history_comes_back_after_a_reload_once_linked(
    live: tuple[str, Platform], clock: Clock
) -> None:
    url, platform = live
    with httpx.Client(base_url=url, timeout=SLOW) as http:
        chat = Chat(http, clock, conversation=CONVERSATION, sender=SENDER)
        chat.say("help")
        assert http.get(f"/api/v1/webchat/history?{PAGE}").json() == {"messages": []}
        chat.link_and_log_in(make_user(platform, "alice"))
        chat.say("status")
        before = http.get(f"/api/v1/webchat/history?{PAGE}").json()["messages"]
        assert all(line["link"] is None for line in before)  # the login link: in its answer
        _later(platform, "Please log in again.", link=f"{url}/link/later-token")
        before = http.get(f"/api/v1/webchat/history?{PAGE}").json()["messages"]
        assert before[-1]["link"] == f"{url}/link/later-token"  # her page has not shown it
        seen = {"conversation_id": CONVERSATION, "sender_id": SENDER, "seq": before[-1]["seq"]}
        assert http.post("/api/v1/webchat/seen", json=seen).status_code == 200
        lines = http.get(f"/api/v1/webchat/history?{PAGE}").json()["messages"]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    assert [line["direction"] for line in lines[:2]] == ["in", "out"]
    assert lines[0]["text"] == "help"
    assert lines[-3]["text"] == "status"
    assert all(line["link"] is None for line in lines)  # a link shown is never replayed
