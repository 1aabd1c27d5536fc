"""Stored documents: ciphertext only, under the data key of the conversation they belong to.

`body` is nonce||AES-256-GCM(content) and `name_sealed` the same for the file's name (a name is
content: "Q3 margin call - client X.pdf"); both are bound to the document's id by their AAD.
The type, size and scan verdict are metadata and stay readable after the data key is destroyed,
as does the digest the audit entry committed to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class Document(Base):
    __tablename__ = "document"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # DOC-XXXXXXXX, said in chat
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    data_key_id: Mapped[str] = mapped_column(ForeignKey("data_key.id"), index=True)
    body: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    name_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    doc_type: Mapped[str] = mapped_column(String(16))  # sniff.TYPES key: pdf, png, ...
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)  # plaintext bytes
    body_sha256: Mapped[str] = mapped_column(String(64))  # of nonce||ciphertext, as audited
    scan_engine: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
