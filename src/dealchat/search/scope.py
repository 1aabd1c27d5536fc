"""Which conversations a search may look at, from clear metadata only, and who may read each.

Each filter gives the conversations it allows (`None`: no filter); the search looks only inside
their intersection. A conversation is read for a reader only when `conversation:read` allows it
on the conversation's client (her desk, region, client book); the others are skipped unopened
and each of their clients is one `access:denied` entry in the access log.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.conversations.holds import scopes_for
from dealchat.conversations.models import Conversation, Message
from dealchat.conversations.report_subjects import resolve_user
from dealchat.identity.models import ChatIdentity, User
from dealchat.orders.models import Order
from dealchat.search.criteria import Criteria
from dealchat.surveillance.models import Alert

Allowed = set[str] | None


def narrowed(session: Session, criteria: Criteria) -> Allowed:
    """The conversations every metadata filter allows (None when no filter narrows)."""
    allowed: Allowed = None
    for found in _filters(session, criteria):
        allowed = found if allowed is None else allowed & found
    return allowed


def _filters(session: Session, criteria: Criteria) -> list[set[str]]:
    found = []
    if criteria.client:
        client = resolve_user(session, criteria.client)
        scopes = scopes_for(session, kind="client", target=client.id)
        found.append({s.split(":", 1)[1] for s in scopes if s.startswith("conversation:")})
    if criteria.channel:
        found.append(
            set(
                session.scalars(
                    select(Conversation.id).where(Conversation.channel == criteria.channel)
                )
            )
        )
    if criteria.staff:
        found.append(_staff_conversations(session, resolve_user(session, criteria.staff)))
    orders = [
        condition
        for condition in (
            Order.counterparty == criteria.counterparty if criteria.counterparty else None,
            Order.ref == criteria.order_ref if criteria.order_ref else None,
            Order.state == criteria.order_state if criteria.order_state else None,
        )
        if condition is not None
    ]
    if orders:
        found.append(set(session.scalars(select(Order.conversation_id).where(*orders))))
    if criteria.alert_state:
        found.append(
            {
                conversation
                for conversation in session.scalars(
                    select(Alert.conversation_id).where(Alert.status == criteria.alert_state)
                )
                if conversation is not None
            }
        )
    return found


def _staff_conversations(session: Session, user: User) -> set[str]:
    """Conversations a bank user wrote in (a dealer's reply or take-over is an outbound message
    sent as that user) or whose alerts they were assigned."""
    senders = {user.id, f"user:{user.id}", user.username}
    written = session.scalars(
        select(Message.conversation_id)
        .where(Message.direction == "out", Message.sender_id.in_(senders))
        .distinct()
    )
    assigned = session.scalars(
        select(Alert.conversation_id).where(Alert.assignee_id == user.id).distinct()
    )
    return {c for c in (*written, *assigned) if c is not None}


def client_of(session: Session, conversation_id: str) -> User | None:
    """The client a conversation is with: the linked writer of its messages, else the client
    of its orders; None for a chat nobody linked."""
    user_id = session.scalar(
        select(ChatIdentity.user_id)
        .join(Conversation, Conversation.channel == ChatIdentity.channel)
        .join(
            Message,
            (Message.conversation_id == Conversation.id)
            & (Message.sender_id == ChatIdentity.external_id),
        )
        .where(Conversation.id == conversation_id, Message.direction == "in")
        .limit(1)
    ) or session.scalar(
        select(Order.client_id).where(Order.conversation_id == conversation_id).limit(1)
    )
    return None if user_id is None else session.get(User, user_id)


class Readers:
    """Who a conversation belongs to and whether the reader may read it, remembered. The client
    is known from the first inbound message's sender (the chat identities are read once, with
    their users), else looked up (`client_of`)."""

    def __init__(self, session: Session, actor: Actor) -> None:
        self.session, self.actor = session, actor
        self.clients: dict[str, User | None] = {}
        self.allowed: dict[str, bool] = {}
        self.denied: dict[str, set[str]] = {}  # client id (or "") -> conversations refused
        self._handles: dict[tuple[str, str], User] | None = None

    def _by_handle(self) -> dict[tuple[str, str], User]:
        if self._handles is None:
            rows = self.session.execute(
                select(ChatIdentity.channel, ChatIdentity.external_id, User).join(
                    User, User.id == ChatIdentity.user_id
                )
            )
            self._handles = {(channel, handle): user for channel, handle, user in rows}
        return self._handles

    def meet(self, conversation_id: str, channel: str, direction: str, sender: str) -> None:
        """Learn a conversation's client from one of its messages, before asking `may_read`."""
        if conversation_id not in self.clients and direction == "in":
            found = self._by_handle().get((channel, sender))
            if found is not None:
                self.clients[conversation_id] = found

    def client(self, conversation_id: str) -> User | None:
        if conversation_id not in self.clients:
            self.clients[conversation_id] = client_of(self.session, conversation_id)
        return self.clients[conversation_id]

    def may_read(self, conversation_id: str) -> bool:
        known = self.allowed.get(conversation_id)
        if known is not None:
            return known
        client = self.client(conversation_id)
        resource = client.attributes() if client is not None else {}
        allowed = can(self.actor, Right.CONVERSATION_READ, resource).allowed
        self.allowed[conversation_id] = allowed
        if not allowed:
            self.denied.setdefault(client.id if client else "", set()).add(conversation_id)
        return allowed

    def name(self, conversation_id: str) -> str:
        client = self.client(conversation_id)
        return client.username if client is not None else "(not linked)"
