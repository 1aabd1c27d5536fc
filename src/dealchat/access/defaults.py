"""The roles a new installation starts with (`dealchat roles seed`, the demo). Pure data.

Administrators change them afterwards like any other role. `admin` holds every right: nobody grants
a right they do not hold, so the one who builds the other roles must hold what they carry.
Separation of duties on orders (four eyes, never one's own client's order) is enforced by controls.
"""

from __future__ import annotations

from dealchat.access.rights import Right

DEFAULT_ROLES: dict[str, tuple[str, frozenset[Right]]] = {
    "admin": ("security administration: every right, to build and assign roles", frozenset(Right)),
    "dealer": (
        "the desk: conversations, orders, documents",
        frozenset(
            {
                Right.CONVERSATION_READ,
                Right.CONVERSATION_REPLY,
                Right.CONVERSATION_TAKEOVER,
                Right.ORDER_READ,
                Right.ORDER_APPROVE,
                Right.ORDER_CANCEL,
                Right.QUOTE_PRICE,
                Right.DOCUMENT_UPLOAD,
                Right.DOCUMENT_DOWNLOAD,
            }
        ),
    ),
    "rm": (
        "a relationship manager: the conversations and orders of their own clients only",
        frozenset(
            {
                Right.CONVERSATION_READ,
                Right.CONVERSATION_REPLY,
                Right.CONVERSATION_TAKEOVER,
                Right.ORDER_READ,
                Right.DOCUMENT_DOWNLOAD,
            }
        ),
    ),
    "compliance": (
        "compliance: surveillance, records, reports, the access log, rule approval",
        frozenset(
            {
                Right.CONVERSATION_READ,
                Right.ORDER_READ,
                Right.ALERT_READ,
                Right.ALERT_REVIEW,
                Right.ALERT_ASSIGN,
                Right.AUDIT_READ,
                Right.AUDIT_EXPORT,
                Right.ACCESS_LOG_READ,
                Right.RETENTION_MANAGE,
                Right.LEGAL_HOLD_MANAGE,
                Right.RULE_APPROVE,
                Right.DOCUMENT_DOWNLOAD,
            }
        ),
    ),
    "controls": (
        "risk: proposes rule, limit and lexicon changes (someone else approves)",
        frozenset({Right.RULE_EDIT, Right.LIMIT_EDIT, Right.LEXICON_EDIT, Right.ORDER_READ}),
    ),
    "client": ("a client of the bank", frozenset({Right.DOCUMENT_UPLOAD})),
}

# Roles whose default grants carry conditions: a relationship manager's reach only their own
# clients (the client's `rm` attribute is the acting user).
DEFAULT_CONDITIONS: dict[str, dict[str, list[str]]] = {"rm": {"rm": ["self"]}}
