"""The catalogue of rights: granular, named `subject:action` permissions. Never rename or reuse one.

Administrators build roles from these; code asks `can(actor, Right.X, resource)`. A right that is
not in this catalogue does not exist, so a typo can never grant anything.
"""

from __future__ import annotations

from enum import StrEnum


class Right(StrEnum):
    # The desk: conversations and orders
    CONVERSATION_READ = "conversation:read"
    CONVERSATION_REPLY = "conversation:reply"
    CONVERSATION_TAKEOVER = "conversation:takeover"
    ORDER_READ = "order:read"
    ORDER_APPROVE = "order:approve"
    ORDER_CANCEL = "order:cancel"
    QUOTE_PRICE = "quote:price"  # a dealer prices a request for quote (console /console/rfqs)
    # Compliance: surveillance, records, reports
    ALERT_READ = "alert:read"
    ALERT_REVIEW = "alert:review"
    ALERT_ASSIGN = "alert:assign"
    AUDIT_READ = "audit:read"
    AUDIT_EXPORT = "audit:export"
    ACCESS_LOG_READ = "access_log:read"
    RETENTION_MANAGE = "retention:manage"
    LEGAL_HOLD_MANAGE = "legal_hold:manage"
    # Controls and surveillance rules (a change needs a second person's approval)
    RULE_EDIT = "rule:edit"
    RULE_APPROVE = "rule:approve"
    LIMIT_EDIT = "limit:edit"
    LEXICON_EDIT = "lexicon:edit"
    # Documents
    DOCUMENT_UPLOAD = "document:upload"
    DOCUMENT_DOWNLOAD = "document:download"
    DOCUMENT_DELETE = "document:delete"
    # Administration
    USER_MANAGE = "user:manage"
    ROLE_MANAGE = "role:manage"
    NETWORK_MANAGE = "network:manage"
    CHANNEL_MANAGE = "channel:manage"
    KEY_MANAGE = "key:manage"


# The only rights an external user (a client) may ever hold, whatever a role says.
CLIENT_RIGHTS: frozenset[Right] = frozenset({Right.DOCUMENT_UPLOAD})
