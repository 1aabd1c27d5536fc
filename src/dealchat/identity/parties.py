"""People in the audit log: opaque ids in clear, what identifies them sealed.

A chat sender's handle (a WhatsApp phone number, a Telegram or Matrix user id, a web chat visitor
id) is personal data, and audit entries live forever. So an entry about a sender names it in
clear only by an opaque id: `chat-identity:<id>` once the handle is linked to an account (the
`identity:linked` entries say, in clear, which user each chat identity was linked to), or
`chat:<channel>:unlinked` before. The handle itself (`<channel>:<external id>`) is sealed in the
entry (`records.personal`): under the linked user's access-log month, or the anonymous one, for
link and identity events (erased after the access-log period); under the conversation's key for
message entries (erased with the conversation's words, see `conversations.desk`).
Enrolment links carry an enrolment id, not a handle: their actor is `totp-enrolment:<id>`.
A new user's username (and any other identifier of a person an entry needs, e.g. a federated
subject) is sealed the same way under that user's access-log month; `user:<id>` stays in clear.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from dealchat.db.base import utcnow
from dealchat.db.driver import Loading
from dealchat.db.session import keep, per_transaction
from dealchat.identity.models import ChatIdentity, User
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed

ENROL_CHANNEL = "enrol"  # a link to finish enrolling an authenticator: no chat behind it


@dataclass(frozen=True)
class ChatParty:
    actor: str  # what the entry shows in clear
    user_id: str | None  # the linked account, whose access-log months seal the handle
    identity_id: str | None
    sender: str  # `<channel>:<external id>`, only ever sealed

    def details(self) -> dict[str, str]:
        return {"sender": self.sender}


def chat_party(session: Session, *, channel: str, external_id: str) -> ChatParty:
    """The sender as the audit log names it (see the module's docstring)."""
    sender = f"{channel}:{external_id}"
    if channel == ENROL_CHANNEL:
        return ChatParty(f"totp-enrolment:{external_id}", None, None, sender)
    identity = find_identity(session, channel, external_id)
    if identity is None:
        return ChatParty(f"chat:{channel}:unlinked", None, None, sender)
    return ChatParty(f"chat-identity:{identity.id}", identity.user_id, identity.id, sender)


def find_identity(session: Session, channel: str, external_id: str) -> ChatIdentity | None:
    """The chat identity of a sender; one found is kept for the rest of the transaction (a
    message's turn asks for it several times), one not found is asked again (it may be linked).
    Its user comes in the same statement and is kept too (the turn asks for her next)."""
    known: dict[tuple[str, str], ChatIdentity] = session.info.setdefault(_FOUND, {})
    found = known.get((channel, external_id))
    if found is not None and found in session:
        return found
    rows = _FINDING.rows(session, {"channel": channel, "external_id": external_id})
    if not rows:
        return None
    found, user = rows[0]
    known[(channel, external_id)] = found
    keep(session, user)
    return cast(ChatIdentity, found)


_FOUND = per_transaction("dealchat_chat_identities")  # identities found in this transaction
# Built once (a statement built per call costs more than running it), read on the driver: an
# ORM load cost more than the read (`db.driver`).
_IDENTITIES, _USERS = cast(Table, ChatIdentity.__table__), cast(Table, User.__table__)
_FINDING = Loading(
    select(_IDENTITIES, _USERS)
    .select_from(_IDENTITIES.outerjoin(_USERS, _USERS.c.id == _IDENTITIES.c.user_id))
    .where(
        _IDENTITIES.c.channel == bindparam("channel"),
        _IDENTITIES.c.external_id == bindparam("external_id"),
    ),
    ChatIdentity,
    User,
)


def record_user_created(
    session: Session,
    user: User,
    *,
    actor: str,
    payload: dict[str, Any],
    now: dt.datetime | None = None,
) -> None:
    """Insert `user` and audit it as `user:<id>`, its username sealed under its own month."""
    session.add(user)
    session.flush()
    record_sealed(
        session,
        event=AuditEvent.USER_CREATED,
        actor=actor,
        subject=f"user:{user.id}",
        payload=payload,
        person=user.id,
        details={"username": user.username},
        at=now or utcnow(),
    )
