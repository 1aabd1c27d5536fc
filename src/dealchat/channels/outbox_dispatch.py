"""The dispatcher: delivers queued bot messages through their channel's adapter.

Each round claims due items (one per conversation, oldest first, so replies arrive in order),
leases them, commits, sends outside any transaction, then records the outcome with its audit
entry: `delivery:succeeded`, `delivery:failed` (retry after exponential backoff with jitter, or
the platform's Retry-After), or `delivery:dead_lettered` (permanent error or out of tries).
Per-platform token buckets keep us under each platform's rate limit; a 429 pauses the platform.
Runs as a thread in `dealchat serve` (core/all); tests call `run_once()`. With a bus, every
node's delivery worker also sends the rows it is told of (`deliver_noticed`), through the same
claim, so a row goes to one sender at a time whoever sees it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from dealchat.channels.interfaces import ChannelAdapter, DeliveryFailed, OutboundMessage
from dealchat.channels.outbox import DEAD, DELIVERED, PENDING, PULLED, OutboxItem
from dealchat.channels.ratelimit import RateLimiter
from dealchat.conversations import bodies
from dealchat.conversations.context import Desk
from dealchat.conversations.models import Conversation, Message
from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.live.signals import conversation_topic, touched
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

log = logging.getLogger("dealchat.channels.outbox")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    lease_seconds: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with 'equal jitter': between half and all of base * 2^(n-1)."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return rng.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Claimed:
    item_id: str
    conversation_id: str
    channel: str
    external_id: str
    attempt: int
    message: OutboundMessage


class Dispatcher:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        adapters: dict[str, ChannelAdapter],
        desk: Desk,
        *,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
        batch: int = 50,
    ) -> None:
        self._sessions = sessions
        self._adapters = adapters
        self._desk = desk
        self.policy = policy or RetryPolicy()
        self.limiter = limiter or RateLimiter({})
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._batch = batch
        self._wake = threading.Event()

    def run_once(self) -> int:
        """One round: claim what is due, send it, record each outcome. Returns attempts made."""
        claimed = self._claim()
        for item in claimed:
            self._deliver(item)
        return len(claimed)

    def deliver_noticed(self, item_id: str) -> int:
        """A bus notice's delivery (channels/bus_deliveries.py): the item claimed as a round
        claims (nothing if it is not due, has an older pending one, was claimed by another or
        has no adapter here), sent, its outcome recorded; then the items of its conversation
        that it held back, in order. Returns attempts made; the sweep finds whatever is left."""
        claimed = self._claim(OutboxItem.id == item_id, limit=1)
        attempts = 0
        while claimed:
            attempts += 1
            if not self._deliver(claimed[0]):
                break  # failed: its retry holds the conversation back
            claimed = self._claim(OutboxItem.conversation_id == claimed[0].conversation_id, limit=1)
        return attempts

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self, stop: threading.Event, *, idle_seconds: float = 1.0) -> None:
        while not stop.is_set():
            try:
                attempts = self.run_once()
            except Exception:
                log.exception("dispatcher round failed")
                attempts = 0
            if not attempts:
                self._wake.wait(idle_seconds)
                self._wake.clear()

    def _claim(self, *only: ColumnElement[bool], limit: int | None = None) -> list[Claimed]:
        now = self._clock()
        claimed: list[Claimed] = []
        if only:  # a notice's: only what this process has an adapter for
            only = (*only, OutboxItem.channel.in_(list(self._adapters)))
        due = _due(now, limit or self._batch, *only)
        with unit_of_work(self._sessions) as session:
            for item, message, conversation in session.execute(due).all():
                wait = self.limiter.wait(item.channel, now)
                if wait > 0:  # over the platform's rate: try later, no attempt spent
                    item.next_attempt_at = now + dt.timedelta(seconds=wait)
                    continue
                item.attempts += 1
                item.next_attempt_at = now + dt.timedelta(seconds=self.policy.lease_seconds)
                claimed.append(self._claimed(session, item, message, conversation))
        return claimed

    def _claimed(
        self, session: Session, item: OutboxItem, message: Message, conversation: Conversation
    ) -> Claimed:
        """What to send: the words opened from their envelope, the secure link from its seal."""
        link = None
        if message.link is not None:
            link = self._desk.sealer.open(message.link, context=f"message:{message.id}")
        return Claimed(
            item_id=item.id,
            conversation_id=conversation.id,
            channel=item.channel,
            external_id=conversation.external_id,
            attempt=item.attempts,
            message=OutboundMessage(
                text=_signed(session, message, bodies.text_of(session, self._desk, message)),
                link=link,
                key=item.id,
            ),
        )

    def _deliver(self, claimed: Claimed) -> bool:
        """Send one claimed item and record the outcome; True when it was delivered."""
        adapter = self._adapters.get(claimed.channel)
        try:
            if adapter is None:
                raise DeliveryFailed(f"no adapter for channel {claimed.channel}")
            adapter.send(claimed.external_id, [claimed.message])
        except DeliveryFailed as failure:
            self._failed(claimed, failure)
        except Exception as error:  # an adapter bug must not stop the dispatcher
            log.exception("adapter raised", extra={"channel": claimed.channel})
            self._failed(claimed, DeliveryFailed(f"adapter error: {type(error).__name__}"))
        else:
            self._succeeded(claimed)
            return True
        return False

    def _succeeded(self, claimed: Claimed) -> None:
        now = self._clock()
        with unit_of_work(self._sessions) as session:
            item = session.get_one(OutboxItem, claimed.item_id)
            item.state, item.finished_at, item.last_error = DELIVERED, now, None
            _audit(session, AuditEvent.DELIVERY_SUCCEEDED, claimed, {})
            touched(session, conversation_topic(claimed.conversation_id))

    def _failed(self, claimed: Claimed, failure: DeliveryFailed) -> None:
        now = self._clock()
        if failure.retry_after is not None:
            self.limiter.pause(claimed.channel, now + dt.timedelta(seconds=failure.retry_after))
        dead = failure.permanent or claimed.attempt >= self.policy.max_attempts
        backoff = self.policy.delay(claimed.attempt, self._rng)
        retry_in = max(backoff, failure.retry_after or 0.0)
        with unit_of_work(self._sessions) as session:
            item = session.get_one(OutboxItem, claimed.item_id)
            item.last_error = failure.reason[:500]
            details: dict[str, object] = {"reason": failure.reason, "status": failure.status}
            if dead:
                item.state, item.finished_at = DEAD, now
                _audit(session, AuditEvent.DELIVERY_DEAD_LETTERED, claimed, details)
                touched(session, conversation_topic(claimed.conversation_id))
                log.warning("delivery dead-lettered", extra={"channel": claimed.channel})
            else:
                item.next_attempt_at = now + dt.timedelta(seconds=retry_in)
                details["retry_in_ms"] = round(retry_in * 1000)
                _audit(session, AuditEvent.DELIVERY_FAILED, claimed, details)


def _signed(session: Session, message: Message, text: str) -> str:
    """A bank user's message is signed with their name ("Dan Lee: ..."): on a chat platform
    every message comes from the bank's one bot account."""
    if message.author_id is None:
        return text
    author = session.get(User, message.author_id)
    return text if author is None else f"{author.shown_name}: {text}"


