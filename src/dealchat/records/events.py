"""Audit event types: stable `subject:action` codes. Never rename or reuse one."""

from __future__ import annotations

from enum import StrEnum


class AuditEvent(StrEnum):
    MESSAGE_RECEIVED = "message:received"
    MESSAGE_SENT = "message:sent"
    LINK_ISSUED = "link:issued"
    LINK_COMPLETED = "link:completed"
    LINK_FAILED = "link:failed"
    IDENTITY_LINKED = "identity:linked"
    STEPUP_GRANTED = "stepup:granted"
    STEPUP_USED = "stepup:used"
    USER_CREATED = "user:created"
    LOGIN_FAILED = "login:failed"
    QUOTE_GIVEN = "quote:given"
    TICKET_CREATED = "ticket:created"
    TICKET_CANCELLED = "ticket:cancelled"
    ORDER_PLACED = "order:placed"
    ORDER_FILLED = "order:filled"
    ORDER_REJECTED = "order:rejected"
    DATAKEY_CREATED = "datakey:created"
    CONTENT_ERASED = "content:erased"
    KEK_ROTATED = "kek:rotated"
    LEGALHOLD_SET = "legalhold:set"
    LEGALHOLD_LIFTED = "legalhold:lifted"
    RETENTION_RUN = "retention:run"
    RECEIPT_ISSUED = "receipt:issued"
    REPORT_EXPORTED = "report:exported"
