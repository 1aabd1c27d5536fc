"""The access log's personal details, sealed so that retention can erase them on time.

An access-log entry (an authorisation decision, a login, a session started) keeps in clear only
what the log's integrity and the security functions need: its time, event, outcome, rule,
channel, factors, right and opaque ids. Who it was and from where (username, source address,
chat sender, the operation asked for) is sealed with `records.envelope` under the data key of
scope `access:<user id>:<YYYY-MM>` (`access:anonymous:<YYYY-MM>` when no account is known),
the month of the entry's UTC time. Why that scope:
- per person: a legal hold on a client or an internal user keeps that person's log
  (`scopes_of`) and nobody else's, and erasing one person's months touches no one else's;
- per month: the retention period (`access_logs`, 2 years by default) runs from the last entry
  sealed under the key, so a person who logs in every day still sees their old months expire;
  one key per person would never expire while they are active. At most one key per person per
  month exists, so the data key table stays small.
The ciphertext sits in the entry's payload (`sealed`), so the entry's leaf commits to it:
destroying the key erases the details and every proof still verifies; the entry then reads as
erased, with its time and outcome still shown.

Other entries that name a person use the same seal (`identity.parties`): chat handles in link and
identity entries and usernames under the person's month, as here; a message's sender under its
conversation's key instead (`record_sealed_in`), so it lives exactly as long as the chat record.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dealchat.records.chain import canonical_json
from dealchat.records.envelope import ContentErasedError, Envelope
from dealchat.records.envelope_models import DataKey
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import Queued
from dealchat.records.service import record

ANONYMOUS = "anonymous"
PREFIX = "access"
_KEY = "dealchat_personal_envelope"


def scope_for(person: str | None, at: dt.datetime) -> str:
    """`access:<user id>:<YYYY-MM>`, the month of `at` in UTC."""
    return f"{PREFIX}:{person or ANONYMOUS}:{at.astimezone(dt.UTC):%Y-%m}"


def install(factory: sessionmaker[Session], envelope: Envelope) -> None:
    """Sessions of `factory` seal and open access-log details with `envelope`."""
    factory.kw.setdefault("info", {})[_KEY] = envelope


def envelope_of(session: Session) -> Envelope:
    found: Envelope | None = session.info.get(_KEY)
    if found is None:
        raise RuntimeError("no envelope installed: access-log details are never written in clear")
    return found


def _context(scope: str) -> str:
    return f"audit-details:{scope}"


def record_sealed(
    session: Session,
    *,
    event: AuditEvent,
    actor: str,
    subject: str,
    payload: dict[str, Any],
    person: str | None,
    details: dict[str, Any],
    at: dt.datetime,
) -> Queued:
    """Append an access-log entry: `payload` in clear, `details` sealed under `person`'s month."""
    return record_sealed_in(
        session,
        scope=scope_for(person, at),
        event=event,
        actor=actor,
        subject=subject,
        payload=payload,
        details=details,
        at=at,
    )


def record_sealed_in(
    session: Session,
    *,
    scope: str,
    event: AuditEvent,
    actor: str,
    subject: str,
    payload: dict[str, Any],
    details: dict[str, Any],
    at: dt.datetime,
) -> Queued:
    """Append an entry with `details` sealed under any scope's data key (a conversation's, so
    that they live exactly as long as its messages); `reveal` opens them like any other."""
    sealed = envelope_of(session).seal(
        session, scope=scope, context=_context(scope), plaintext=canonical_json(details), now=at
    )
    blob = base64.b64encode(sealed.blob).decode("ascii")
    clear = {**payload, "sealed": {"scope": scope, "data_key": sealed.data_key_id, "blob": blob}}
    return record(session, event=event, actor=actor, subject=subject, payload=clear)


def reveal(session: Session, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with its sealed details opened; with `erased: True` and no details once
    retention destroyed their key. A payload without sealed details is returned as it is."""
    sealed = payload.get("sealed")
    if not isinstance(sealed, dict):
        return payload
    clear = {key: value for key, value in payload.items() if key != "sealed"}
    try:
        plain = envelope_of(session).open(
            session,
            data_key_id=str(sealed["data_key"]),
            blob=base64.b64decode(str(sealed["blob"])),
            context=_context(str(sealed["scope"])),
        )
    except ContentErasedError:
        return {**clear, "erased": True}
    return {**clear, **json.loads(plain), "erased": False}


def scopes_of(session: Session, person: str) -> set[str]:
    """Every access-log scope of one person (what a legal hold on them keeps)."""
    prefix = f"{PREFIX}:{person}:"
    found = session.scalars(
        select(DataKey.scope).where(DataKey.scope.startswith(prefix, autoescape=True)).distinct()
    )
    return set(found)
