"""Envelope encryption of content at rest: AES-256-GCM under a data key per scope (a conversation,
a document), the data key wrapped by the key-encryption key (`interfaces.KeyEncryptionKey`).

The audit log commits to `body_digest(blob)` (SHA-256 of nonce||ciphertext), never to plaintext,
so `destroy` (crypto-erasure) makes content unreadable without breaking a single proof; the
erasure is itself audited as a tombstone entry. KEK rotation re-wraps data keys only: no content
is rewritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import partial

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, Table, bindparam, event, select, update
from sqlalchemy.orm import Session

from dealchat.db.base import new_id, utcnow
from dealchat.db.driver import Prepared
from dealchat.db.session import after_commit, per_transaction
from dealchat.records.envelope_models import DataKey
from dealchat.records.events import AuditEvent
from dealchat.records.interfaces import KeyEncryptionKey
from dealchat.records.keycache import KeyCache
from dealchat.records.service import record, record_now

_NONCE = 12
DATA_KEY_BYTES = 32
_DATA_KEY: Table = DataKey.__table__  # type: ignore[assignment]
_CHOSEN = per_transaction("dealchat_data_keys_chosen")  # scope -> the key sealed under here


@dataclass(frozen=True)
class _Chosen:
    key_id: str
    key: bytes
    moment: dt.datetime
    forget: Callable[[], None]  # drops the key from the process's cache
    seen_live: Callable[[], None]  # notes in the process's cache that its row is live


class ContentErasedError(LookupError):
    """The data key that sealed this content was destroyed: the content is gone for good."""


@dataclass(frozen=True)
class Sealed:
    data_key_id: str
    blob: bytes  # nonce || AES-GCM ciphertext and tag

    @property
    def digest(self) -> str:
        return body_digest(self.blob)


def body_digest(blob: bytes) -> str:
    """What audit entries commit to: SHA-256 over nonce||ciphertext, hex."""
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class Rotation:
    kek_id: str
    rewrapped: int
    previous: tuple[str, ...]


@dataclass(frozen=True)
class Erasure:
    scope: str
    data_keys: tuple[str, ...]
    audit_seq: int | None


def _wrap_context(row: DataKey) -> str:
    return f"datakey:{row.id}:{row.scope}"


class Envelope:
    """Seal and open content under per-scope data keys; the caller's session, the caller commits."""

    def __init__(self, kek: KeyEncryptionKey, *, keys: KeyCache | None = None) -> None:
        self.kek = kek
        self.keys = keys if keys is not None else KeyCache()  # live keys sealed under lately

    def seal(
        self,
        session: Session,
        *,
        scope: str,
        context: str,
        plaintext: str,
        now: dt.datetime | None = None,
    ) -> Sealed:
        """`seal_bytes` of the text's UTF-8."""
        data = plaintext.encode("utf-8")
        return self.seal_bytes(session, scope=scope, context=context, data=data, now=now)

    def seal_bytes(
        self,
        session: Session,
        *,
        scope: str,
        context: str,
        data: bytes,
        now: dt.datetime | None = None,
    ) -> Sealed:
        """Encrypt under the scope's live data key (created and audited on first use).

        A transaction seals a scope under one key: a key sealed under lately comes from
        `self.keys` (keycache.py), read back once (a plain read) to see it is still live,
        unless a commit in this process saw it live within the last second. Its
        row is written once, at commit, after everything else the transaction locked and in key
        order (`_touch_at_commit`): marked used (retention reads `last_sealed_at`) and checked
        live again; a key destroyed in between fails the commit. No transaction ever waits on a
        key row while holding one and wanting another row, so sealing never deadlocks.
        """
        moment = now or utcnow()
        chosen: dict[str, _Chosen] = session.info.setdefault(_CHOSEN, {})
        found = chosen.get(scope)
        if found is None:
            key_id, key = self._cached_live(session, scope) or self._key_for(session, scope)
            found = chosen[scope] = _Chosen(
                key_id,
                key,
                moment,
                partial(self.keys.drop, scope),
                partial(self.keys.seen_live, scope, key_id),
            )
        nonce = secrets.token_bytes(_NONCE)
        sealed = AESGCM(found.key).encrypt(nonce, data, context.encode("utf-8"))
        return Sealed(found.key_id, nonce + sealed)

    def _cached_live(self, session: Session, scope: str) -> tuple[str, bytes] | None:
        """The cached key of `scope` if its row is still live (a plain read, no lock: the
        touch at commit checks again; none when a commit here saw it live within the second);
        dropped from the cache if another process destroyed it."""
        cached = self.keys.get(scope)
        if cached is None or self.keys.live_lately(scope):
            return cached
        live = (
            session.connection()
            .execute(
                select(_DATA_KEY.c.id).where(
                    _DATA_KEY.c.id == cached[0], _DATA_KEY.c.wrapped.is_not(None)
                )
            )
            .first()
        )
        if live is None:
            self.keys.drop(scope)
            return None
        self.keys.seen_live(scope, cached[0])
        return cached

    def _key_for(self, session: Session, scope: str) -> tuple[str, bytes]:
        row, key = self._live_key(session, scope)
        after_commit(session, partial(self.keys.put, scope, row.id, key))
        return row.id, key

    def open(self, session: Session, *, data_key_id: str, blob: bytes, context: str) -> str:
        """`open_bytes` as text."""
        plain = self.open_bytes(session, data_key_id=data_key_id, blob=blob, context=context)
        return plain.decode("utf-8")

    def open_bytes(self, session: Session, *, data_key_id: str, blob: bytes, context: str) -> bytes:
        """The plaintext; `ContentErasedError` when its data key was destroyed."""
        row = session.get(DataKey, data_key_id)
        if row is None or row.wrapped is None:
            raise ContentErasedError(data_key_id)
        key = self.kek.unwrap(row.wrapped, kek_id=row.kek_id, context=_wrap_context(row))
        try:
            return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], context.encode("utf-8"))
        except InvalidTag as error:
            raise ValueError(f"sealed content for {context} fails authentication") from error

    def opener(self, session: Session, *, scopes: Collection[str] | None = None) -> Opener:
        """`open` for many blobs in one read: each data key is read and unwrapped once per
        opener (a search streams thousands of messages under a few keys); the keys of `scopes`
        are read in a few queries up front. The opener raises `ContentErasedError` like `open`;
        it lives as long as the caller holds it."""
        rows: dict[str, DataKey] = {}
        wanted = sorted(scopes or ())
        for at in range(0, len(wanted), 5000):
            chunk = wanted[at : at + 5000]
            rows |= {
                r.id: r for r in session.scalars(select(DataKey).where(DataKey.scope.in_(chunk)))
            }
        return Opener(self.kek, session, rows)

    def _live_key(self, session: Session, scope: str) -> tuple[DataKey, bytes]:
        row = session.scalar(
            select(DataKey)
            .where(DataKey.scope == scope, DataKey.wrapped.is_not(None))
            .order_by(DataKey.created_at.desc())
            .limit(1)
        )
        if row is not None:
            assert row.wrapped is not None
            return row, self.kek.unwrap(row.wrapped, kek_id=row.kek_id, context=_wrap_context(row))
        key = secrets.token_bytes(DATA_KEY_BYTES)
        row = DataKey(id=new_id(), scope=scope, created_at=utcnow())
        row.kek_id, row.wrapped = self.kek.wrap(key, context=_wrap_context(row))
        session.add(row)
        session.flush()  # the key row first: the unit of work does not order it before its users
        record(
            session,
            event=AuditEvent.DATAKEY_CREATED,
            actor="system",
            subject=scope,
            payload={"data_key": row.id, "kek": row.kek_id},
        )
        return row, key

    def destroy(
        self, session: Session, *, scope: str, reason: str, actor: str, now: dt.datetime
    ) -> Erasure:
        """Crypto-erase everything sealed under `scope`, with a tombstone entry in the log."""
        rows = session.scalars(
            select(DataKey).where(DataKey.scope == scope, DataKey.wrapped.is_not(None))
        ).all()
        self.keys.drop(scope)
        session.info.get(_CHOSEN, {}).pop(scope, None)  # nothing more sealed under them here
        if not rows:
            return Erasure(scope, (), None)
        for row in rows:
            row.wrapped, row.destroyed_at = None, now
        ids = tuple(sorted(row.id for row in rows))
        entry = record_now(
            session,
            event=AuditEvent.CONTENT_ERASED,
            actor=actor,
            subject=scope,
            payload={"data_keys": list(ids), "reason": reason, "at": now},
        )
        return Erasure(scope, ids, entry.seq)

    def rotate_kek(self, session: Session, *, actor: str) -> Rotation:
        """A new KEK version; every live data key re-wrapped under it. Content is untouched."""
        self.keys.clear()
        new_kek = self.kek.rotate()
        rows = session.scalars(
            select(DataKey).where(DataKey.wrapped.is_not(None), DataKey.kek_id != new_kek)
        ).all()
        previous = tuple(sorted({row.kek_id for row in rows}))
        for row in rows:
            assert row.wrapped is not None
            context = _wrap_context(row)
            key = self.kek.unwrap(row.wrapped, kek_id=row.kek_id, context=context)
            row.kek_id, row.wrapped = self.kek.wrap(key, context=context)
        record(
            session,
            event=AuditEvent.KEK_ROTATED,
            actor=actor,
            subject="kek",
            payload={"kek": new_kek, "rewrapped": len(rows), "previous": list(previous)},
        )
        return Rotation(new_kek, len(rows), previous)

    def kek_in_use(self, session: Session) -> set[str]:
        """KEK versions some live data key still needs (the others may be retired)."""
        found = session.scalars(
            select(DataKey.kek_id).where(DataKey.wrapped.is_not(None)).distinct()
        )
        return set(found)


