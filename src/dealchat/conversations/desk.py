"""The one way in: inbound message -> record -> parse -> step-up -> orders -> recorded replies.

Every channel adapter calls `handle_inbound` inside the caller's transaction; the replies it returns
are stored and audited in that same transaction and delivered by the caller after commit.

Who wrote a message is part of the chat record the regulator needs for the chat period (7 years),
but a chat handle (a phone number, a chat user id) is personal data and audit entries live
forever. So a `message:received` entry names the sender in clear only by an opaque id
(`chat-identity:<id>` once linked to an account, `chat:<channel>:unlinked` before;
`identity.parties`), and seals the handle and the platform's message id (some platforms' ids
embed the phone number) under the conversation's data key, beside the words: they stay readable
exactly as long as the conversation and retention erases them with it, every proof intact.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealchat.channels import outbox
from dealchat.channels.interfaces import InboundMessage, OutboundMessage
from dealchat.conversations import activity, bodies, flow, i18n, storing, transcript
from dealchat.conversations.context import Desk, Turn
from dealchat.conversations.models import Conversation, Message
from dealchat.db.bulk import insert_all
from dealchat.db.driver import Loading
from dealchat.db.session import keep
from dealchat.identity.models import User
from dealchat.identity.parties import chat_party
from dealchat.nlu import IntentKind
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed_in
from dealchat.records.service import record
from dealchat.surveillance.interfaces import StoredMessage

_CONVERSATION = cast(Table, Conversation.__table__)
# While a person has the conversation, the bot leaves them what a person should answer; orders,
# quotes, confirmations and cancels still go through the same parser, controls and step-up.
LEFT_TO_THE_PERSON = frozenset({IntentKind.HELP, IntentKind.UNKNOWN, IntentKind.CLARIFY})


def handle_inbound(
    session: Session, *, message: InboundMessage, desk: Desk, delivered_by: str | None = None
) -> list[OutboundMessage]:
    """Answer one normalised message. A redelivered message id gets the stored replies again.
    `delivered_by`: the caller hands the replies to the client itself, in the answer to her
    request (the web chat): they are stored as delivered by it (`outbox.enqueue`)."""
    conversation = _conversation(session, message)
    inbound = _record_inbound(session, desk, conversation, message)
    if inbound is None:
        return stored_replies(
            session, desk, conversation, message.message_id, sender_id=message.sender_id
        )
    turn = Turn(desk, session, conversation, message, desk.clock())
    intent = desk.parser.parse(message.text, turn.now.date())
    if conversation.handled_by_id is not None and intent.intent in LEFT_TO_THE_PERSON:
        return []  # a person has the conversation: theirs to answer (conversations/handling.py)
    answers = i18n.localise(flow.answer(turn, intent), message.text, intent)
    stored = _store_outbound(
        session,
        desk,
        conversation_id=inbound.conversation_id,
        answers=answers,
        reply_to=inbound.id,
        delivered_by=delivered_by,
    )
    return [replace(answer, seq=row["seq"]) for answer, row in zip(answers, stored, strict=True)]


def _conversation(session: Session, message: InboundMessage) -> Conversation:
    """The message's conversation, its row locked for the turn (`activity.hold`): deliveries
    of one conversation's messages run one after the other, numbered from the row."""
    which = {"channel": message.channel, "external_id": message.conversation_id}
    found = _locked(session, which)
    if found is None:
        try:
            with session.begin_nested():
                found = Conversation(
                    channel=message.channel, external_id=message.conversation_id, last_seq=0
                )
                session.add(found)
        except IntegrityError:
            found = session.scalars(_LOCKING.orm, which).one()
    activity.hold(session, found)
    return found


# Built once (every message asks), read on the driver: the ORM's load cost more (`db.driver`).
_LOCKING = Loading(
    select(_CONVERSATION)
    .where(
        _CONVERSATION.c.channel == bindparam("channel"),
        _CONVERSATION.c.external_id == bindparam("external_id"),
    )
    .with_for_update(),
    Conversation,
    populate_existing=True,
)


def _locked(session: Session, which: dict[str, str]) -> Conversation | None:
    found = _LOCKING.rows(session, which)
    return found[0][0] if found else None


def _record_inbound(
    session: Session, desk: Desk, conversation: Conversation, message: InboundMessage
) -> Message | None:
    """Store the message (sealed) before anything acts on it; None when its id was seen before.
    The insert is the check (`storing.insert_first`): the conversation's row is locked
    (`_conversation`), so a delivery of the same id at once waits, then finds it stored."""
    row = storing.message_row(
        conversation_id=conversation.id,
        seq=activity.following(session, conversation.id),
        direction="in",
        sender_id=message.sender_id,
        channel_message_id=message.message_id,
    )
    store = partial(storing.insert_first, session, row)
    sealed = bodies.seal_and_store(session, desk, row, message.text, store)
    if sealed is None:
        return None
    activity.number(session, conversation.id, desk.clock())  # the number the row has
    inbound = storing.attached(session, row)
    party = chat_party(session, channel=message.channel, external_id=message.sender_id)
    if party.user_id is not None and conversation.client_id is None:
        conversation.client_id = party.user_id  # the desk lists the chat under its client
    _hand_over(session, conversation, inbound, message.text, party.user_id)
    record_sealed_in(
        session,
        scope=bodies.scope_of(conversation.id),
        event=AuditEvent.MESSAGE_RECEIVED,
        actor=party.actor,
        subject=f"conversation:{conversation.id}",
        payload={"message": inbound.id, "channel": message.channel, **sealed},
        details={**party.details(), "message_id": message.message_id},
        at=desk.clock(),
    )
    return inbound


