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
    AUTHN_SUCCEEDED = "authn:succeeded"
    AUTHN_FAILED = "authn:failed"
    USER_PASSWORD_CHANGED = "user:password_changed"  # noqa: S105 - an event name, not a secret
    USER_UNLOCKED = "user:unlocked"
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
    # Access (4b): roles, grants, assignments, sessions, API tokens and authorisation decisions
    ROLE_CREATED = "role:created"
    ROLE_DELETED = "role:deleted"
    GRANT_ADDED = "grant:added"
    GRANT_REMOVED = "grant:removed"
    ROLE_ASSIGNED = "role:assigned"
    ROLE_UNASSIGNED = "role:unassigned"
    SESSION_STARTED = "session:started"
    SESSION_ROTATED = "session:rotated"
    SESSION_ENDED = "session:ended"
    SESSIONS_REVOKED = "session:revoked_all"
    TOKEN_ISSUED = "token:issued"  # noqa: S105 - an event name, not a secret
    TOKEN_REVOKED = "token:revoked"  # noqa: S105 - an event name, not a secret
    ACCESS_ALLOWED = "access:allowed"
    ACCESS_DENIED = "access:denied"
    DELIVERY_SUCCEEDED = "delivery:succeeded"
    DELIVERY_FAILED = "delivery:failed"
    DELIVERY_DEAD_LETTERED = "delivery:dead_lettered"