class Opener:
    """Opens blobs sealed under data keys read once (`Envelope.opener`)."""

    def __init__(self, kek: KeyEncryptionKey, session: Session, rows: dict[str, DataKey]) -> None:
        self._kek, self._session, self._rows = kek, session, rows
        self._under: dict[str, Callable[[bytes, str], str]] = {}

    def __call__(self, data_key_id: str, blob: bytes, context: str) -> str:
        """The text sealed in `blob` under `data_key_id` for `context`."""
        return self.under(data_key_id)(blob, context)

    def under(self, data_key_id: str) -> Callable[[bytes, str], str]:
        """`open` for blobs sealed under one data key (`blob`, `context`) -> text: the key is
        unwrapped here, once; a destroyed key's opener raises `ContentErasedError`."""
        found = self._under.get(data_key_id)
        if found is None:
            found = self._under[data_key_id] = self._make(data_key_id)
        return found

    def _make(self, data_key_id: str) -> Callable[[bytes, str], str]:
        row = self._rows.get(data_key_id) or self._session.get(DataKey, data_key_id)
        if row is None or row.wrapped is None:

            def erased(blob: bytes, context: str) -> str:
                raise ContentErasedError(data_key_id)

            return erased
        key = self._kek.unwrap(row.wrapped, kek_id=row.kek_id, context=_wrap_context(row))
        decrypt = AESGCM(key).decrypt

        def open_one(blob: bytes, context: str) -> str:
            try:
                plain = decrypt(blob[:_NONCE], blob[_NONCE:], context.encode("utf-8"))
            except InvalidTag as error:
                raise ValueError(f"sealed content for {context} fails authentication") from error
            return plain.decode("utf-8")

        return open_one