def _hand_over(
    session: Session, conversation: Conversation, inbound: Message, text: str, user_id: str | None
) -> None:
    """The new message as surveillance scans it when it is recorded: no re-read, no decrypt."""
    user = session.get(User, user_id) if user_id is not None else None
    keep(session, user)  # the turn asks for its client again
    transcript.remember(
        session,
        StoredMessage(
            id=inbound.id,
            conversation_id=conversation.id,
            channel=conversation.channel,
            direction="in",
            sender_id=inbound.sender_id,
            text=text,
            created_at=inbound.created_at,
            user_id=user_id,
            username=None if user is None else user.username,
        ),
    )


def _find_inbound(session: Session, conversation: Conversation, message_id: str) -> Message | None:
    return session.scalar(
        select(Message).where(
            Message.conversation_id == conversation.id,
            Message.channel_message_id == message_id,
            Message.direction == "in",
        )
    )


def notify(
    session: Session,
    *,
    desk: Desk,
    conversation_id: str,
    answer: OutboundMessage,
    author: User | None = None,
) -> Message:
    """A bot message into a conversation that answers no inbound message (a held order released,
    a fill that came later). Stored and audited in the caller's transaction like every reply;
    delivering it to the chat platform is the channel's job once the transaction commits.
    `author`: the bank user who wrote it at the desk (the bot when None)."""
    if session.get(Conversation, conversation_id) is None:
        raise LookupError(f"no conversation {conversation_id}")
    [stored] = _store_outbound(
        session,
        desk,
        conversation_id=conversation_id,
        answers=[answer],
        reply_to=None,
        author=author,
    )
    return storing.attached(session, stored)


def _store_outbound(
    session: Session,
    desk: Desk,
    *,
    conversation_id: str,
    answers: list[OutboundMessage],
    reply_to: str | None,
    author: User | None = None,
    delivered_by: str | None = None,
) -> list[dict[str, Any]]:
    """Store, queue and audit the bot's (or `author`'s) messages, numbered in order: the
    messages in one INSERT, then their outbox rows (which refer to them) in another. Returns
    the stored rows (`storing.message_row`)."""
    actor = "bot" if author is None else f"user:{author.id}"
    rows = [
        storing.message_row(
            conversation_id=conversation_id,
            seq=activity.number(session, conversation_id, desk.clock()),
            direction="out",
            sender_id=actor,
            author_id=None if author is None else author.id,
            reply_to_id=reply_to,
            position=position,
        )
        for position in range(len(answers))
    ]
    sealed = [
        _seal_outbound(session, desk, row, answer)
        for row, answer in zip(rows, answers, strict=True)
    ]
    # What the turn changed through the ORM is written first, as when the messages went
    # through it: the commit's own steps (the data keys' touch, the audit) lock last.
    session.flush()
    insert_all(session, storing.MESSAGE, rows)
    for row, answer, commitment in zip(rows, answers, sealed, strict=True):
        record(
            session,
            event=AuditEvent.MESSAGE_SENT,
            actor=actor,
            subject=f"conversation:{conversation_id}",
            payload={
                "message": row["id"],
                "reply_to": reply_to,
                **commitment,
                "has_secure_link": answer.link is not None,
            },
        )
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None:  # delivered by the outbox dispatcher once this commits
        outbox.enqueue(
            session,
            message_ids=[row["id"] for row in rows],
            conversation_id=conversation_id,
            channel=conversation.channel,
            now=desk.clock(),
            delivered_by=delivered_by,
        )
    return rows


def _seal_outbound(
    session: Session, desk: Desk, row: dict[str, Any], answer: OutboundMessage
) -> dict[str, Any]:
    sealed = bodies.seal_into(session, desk, row, answer.text)
    if answer.link is not None:  # the link carries a bearer token: sealed at rest, never audited
        row["link"] = desk.sealer.seal(answer.link, context=f"message:{row['id']}")
    return sealed


def stored_replies(
    session: Session, desk: Desk, conversation: Conversation, message_id: str, *, sender_id: str
) -> list[OutboundMessage]:
    """The replies stored for a message id, to its own sender only: the same id from another
    sender (a guessed or copied id) gets nothing, so a replay never shows one person's replies,
    secure links included, to another. Nothing is recorded for it either."""
    inbound = _find_inbound(session, conversation, message_id)
    if inbound is None or inbound.sender_id != sender_id:
        return []
    rows = session.scalars(
        select(Message).where(Message.reply_to_id == inbound.id).order_by(Message.position)
    ).all()
    return [
        OutboundMessage(
            text=bodies.text_of(session, desk, row),
            seq=row.seq,
            link=None
            if row.link is None
            else desk.sealer.open(row.link, context=f"message:{row.id}"),
        )
        for row in rows
    ]
