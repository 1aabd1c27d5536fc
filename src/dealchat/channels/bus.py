"""NATS JetStream as the way in at scale (`DEALCHAT_BUS__URL`): webhooks store, core workers take.

With a bus, a webhook endpoint (on an edge, or on a node serving everything) answers the platform
only once each verified message is stored in the JetStream stream (`BusSink.accept` waits for
JetStream's acknowledgement; on any doubt it raises, the platform gets a 5xx and sends again).
Every core node runs a `BusWorker`: a pull consumer on one durable consumer shared by all nodes
(a work queue: each message goes to one of them), which hands each message to the local sink (the
one way in, `handle_inbound`, in its own transaction) and acknowledges it only after that commit.
A worker that dies before acknowledging leaves the message to be delivered again after
`ack_wait_seconds`, to any node; the message id makes the second delivery a no-op that records
nothing and answers nothing new (`desk.handle_inbound` finds the stored message). JetStream's own
duplicate window drops a platform's resend of a message already stored (`Nats-Msg-Id`).

Messages go through the stream as JSON of `InboundMessage`, checked again by the core
(`inbound_problem`) since the bus is a boundary too. nats-py is asyncio: each sink and worker runs
its own event loop on a thread of its own, so the web server's loop and the database's threads
never wait on each other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from dealchat.channels.interfaces import InboundMessage, InboundSink
from dealchat.settings import BusSettings

log = logging.getLogger("dealchat.channels.bus")
T = TypeVar("T")
Publication = tuple[str, bytes, str | None]  # subject, data, de-duplication id
_FIELDS = ("channel", "conversation_id", "sender_id", "message_id", "text")


class BusUnavailableError(RuntimeError):
    """The stream did not acknowledge: nothing may be acknowledged to the platform."""


def encode(message: InboundMessage) -> bytes:
    return json.dumps({"kind": "message", **{name: getattr(message, name) for name in _FIELDS}},
                      ensure_ascii=False, separators=(",", ":")).encode()  # fmt: skip


def decode(data: bytes) -> InboundMessage | str:
    """The message, or why it cannot be one (a drop note: `kind: drop` carries its reason)."""
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return "unreadable bus message"
    if not isinstance(body, dict):
        return "unreadable bus message"
    if body.get("kind") == "drop":
        return str(body.get("reason", "dropped"))[:300]
    values = [body.get(name) for name in _FIELDS]
    texts = [value for value in values if isinstance(value, str)]
    if len(texts) != len(_FIELDS):
        return "bus message without its fields"
    return InboundMessage(*texts)


def message_id(message: InboundMessage) -> str:
    """JetStream's de-duplication key: the platform's own ids, so its resend is dropped."""
    return f"{message.channel}:{message.conversation_id}:{message.message_id}"[:500]


def subject_of(settings: BusSettings, channel: str) -> str:
    return f"{settings.subject}.{channel}"


class _Loop:
    """An asyncio loop on a daemon thread of its own; `call` runs a coroutine there and waits."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        return self.submit(coroutine).result(timeout)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run `coroutine` there without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


async def _connect(settings: BusSettings, name: str) -> Client:
    return await nats.connect(
        settings.url,
        name=name,
        max_reconnect_attempts=-1,  # a restarted server is found again
        reconnect_time_wait=0.5,
        connect_timeout=settings.publish_timeout_seconds,
    )


async def ensure_stream(
    js: JetStreamContext, name: str, subject: str, settings: BusSettings, *, max_age: float = 0
) -> None:
    """A stream for `<subject>.>` (file storage, work-queue retention: a message leaves once
    acknowledged; `max_age` seconds, when set, drops what nobody took by then)."""
    try:
        await js.stream_info(name)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=name,
                subjects=[f"{subject}.>"],
                storage=StorageType.FILE,
                retention=RetentionPolicy.WORK_QUEUE,
                duplicate_window=settings.duplicate_window_seconds,
                max_age=max_age or None,
            )
        )


@dataclass(frozen=True)
class Queue:
    """One stream and the durable consumer every node shares on it (a work queue)."""

    stream: str
    subject: str
    durable: str
    max_age: float = 0


def inbound(settings: BusSettings) -> Queue:
    return Queue(settings.stream, settings.subject, settings.durable)


class Publisher:
    """One connection to NATS on a loop of its own; the queue's stream made on first use."""

    def __init__(self, settings: BusSettings, queue: Queue, *, name: str) -> None:
        self.settings = settings
        self.loop = _Loop("bus-publisher")
        self._queue = queue
        self._name = name
        self._js: JetStreamContext | None = None
        self._client: Client | None = None
        self._connecting: asyncio.Lock | None = None

    async def publish(self, items: list[Publication], timeout: float) -> None:
        js = await self._jetstream()
        for subject, data, dedupe in items:
            headers = {"Nats-Msg-Id": dedupe} if dedupe else None
            await js.publish(subject, data, timeout=timeout, headers=headers)

    def close(self) -> None:
        if self._client is not None:
            try:
                self.loop.call(self._client.close(), self.settings.publish_timeout_seconds)
            except Exception:  # ending anyway: every publish was already acknowledged or failed
                log.warning("bus connection did not close cleanly", exc_info=True)
        self.loop.close()

    async def _jetstream(self) -> JetStreamContext:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection, however many publish at once
            if self._js is None:
                client = await _connect(self.settings, self._name)
                js = client.jetstream()
                queue = self._queue
                await ensure_stream(js, queue.stream, queue.subject, self.settings,
                                    max_age=queue.max_age)  # fmt: skip
                self._client, self._js = client, js
            return self._js