def sealed_under(session: Session, scope: str) -> bool:
    """Whether this transaction sealed under `scope`'s key (marked used at its commit)."""
    return scope in session.info.get(_CHOSEN, {})


def take_back(session: Session, scope: str) -> None:
    """Nothing this transaction sealed under `scope` is stored after all (a redelivery's insert
    found the message already there): its key is not marked used at commit."""
    session.info.get(_CHOSEN, {}).pop(scope, None)


# One statement for all the keys a transaction sealed under, stamped with the latest moment, the
# rows locked in key order (`SELECT ... ORDER BY id FOR UPDATE` locks as it returns them). Built
# once: building it per commit cost more than running it.
_LOCKED = (
    select(_DATA_KEY.c.id)
    .where(_DATA_KEY.c.id.in_(bindparam("ids", expanding=True)), _DATA_KEY.c.wrapped.is_not(None))
    .order_by(_DATA_KEY.c.id)
    .with_for_update()
    .cte("locked")
)
_TOUCH = (
    update(_DATA_KEY)
    .where(_DATA_KEY.c.id == _LOCKED.c.id)
    .values(last_sealed_at=bindparam("at"))
    .returning(_DATA_KEY.c.id)
)


_TOUCH_ONE = Prepared(  # a transaction's usual case, on the driver (db.driver): one key
    update(_DATA_KEY)
    .where(_DATA_KEY.c.id == bindparam("id"), _DATA_KEY.c.wrapped.is_not(None))
    .values(last_sealed_at=bindparam("at"))
    .returning(_DATA_KEY.c.id)
)


def _touched(connection: Connection, ids: list[str], at: dt.datetime) -> set[str]:
    """Which of the keys `ids` are live, each marked used at `at`, locked in key order."""
    if len(ids) == 1:
        return {row[0] for row in _TOUCH_ONE.fetch(connection, {"id": ids[0], "at": at})}
    return set(connection.execute(_TOUCH, {"ids": ids, "at": at}).scalars())


def _touch_at_commit(session: Session) -> None:
    """Mark every key this transaction sealed under as used, in key order, last of all its
    locks (before the audit entries are placed); a key destroyed since it was chosen fails the
    commit: what was sealed under it could never be read."""
    if session.in_nested_transaction():
        return
    chosen: dict[str, _Chosen] = session.info.pop(_CHOSEN, {})
    if not chosen:
        return
    by_key = {found.key_id: (scope, found) for scope, found in chosen.items()}
    at = max(found.moment for found in chosen.values())
    live = _touched(session.connection(), list(by_key), at)
    for key_id in by_key.keys() - live:
        scope, found = by_key[key_id]
        found.forget()
        raise ContentErasedError(f"the data key of {scope} was destroyed while sealing")
    for _, found in by_key.values():
        after_commit(session, found.seen_live)


# First of the commit's steps: records.service places the audit entries after it.
event.listen(Session, "before_commit", _touch_at_commit, insert=True)
