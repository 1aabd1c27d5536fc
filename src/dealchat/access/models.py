"""Roles, their grants (a right with attribute conditions) and who holds which role."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class Role(Base):
    """A named set of grants that administrators define from the rights catalogue."""

    __tablename__ = "access_role"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RoleGrant(Base):
    """One right of a role, limited to resources whose attributes match `conditions` (JSON)."""

    __tablename__ = "access_grant"
    __table_args__ = (UniqueConstraint("role_id", "right", "conditions"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    role_id: Mapped[str] = mapped_column(ForeignKey("access_role.id"), index=True)
    right: Mapped[str] = mapped_column(String(64))
    # Canonical JSON {"desk": ["FX-LDN"], ...}: sorted names, sorted values; "{}" for none.
    conditions: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RoleAssignment(Base):
    """A user holds a role."""

    __tablename__ = "access_assignment"
    __table_args__ = (UniqueConstraint("role_id", "user_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    role_id: Mapped[str] = mapped_column(ForeignKey("access_role.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
