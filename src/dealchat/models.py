"""Every domain's tables, imported in one place so Base.metadata knows them all."""

from dealchat.access.counting import RateWindow
from dealchat.access.models import Role, RoleAssignment, RoleGrant
from dealchat.channels.outbox import OutboxItem
from dealchat.channels.replays import SeenProof
from dealchat.controls.models import (
    ControlDecision,
    Hold,
    HoldStep,
    LimitRow,
    Reservation,
    RuleSetVersion,
)
from dealchat.conversations.models import Conversation, Handling, Message, ReadMark
from dealchat.documents.models import Document
from dealchat.execution.models import (
    ExecutionException,
    FixMessage,
    FixOutbound,
    FixSessionState,
    OrderFill,
    Settlement,
)
from dealchat.identity.models import (
    ChatIdentity,
    FederatedIdentity,
    LoginSource,
    OidcLogin,
    SecureLink,
    SmsChallenge,
    StepUpProof,
    TotpEnrolment,
    TrustedNetwork,
    User,
)
from dealchat.identity.session_models import ApiToken, AuthSession
from dealchat.orders.models import Order, Quote
from dealchat.pricing.rfq_models import Rfq
from dealchat.recon.models import ReconBreak, ReconLine, ReconStatement
from dealchat.records.envelope_models import DataKey
from dealchat.records.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    AuditNode,
    AuditQueue,
    AuditStream,
)
from dealchat.records.reports_models import ReportLink
from dealchat.records.retention_models import LegalHold
from dealchat.surveillance.models import Alert, LexiconVersion
from dealchat.surveillance.review_models import Review

__all__ = [
    "Alert",
    "ApiToken",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditHead",
    "AuditNode",
    "AuditQueue",
    "AuditStream",
    "AuthSession",
    "ChatIdentity",
    "ControlDecision",
    "Conversation",
    "DataKey",
    "Document",
    "ExecutionException",
    "FederatedIdentity",
    "FixMessage",
    "FixOutbound",
    "FixSessionState",
    "Handling",
    "Hold",
    "HoldStep",
    "LegalHold",
    "LexiconVersion",
    "LimitRow",
    "LoginSource",
    "Message",
    "OidcLogin",
    "Order",
    "OrderFill",
    "OutboxItem",
    "Quote",
    "RateWindow",
    "ReadMark",
    "ReconBreak",
    "ReconLine",
    "ReconStatement",
    "ReportLink",
    "Reservation",
    "Review",
    "Rfq",
    "Role",
    "RoleAssignment",
    "RoleGrant",
    "RuleSetVersion",
    "SecureLink",
    "SeenProof",
    "Settlement",
    "SmsChallenge",
    "StepUpProof",
    "TotpEnrolment",
    "TrustedNetwork",
    "User",
]
