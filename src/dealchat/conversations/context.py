"""The desk's collaborators (built once by the composition root) and one turn of a conversation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from dealchat.channels.interfaces import InboundMessage
from dealchat.controls.service import PreTrade
from dealchat.conversations.models import Conversation
from dealchat.db.base import utcnow
from dealchat.execution.interfaces import Counterparty
from dealchat.identity.service import AuthPolicy
from dealchat.nlu import Parser
from dealchat.orders.routing import Routing
from dealchat.pricing.dealer import DealerPolicy
from dealchat.pricing.interfaces import PriceSource
from dealchat.records.envelope import Envelope
from dealchat.records.sealing import Sealer

Screen = Callable[[Session, str, str], frozenset[str]]  # (session, text, channel) -> categories


@dataclass(frozen=True)
class Desk:
    parser: Parser
    prices: PriceSource
    counterparty: Counterparty
    sealer: Sealer
    policy: AuthPolicy
    quote_ttl: dt.timedelta
    ticket_ttl: dt.timedelta
    public_url: str
    envelope: Envelope
    clock: Callable[[], dt.datetime] = field(default=utcnow)
    pretrade: PreTrade | None = None  # the pre-trade controls; None checks nothing
    # The surveillance categories an inbound text matches (e.g. "off_channel"), so the bot can
    # answer a request it will not follow plainly; None when surveillance is off.
    screen: Screen | None = None
    # Orders go to FIX counterparties through the outbox (execution.routing) when set; to the
    # simulated `counterparty`, in the same transaction, when None (the demo's default).
    routing: Routing | None = None
    # Quotes a dealer prices instead of the bot (pricing.dealer), and how long one may take.
    dealer: DealerPolicy = field(default_factory=DealerPolicy)
    rfq_wait: dt.timedelta = dt.timedelta(seconds=300)


@dataclass
class Turn:
    """One inbound message being answered, at one instant."""

    desk: Desk
    session: Session
    conversation: Conversation
    message: InboundMessage
    now: dt.datetime

    @property
    def actor(self) -> str:
        return f"{self.message.channel}:{self.message.sender_id}"
