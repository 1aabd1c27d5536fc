"""The bot against a real Synapse: a client account talks to it in a room, as a person would."""

from __future__ import annotations

import re
import time
from urllib.parse import quote, urlparse

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import InboundMessage, OutboundMessage
from dealchat.channels.matrix.bot import MAX_FAILURES
from dealchat.channels.matrix.runner import MatrixRunner, state_dir
from dealchat.channels.matrix.state import StateStore
from dealchat.channels.outbox import OutboxItem
from dealchat.channels.sink import LocalSink
from dealchat.cli.channels_runtime import RunningChannels, running_channels
from dealchat.cli.demo import seed
from dealchat.conversations.desk import notify
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.settings import MatrixSettings
from tests.channels.matrix.client import Person, wait_for
from tests.channels.matrix.conftest import Cast
from tests.channels.matrix.synapse import Account, Synapse
from tests.conftest import Clock

LINK = re.compile(r"https?://\S+/link/\S+")


def link(cast: Cast, room: str, client: TestClient, platform: Platform, clock: Clock) -> str:
    """Ask for a price unlinked, log in as the demo client alice on the link page; the answer."""
    answer = cast.client.ask(room, "mkt eurusd 100k")
    found = LINK.search(answer)
    assert found, answer
    alice = next(user for user in seed(platform) if user["username"] == "alice")
    form = {
        "username": "alice",
        "password": alice["password"],
        "otp": pyotp.TOTP(alice["totp_secret"]).at(int(clock.now.timestamp())),
    }
    page = client.post(urlparse(found.group(0)).path, data=form)
    assert page.status_code == 200, page.text
    return answer


def test_client_asks_for_a_price_links_through_the_page_and_gets_it(
    cast: Cast, room: str, client: TestClient, platform: Platform, clock: Clock
) -> None:
    answer = link(cast, room, client, platform, clock)
    assert "log in" in answer.lower() or "link" in answer.lower()

    price = cast.client.ask(room, "mkt eurusd 100k")
    assert price.startswith("EUR/USD 100,000 EUR SPOT: 1.08"), price
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        assert (conversation.channel, conversation.external_id) == ("matrix", room)
        senders = set(session.scalars(select(Message.sender_id).where(Message.direction == "in")))
    assert senders == {cast.client.user_id}


def _inbound_ids(platform: Platform) -> list[str | None]:
    with unit_of_work(platform.sessions) as session:
        query = select(Message.channel_message_id).where(Message.direction == "in")
        return list(session.scalars(query.order_by(Message.created_at)))


def test_the_bot_ignores_its_own_messages(
    cast: Cast, room: str, synapse: Synapse, platform: Platform
) -> None:
    as_bot = Person(synapse.url, cast.bot)  # the bot's account on another device
    try:
        own = as_bot.say(room, "mkt eurusd 100k")
    finally:
        as_bot.http.close()
    later = cast.client.say(room, "hello")
    cast.client.wait_replies(room, later)  # answered in timeline order, after its own message
    assert cast.client.replies_to(room, own) == []
    assert _inbound_ids(platform) == [later]


def test_history_from_before_the_bot_joined_is_not_answered(
    cast: Cast, bot: MatrixRunner, platform: Platform
) -> None:
    room_id = cast.client.create_room(invite=[])
    before = cast.client.say(room_id, "mkt eurusd 100k")
    cast.client.invite(room_id, cast.bot.user_id)
    assert cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite") == "join"
    after = cast.client.say(room_id, "hello")
    cast.client.wait_replies(room_id, after)
    assert cast.client.replies_to(room_id, before) == []
    assert _inbound_ids(platform) == [after]


