"""Replay guards in the database: a signed webhook or an edge envelope replayed to another
worker or node is refused there too (`channels.http.ReplayGuard.share`).

A proof (a platform's signature, a nonce, an envelope's `jti`) is kept as its SHA-256 under the
adapter's name for twice the freshness window (a request older than the window is refused as
stale before its proof matters); inserting a proof already kept fails on the primary key: that
is the replay. Rows past their time are deleted now and then by whoever inserts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from sqlalchemy import String, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from dealchat.channels.interfaces import ChannelAdapter
from dealchat.db.base import Base, UtcDateTime
from dealchat.db.session import unit_of_work

PURGE_ONE_IN = 500


class SeenProof(Base):
    __tablename__ = "seen_proof"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class DatabaseReplays:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._rng = random.Random()  # noqa: S311 - when to tidy up, not a secret

    def remember(self, scope: str, proof: str, *, now: dt.datetime, keep: dt.timedelta) -> bool:
        digest = _digest(proof)
        try:
            with unit_of_work(self._sessions) as session:
                kept = session.get(SeenProof, (scope, digest))
                if kept is not None and kept.until > now:
                    return False
                if kept is not None:  # long past its window: a new request, as in memory
                    session.delete(kept)
                    session.flush()
                session.add(SeenProof(scope=scope, digest=digest, until=now + keep))
                if self._rng.randrange(PURGE_ONE_IN) == 0:
                    session.execute(delete(SeenProof).where(SeenProof.until < now))
        except IntegrityError:
            return False  # another process kept it first
        return True

    def forget(self, scope: str, proof: str) -> None:
        with unit_of_work(self._sessions) as session:
            found = session.get(SeenProof, (scope, _digest(proof)))
            if found is not None:
                session.delete(found)


def share(adapters: dict[str, ChannelAdapter], store: DatabaseReplays) -> None:
    """Every adapter that guards against replays checks `store` from now on."""
    for name, adapter in adapters.items():
        guard = getattr(adapter, "replays", None)
        if guard is not None:
            guard.share(store, name)


def _digest(proof: str) -> str:
    return hashlib.sha256(proof.encode("utf-8")).hexdigest()
