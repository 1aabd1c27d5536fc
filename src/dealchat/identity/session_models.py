"""Server-side web sessions and API tokens: only a hash of each bearer secret is stored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class AuthSession(Base):
    """One login of an internal user to the console (cookie), with its timeouts and factors."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    factors: Mapped[str] = mapped_column(String(64))  # "password,totp"
    source_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    authenticated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_active_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())  # the absolute timeout
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """A bearer token for the API, scoped to one user: random, hashed at rest, expiring."""

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    authenticated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())  # issue or last step-up
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    revoke_reason: Mapped[str | None] = mapped_column(String(64))