class BusSink:
    """The webhooks' sink with a bus: each message stored in the stream before the answer."""

    def __init__(self, settings: BusSettings, *, name: str = "dealchat-edge") -> None:
        self._settings = settings
        self._publisher = Publisher(settings, inbound(settings), name=name)

    def accept(self, messages: list[InboundMessage]) -> None:
        self._publish([(subject_of(self._settings, m.channel), encode(m), message_id(m))
                       for m in messages])  # fmt: skip

    def drop(self, channel: str, reason: str) -> None:
        note = json.dumps({"kind": "drop", "channel": channel, "reason": reason[:300]}).encode()
        self._publish([(subject_of(self._settings, channel), note, None)])

    def close(self) -> None:
        self._publisher.close()

    def _publish(self, items: list[Publication]) -> None:
        timeout = self._settings.publish_timeout_seconds
        try:
            self._publisher.loop.call(self._publisher.publish(items, timeout), timeout * 2)
        except Exception as error:
            log.warning("bus publish failed", extra={"error": type(error).__name__})
            raise BusUnavailableError("the stream did not acknowledge the message") from error


class PullWorker:
    """A node's share of a queue: takes messages from the shared durable consumer, hands each
    to `handle(data, subject)` on a thread, acknowledges it after that returned and `nak`s it
    when it raised (delivered again, to any node)."""

    def __init__(
        self,
        settings: BusSettings,
        queue: Queue,
        handle: Callable[[bytes, str], None],
        *,
        name: str,
    ) -> None:
        self._settings = settings
        self._queue = queue
        self._handle_one = handle
        self._name = name
        self._stop = threading.Event()
        self._loop: _Loop | None = None
        self._task: concurrent.futures.Future[None] | None = None
        self.handled = 0  # messages processed and acknowledged by this worker

    def start(self) -> Self:
        self._loop = _Loop(f"bus-worker-{self._queue.durable}")
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop.loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            try:
                self._task.result(timeout=self._settings.publish_timeout_seconds + 5)
            except Exception:  # ending anyway; unacknowledged messages are delivered again
                log.exception("bus worker ended with an error")
        if self._loop is not None:
            self._loop.close()

    async def _run(self) -> None:
        client = await _connect(self._settings, self._name)
        try:
            js = client.jetstream()
            queue = self._queue
            await ensure_stream(js, queue.stream, queue.subject, self._settings,
                                max_age=queue.max_age)  # fmt: skip
            subscription = await js.pull_subscribe(
                f"{queue.subject}.>",
                durable=queue.durable,
                stream=queue.stream,
                config=ConsumerConfig(
                    ack_wait=self._settings.ack_wait_seconds,
                    max_ack_pending=self._settings.batch * 64,
                ),
            )
            while not self._stop.is_set():
                await self._take(subscription)
        finally:
            await client.close()  # unacknowledged messages are delivered again

    async def _take(self, subscription: Any) -> None:
        try:
            batch = await subscription.fetch(self._settings.batch, timeout=1)
        except TimeoutError:  # nothing to take (nats-py's own and asyncio's both are TimeoutError)
            return
        except Exception:  # a server away: nats-py reconnects; try again shortly
            log.warning("bus fetch failed; retrying", exc_info=True)
            await asyncio.sleep(0.5)
            return
        loop = asyncio.get_running_loop()
        for message in batch:
            await self._handle(loop, message)

    async def _handle(self, loop: asyncio.AbstractEventLoop, message: Any) -> None:
        try:
            await loop.run_in_executor(None, self._handle_one, message.data, message.subject)
        except Exception:
            log.exception("bus message not processed; it will be delivered again")
            await _quietly(message.nak(delay=1))
            return
        await _quietly(message.ack())
        self.handled += 1


class BusWorker(PullWorker):
    """A core node's consumer of inbound messages: each handed to `sink` (committed there)."""

    def __init__(self, settings: BusSettings, sink: InboundSink, *, name: str = "dealchat-core"):
        super().__init__(settings, inbound(settings), self._deliver, name=name)
        self._sink = sink

    def _deliver(self, data: bytes, subject: str) -> None:
        decoded = decode(data)
        if isinstance(decoded, str):
            self._sink.drop(subject.rpartition(".")[2], decoded)
            return
        self._sink.accept([decoded])  # the core sink checks it again (`inbound_problem`)


async def _quietly(step: Awaitable[None]) -> None:
    """An ack or nak that fails (the server away) leaves the message to be delivered again."""
    try:
        await step
    except Exception:
        log.warning("bus ack failed; the message will be delivered again", exc_info=True)
