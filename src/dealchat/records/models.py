"""The audit log's tables: entries (the leaves), stored tree nodes, subject streams, checkpoints.

`audit_entry`, `audit_node` and `audit_checkpoint` are append-only in the database (triggers);
`audit_head` (the tree's size, root and right edge) and `audit_stream` (each subject's last number
and leaf hash) are the two small mutable rows an append moves forward, and both are re-derived from
the append-only tables by `dealchat audit verify`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import Base, UtcDateTime

SEQ = BigInteger().with_variant(Integer, "sqlite")
HASH = LargeBinary(32)


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(SEQ, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    event: Mapped[str] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200), index=True)
    payload: Mapped[str] = mapped_column(Text)
    stream_seq: Mapped[int] = mapped_column(SEQ)
    stream_prev: Mapped[bytes] = mapped_column(HASH)
    leaf_hash: Mapped[bytes] = mapped_column(HASH)


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
    """The head of one subject's stream: its last entry's stream number and leaf hash."""

    __tablename__ = "audit_stream"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    seq: Mapped[int] = mapped_column(SEQ)
    last: Mapped[bytes] = mapped_column(HASH)


class AuditCheckpoint(Base):
    """A signed statement of the tree at one size: C2SP signed-note text, never changed."""

    __tablename__ = "audit_checkpoint"

    size: Mapped[int] = mapped_column(SEQ, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(HASH)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    note: Mapped[str] = mapped_column(Text)
