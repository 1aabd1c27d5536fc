"""The adapter contract, run against every adapter (the web chat, the test fake, each platform):
verify (a forged request raises Rejected -> 401 and nothing is recorded), parse to
InboundMessage, render and send OutboundMessage, and redelivery never makes a second order."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.interfaces import (
    ChannelAdapter,
    DeliveryFailed,
    OutboundMessage,
    Rejected,
)
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from tests.channels import cases
from tests.conftest import Clock
from tests.factories.identity import TestUser, make_user

ALL = sorted(cases.BUILDERS)
NAMES = [name for name in ALL if name not in cases.SYNC_ONLY]  # adapters with a webhook
_IDS = itertools.count(100)
LINK = re.compile(r"https?://\S+/link/\S+")


def _mid() -> str:
    return f"1700000000.{next(_IDS):06d}"


@pytest.fixture(params=NAMES)
def case(request: pytest.FixtureRequest) -> Iterator[cases.Case]:
    yield from cases.build(request.param)


@pytest.fixture(params=ALL)
def any_case(request: pytest.FixtureRequest) -> Iterator[cases.Case]:
    """Every adapter, Matrix included (its inbound half is the bot's sync, not a webhook)."""
    yield from cases.build(request.param)


def test_the_adapter_satisfies_the_protocol(any_case: cases.Case) -> None:
    case = any_case
    assert isinstance(case.adapter, ChannelAdapter)
    assert re.fullmatch(r"[a-z]{2,32}", case.adapter.name)


def test_a_genuine_request_verifies_and_parses_to_one_message(
    case: cases.Case, clock: Clock
) -> None:
    mid = _mid()
    request = case.message("mkt eurusd 1m", mid, clock.now.timestamp())
    case.adapter.verify(request, now=clock.now)
    [message] = case.adapter.parse(request).messages
    assert message.channel == case.adapter.name
    assert message.text == "mkt eurusd 1m"
    assert message.message_id == mid
    assert message.conversation_id == case.conversation
    assert message.sender_id


def test_parsing_the_same_request_twice_gives_the_same_message(
    case: cases.Case, clock: Clock
) -> None:
    request = case.message("status", _mid(), clock.now.timestamp())
    assert case.adapter.parse(request) == case.adapter.parse(request)


def test_a_forged_request_is_rejected(any_case: cases.Case, clock: Clock) -> None:
    case = any_case
    with pytest.raises(Rejected):
        case.adapter.verify(
            case.forged("buy 1m eurusd", _mid(), clock.now.timestamp()), now=clock.now
        )


def test_render_carries_the_text_and_the_link(any_case: cases.Case) -> None:
    case = any_case
    link = "http://127.0.0.1:8000/link/abc"
    rendered = case.adapter.render(case.conversation, OutboundMessage("Log in here:", link))
    flat = repr(rendered)
    assert "Log in here:" in flat
    assert link in flat


def test_send_delivers_the_text_and_the_link(any_case: cases.Case) -> None:
    case = any_case
    message = OutboundMessage("FILLED ORD-1", "http://127.0.0.1:8000/link/xyz")
    case.adapter.send(case.conversation, [message])
    if case.delivered is None:  # the web chat: replies went back in the HTTP answer already
        assert case.adapter.render(case.conversation, message)["text"] == "FILLED ORD-1"
        return
    [call] = case.delivered()
    assert case.text_of(call) == "FILLED ORD-1\nhttp://127.0.0.1:8000/link/xyz"


@pytest.fixture(params=[name for name in ALL if name != "webchat"])
def sending_case(request: pytest.FixtureRequest) -> Iterator[cases.Case]:
    """Adapters that send to a platform (the web chat's replies are its HTTP answer)."""
    yield from cases.build(request.param)


def test_a_rate_limited_send_is_retryable_after_the_platforms_delay(
    sending_case: cases.Case,
) -> None:
    case = sending_case
    assert case.fail_next is not None
    case.fail_next(429, {"Retry-After": "7"})
    with pytest.raises(DeliveryFailed) as failed:
        case.adapter.send(case.conversation, [OutboundMessage("hello")])
    assert not failed.value.permanent
    assert failed.value.retry_after == 7.0


class Client:
    """A client of one channel: posts genuine requests through the app and reads the bot's
    answers where the platform would show them (after the dispatcher delivered them)."""

    def __init__(self, case: cases.Case, http: TestClient, dispatcher: Dispatcher, clock: Clock):
        self.case, self.http, self.dispatcher, self.clock = case, http, dispatcher, clock
        self.seen = 0

    def post(self, text: str, mid: str | None = None) -> Any:
        request = self.case.message(text, mid or _mid(), self.clock.now.timestamp())
        return self.http.post(
            request.path,
            content=request.body,
            headers=dict(request.headers),
            params=dict(request.query),
        )

    def say(self, text: str, mid: str | None = None) -> str:
        response = self.post(text, mid)
        assert response.status_code == 200, response.text
        if self.case.delivered is None:
            replies = response.json()["replies"]
            return "\n".join(r["text"] + ("\n" + r["link"] if r["link"] else "") for r in replies)
        while self.dispatcher.run_once():
            pass
        calls = self.case.delivered()[self.seen :]
        self.seen += len(calls)
        return "\n".join(self.case.text_of(call) for call in calls)

    def log_in(self, answer: str, user: TestUser) -> None:
        found = LINK.search(answer)
        assert found, answer
        path = "/link/" + found.group(0).split("/link/", 1)[1]
        form = {"username": user.username, "password": user.password}
        form["otp"] = user.code(self.clock.now.timestamp())
        assert self.http.post(path, data=form).status_code == 200
        self.clock.advance(30)


@pytest.fixture
def chat(case: cases.Case, platform: Platform, clock: Clock) -> Iterator[Client]:
    adapters = {case.adapter.name: case.adapter}
    app = create_app(platform=platform, adapters=adapters)
    dispatcher = Dispatcher(platform.sessions, adapters, platform.desk, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as http:
        yield Client(case, http, dispatcher, clock)


def _count(platform: Platform, model: type[Any]) -> int:
    with unit_of_work(platform.sessions) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_forged_webhook_is_401_and_nothing_is_recorded(
    any_case: cases.Case, platform: Platform, clock: Clock
) -> None:
    case = any_case
    request = case.forged("buy 1m eurusd", _mid(), clock.now.timestamp())
    app = create_app(platform=platform, adapters={case.adapter.name: case.adapter})
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.post(
            request.path,
            content=request.body,
            headers=dict(request.headers),
            params=dict(request.query),
        )
    assert response.status_code == 401
    assert "stack" not in response.text.lower()
    assert _count(platform, Message) == 0
    with unit_of_work(platform.sessions) as session:
        actors = session.scalars(select(AuditEntry.actor)).all()
    assert not [actor for actor in actors if actor.startswith(f"{case.adapter.name}:")]


def test_redelivery_never_makes_a_second_order(
    chat: Client, case: cases.Case, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat.log_in(chat.say("login"), alice)
    ticket = chat.say("buy 1m eurusd 1W 360t")
    assert ticket.startswith("TO CONFIRM: YOU BUY 1,000,000 EUR vs USD 1W")
    chat.log_in(chat.say("c"), alice)
    confirm = _mid()
    filled = chat.say("c", confirm)
    assert filled.startswith("FILLED ORD-")
    clock.advance(5)  # the platform retries a little later (a fresh timestamp and signature)
    again = chat.say("c", confirm)  # with the same message id
    assert _count(platform, Order) == 1
    if case.delivered is None:
        assert again == filled  # the web chat answers a repeat with the stored replies
    else:
        assert again == ""  # nothing is sent twice
    with unit_of_work(platform.sessions) as session:
        inbound = session.scalars(
            select(Message).where(Message.channel_message_id == confirm)
        ).all()
    assert len(inbound) == 1


REPLAY_REFUSED = {"slack", "teams", "whatsapp", "wechat"}  # schemes with a per-request proof


def test_the_identical_request_twice_is_refused_or_answered_once(
    chat: Client, case: cases.Case, platform: Platform, clock: Clock
) -> None:
    request = case.message("mkt eurusd 1m", _mid(), clock.now.timestamp())
    first = chat.http.post(
        request.path,
        content=request.body,
        headers=dict(request.headers),
        params=dict(request.query),
    )
    again = chat.http.post(
        request.path,
        content=request.body,
        headers=dict(request.headers),
        params=dict(request.query),
    )
    assert first.status_code == 200
    assert again.status_code == (401 if case.adapter.name in REPLAY_REFUSED else 200)
    with unit_of_work(platform.sessions) as session:
        inbound = session.scalars(select(Message).where(Message.direction == "in")).all()
    assert len(inbound) == 1
