"""Data keys: one per conversation (or document), stored only wrapped by the key-encryption key.

Destroying a data key (retention expiry, erasure) clears `wrapped`: the content it sealed can
never be read again, while the audit entries that commit to the ciphertext still verify.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class DataKey(Base):
    __tablename__ = "data_key"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(200), index=True)  # e.g. conversation:<id>
    kek_id: Mapped[str] = mapped_column(String(64))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # The retention period runs from the last content sealed under the key.
    last_sealed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