def test_an_invite_from_a_user_not_allowed_is_refused(
    cast: Cast, bot: MatrixRunner, platform: Platform
) -> None:
    room_id = cast.stranger.create_room(invite=[cast.bot.user_id])
    assert cast.stranger.wait_membership(room_id, cast.bot.user_id, until_not="invite") == "leave"
    assert bot.bot is not None
    assert room_id in bot.bot.refused_invites
    with unit_of_work(platform.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_a_user_not_allowed_is_not_answered_in_a_room_with_the_bot(
    cast: Cast, room: str, platform: Platform
) -> None:
    cast.client.invite(room, cast.stranger.user_id)
    cast.stranger.http.post(f"/join/{quote(room)}").raise_for_status()
    ignored = cast.stranger.say(room, "mkt eurusd 100k")
    answered = cast.client.say(room, "hello")
    cast.client.wait_replies(room, answered)
    assert cast.client.replies_to(room, ignored) == []
    assert _inbound_ids(platform) == [answered]


def _orders(platform: Platform) -> int:
    with unit_of_work(platform.sessions) as session:
        return session.scalar(select(func.count()).select_from(Order)) or 0


def _outbox(platform: Platform) -> list[tuple[str, str]]:
    with unit_of_work(platform.sessions) as session:
        rows = session.execute(select(OutboxItem.message_id, OutboxItem.state)).all()
        return sorted((message_id, state) for message_id, state in rows)


def test_a_redelivered_event_is_answered_once_and_never_makes_a_second_order(
    cast: Cast, matrix_platform: Platform, client: TestClient, clock: Clock
) -> None:
    state = StateStore(state_dir(matrix_platform))
    with running_channels(matrix_platform):
        room_id = cast.client.create_room(invite=[cast.bot.user_id])
        cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite")
        link(cast, room_id, client, matrix_platform, clock)
        before = state.sync_token()
        ask = cast.client.say(room_id, "buy 1m eurusd 1W 360t")
        [reply] = cast.client.wait_replies(room_id, ask)
        queued = wait_for(lambda: _delivered(matrix_platform))
    assert reply["content"]["body"].startswith("TO CONFIRM: YOU BUY 1,000,000 EUR vs USD 1W")
    assert _orders(matrix_platform) == 1
    assert before is not None
    state.save_sync_token(before)  # as if the bot had stopped before saving its place

    with running_channels(matrix_platform) as again:
        assert again.matrix is not None
        assert again.matrix.bot is not None
        bot = again.matrix.bot
        wait_for(lambda: ask in bot.handled)
        after = cast.client.say(room_id, "status")
        cast.client.wait_replies(room_id, after)

    assert [e["event_id"] for e in cast.client.replies_to(room_id, ask)] == [reply["event_id"]]
    assert _orders(matrix_platform) == 1
    assert _inbound_ids(matrix_platform).count(ask) == 1
    assert set(queued) <= set(_outbox(matrix_platform))  # nothing queued again for `ask`
    assert len(_outbox(matrix_platform)) == len(queued) + 1  # only the answer to "status"


def _delivered(platform: Platform) -> list[tuple[str, str]]:
    rows = _outbox(platform)
    return rows if rows and all(state == "delivered" for _, state in rows) else []


def test_a_restarted_bot_answers_only_what_is_new(cast: Cast, matrix_platform: Platform) -> None:
    with running_channels(matrix_platform):
        room_id = cast.client.create_room(invite=[cast.bot.user_id])
        cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite")
        first = cast.client.say(room_id, "hello")
        cast.client.wait_replies(room_id, first)
    while_down = cast.client.say(room_id, "help")
    with running_channels(matrix_platform) as restarted:
        cast.client.wait_replies(room_id, while_down)
        latest = cast.client.say(room_id, "hello")
        cast.client.wait_replies(room_id, latest)
        assert restarted.matrix is not None
        assert restarted.matrix.bot is not None
        assert list(restarted.matrix.bot.handled) == [while_down, latest]
    assert len(cast.client.replies_to(room_id, first)) == 1


class FailingSink:
    """The core, failing on messages whose text is in `fail` (`times` each; -1 for always)."""

    def __init__(self, platform: Platform, runtime: RunningChannels, **fail: int) -> None:
        self.inner = LocalSink(
            platform.sessions, platform.desk, on_committed=runtime.dispatcher.wake
        )
        self.fail = {text.replace("_", " "): times for text, times in fail.items()}
        self.calls: list[str] = []

    def accept(self, messages: list[InboundMessage]) -> None:
        for message in messages:
            self.calls.append(message.text)
            left = self.fail.get(message.text, 0)
            if left:
                self.fail[message.text] = left - 1
                raise RuntimeError("the database went away")
        self.inner.accept(messages)


def test_a_failure_in_the_core_replays_the_batch_and_a_poison_message_is_given_up(
    cast: Cast, platform: Platform, matrix_platform: Platform, matrix_settings: MatrixSettings
) -> None:
    with running_channels(platform) as channels:  # the dispatcher; the bot is started below
        sink = FailingSink(matrix_platform, channels, hello=1, help=-1)
        runner = MatrixRunner(matrix_platform, sink, matrix_settings).start()
        channels.adapters["matrix"] = runner.adapter()
        try:
            room_id = cast.client.create_room(invite=[cast.bot.user_id])
            cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite")
            flaky = cast.client.say(room_id, "hello")
            cast.client.wait_replies(room_id, flaky)
            poison = cast.client.say(room_id, "help")
            after = cast.client.say(room_id, "status")
            cast.client.wait_replies(room_id, after)
            assert runner.bot is not None
            assert list(runner.bot.given_up) == [poison]
            assert list(runner.bot.handled) == [flaky, after]
        finally:
            runner.stop()
    assert sink.calls.count("hello") == 2  # failed once, replayed, answered
    assert sink.calls.count("help") == MAX_FAILURES
    assert cast.client.replies_to(room_id, poison) == []
    assert len(cast.client.replies_to(room_id, flaky)) == 1
    assert _inbound_ids(matrix_platform) == [flaky, after]


def _encrypted(person: Person, room_id: str) -> str:
    """What an encrypting client (Element) puts in the room: ciphertext the bot cannot open."""
    content = {
        "algorithm": "m.megolm.v1.aes-sha2",
        "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg2yyOwAtHaZTwyNg37afzg",
        "device_id": "CLIENTDEVICE",
        "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
        "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
    }
    path = f"/rooms/{quote(room_id)}/send/m.room.encrypted/e{time.time_ns()}"
    response = person.http.put(path, json=content)
    response.raise_for_status()
    event_id: str = response.json()["event_id"]
    return event_id


def test_an_encrypted_room_gets_one_plain_notice_and_nothing_is_recorded(
    cast: Cast, bot: MatrixRunner, platform: Platform
) -> None:
    body = {
        "preset": "private_chat",
        "invite": [cast.bot.user_id],
        "initial_state": [
            {
                "type": "m.room.encryption",
                "state_key": "",
                "content": {"algorithm": "m.megolm.v1.aes-sha2"},
            }
        ],
    }
    room_id = cast.client.http.post("/createRoom", json=body).json()["room_id"]
    assert cast.client.wait_membership(room_id, cast.bot.user_id, until_not="invite") == "join"
    first = _encrypted(cast.client, room_id)
    [notice] = cast.client.wait_replies(room_id, first)
    assert notice["content"]["msgtype"] == "m.notice"
    assert "cannot read end-to-end encrypted rooms" in notice["content"]["body"]
    second = _encrypted(cast.client, room_id)
    plain = cast.client.say(room_id, "hello")  # a client without encryption still gets answers
    cast.client.wait_replies(room_id, plain)
    assert cast.client.replies_to(room_id, second) == []
    assert _inbound_ids(platform) == [plain]


def test_a_client_orders_confirms_with_step_up_and_is_filled_in_the_room(
    cast: Cast, room: str, client: TestClient, platform: Platform, clock: Clock
) -> None:
    link(cast, room, client, platform, clock)
    clock.advance(30)  # the step-up needs the next TOTP step
    ticket = cast.client.ask(room, "buy 1m eurusd 1W 360t")
    assert ticket.startswith("TO CONFIRM: YOU BUY 1,000,000 EUR vs USD 1W at market with 360T")
    approve = LINK.search(cast.client.ask(room, "c"))
    assert approve, "no step-up link"
    alice = next(user for user in seed(platform) if user["username"] == "alice")
    form = {
        "username": "alice",
        "password": alice["password"],
        "otp": pyotp.TOTP(alice["totp_secret"]).at(int(clock.now.timestamp())),
    }
    assert client.post(urlparse(approve.group(0)).path, data=form).status_code == 200

    fill = cast.client.ask(room, "c")
    with unit_of_work(platform.sessions) as session:
        order = session.scalars(select(Order)).one()
        assert order.state == "filled"
        ref = order.ref
    assert fill.startswith(f"FILLED {ref}: YOU BOUGHT 1,000,000 EUR vs USD 1W at 1.08"), fill
    assert ref in cast.client.ask(room, "status")


def test_a_later_bot_message_reaches_the_room_through_the_outbox(
    cast: Cast, room: str, platform: Platform
) -> None:
    hello = cast.client.say(room, "hello")
    cast.client.wait_replies(room, hello)
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        notify(
            session,
            desk=platform.desk,
            conversation_id=conversation.id,
            answer=OutboundMessage("Your held order was released.", link=None),
        )
    bot_id = cast.bot.user_id
    later = wait_for(
        lambda: [
            e
            for e in cast.client.events(room)
            if e["sender"] == bot_id and e["content"]["body"] == "Your held order was released."
        ]
    )
    assert len(later) == 1
    assert wait_for(lambda: _delivered(platform))


def test_a_revoked_device_logs_in_again_and_goes_on_answering(
    cast: Cast, room: str, synapse: Synapse, matrix_platform: Platform
) -> None:
    state = StateStore(state_dir(matrix_platform))
    revoked = state.session(cast.bot.user_id)
    assert revoked is not None
    as_device = Person(synapse.url, Account(cast.bot.user_id, "", revoked.access_token))
    try:
        as_device.http.post("/logout").raise_for_status()  # e.g. an admin removed the device
    finally:
        as_device.http.close()
    assert cast.client.ask(room, "hello").startswith("I take FX and bond orders")
    renewed = state.session(cast.bot.user_id)
    assert renewed is not None
    assert renewed.access_token != revoked.access_token  # a new login (nio keeps the device id)
