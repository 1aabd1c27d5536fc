"""The audit log's tables: entries (the leaves), stored tree nodes, subject streams, checkpoints.

`audit_entry`, `audit_node` and `audit_checkpoint` are append-only in the database (triggers);
`audit_head` (the tree's size, root and right edge) and `audit_stream` (each subject's last number,
leaf hash and entry) are the two small mutable rows an append moves forward, and both are re-derived
from the append-only tables by `dealchat audit verify`.

An entry stores what its leaf commits to once: `at` as microseconds since the epoch, and its
stream's previous leaf hash not as a copy but as the number of that entry (`prev_seq`), whose own
`leaf_hash` it is. The stream of a subject is the chain of `prev_seq` links back from its
`audit_stream.last_entry` (`records.service.in_stream`), so no index on subject is kept; the one
index beside the primary key holds only access decisions (what the access log reads by event).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    select,
)
from sqlalchemy import text as text_clause
from sqlalchemy.orm import Mapped, column_property, mapped_column

from dealchat.db.base import Base, UtcDateTime, UtcMicros
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import STREAM_GENESIS

SEQ = BigInteger().with_variant(Integer, "sqlite")
HASH = LargeBinary(32)


# The events the access log reads (`access.accesslog`): the only ones indexed by event.
ACCESS_DECISIONS = (AuditEvent.ACCESS_ALLOWED.value, AuditEvent.ACCESS_DENIED.value)
_DECISIONS_SQL = "event IN ({})".format(", ".join(f"'{name}'" for name in ACCESS_DECISIONS))
# The index's condition as a query term: a query that includes it may use the partial index.
ACCESS_INDEXED = text_clause(_DECISIONS_SQL)


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index(
            "ix_audit_entry_access",
            "event",
            sqlite_where=text_clause(_DECISIONS_SQL),
            postgresql_where=text_clause(_DECISIONS_SQL),
        ),
    )

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcMicros())
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    stream_seq: Mapped[int] = mapped_column(SEQ)
    prev_seq: Mapped[int] = mapped_column(SEQ)  # the stream's previous entry; 0 for its first
    leaf_hash: Mapped[bytes] = mapped_column(HASH)
    if TYPE_CHECKING:
        prev_leaf_hash: bytes | None  # a column_property, set up below the class

    @property
    def stream_prev(self) -> bytes:
        """The leaf hash of the stream's previous entry (what this leaf commits to), read with
        the entry; the stream's genesis value for its first entry."""
        previous = self.prev_leaf_hash
        return STREAM_GENESIS if previous is None else bytes(previous)


_PREVIOUS = AuditEntry.__table__.alias("stream_previous")
AuditEntry.prev_leaf_hash = column_property(  # type: ignore[assignment]
    select(_PREVIOUS.c.leaf_hash).where(_PREVIOUS.c.seq == AuditEntry.prev_seq).scalar_subquery()
)


class AuditNode(Base):
    """A complete subtree's hash, level >= 1 (level 0 is the entry's leaf_hash); never changes."""

    __tablename__ = "audit_node"
    __table_args__ = {"sqlite_with_rowid": False}  # noqa: RUF012 - SQLAlchemy's declarative form

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(HASH)


class AuditHead(Base):
    """One row: the tree's size, root and right edge (frontier), locked by every append."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(SEQ)
    root: Mapped[bytes] = mapped_column(HASH)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class AuditStream(Base):
    """The head of one subject's stream: its last entry's stream number, leaf hash and seq."""

    __tablename__ = "audit_stream"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(SEQ)
    last: Mapped[bytes] = mapped_column(HASH)
    last_entry: Mapped[int] = mapped_column(SEQ)


class AuditQueue(Base):
    """An entry recorded by a transaction that found another placing the tree: placed (and
    deleted from here) by the next placer, in `id` order (`records.service`). Never updated."""

    __tablename__ = "audit_queue"

    id: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)  # microseconds since the epoch
    event: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)


class AuditCheckpoint(Base):
    """A signed statement of the tree at one size: C2SP signed-note text, never changed."""

    __tablename__ = "audit_checkpoint"

    size: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(HASH)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text)


class AuditCosignature(Base):
    """A witness's cosignature (C2SP cosignature/v1 line) on the checkpoint at `size`, as the
    witness returned it; append-only (triggers). The witness keeps its own copy."""

    __tablename__ = "audit_cosignature"

    size: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