def _due(
    now: dt.datetime, batch: int, *only: ColumnElement[bool]
) -> Select[OutboxItem, Message, Conversation]:
    """Pending items that are due and have no older pending item in their conversation."""
    earlier = aliased(OutboxItem)
    older_pending = exists().where(
        and_(
            earlier.conversation_id == OutboxItem.conversation_id,
            earlier.state == PENDING,
            earlier.created_at < OutboxItem.created_at,
        )
    )
    return (
        select(OutboxItem, Message, Conversation)
        .join(Message, Message.id == OutboxItem.message_id)
        .join(Conversation, Conversation.id == OutboxItem.conversation_id)
        .where(
            OutboxItem.state == PENDING,
            OutboxItem.next_attempt_at <= now,
            OutboxItem.channel.not_in(PULLED),
            ~older_pending,
            *only,
        )
        .order_by(OutboxItem.created_at)
        .limit(batch)
        .with_for_update(skip_locked=True, of=OutboxItem)
    )


def _audit(
    session: Session, event: AuditEvent, claimed: Claimed, details: dict[str, object]
) -> None:
    record(
        session,
        event=event,
        actor="dispatcher",
        subject=f"conversation:{claimed.conversation_id}",
        payload={
            "outbox": claimed.item_id,
            "channel": claimed.channel,
            "attempt": claimed.attempt,
            **details,
        },
    )
