"""Who a client report is about, and every audit subject that belongs to her.

`--client` / `?client=` name a client by username (the 32-hex user id is accepted too); an
unknown name is an error, never an empty report. Her report covers her conversations and orders
(`holds.scopes_for`) and, beyond them, the rows about those orders and conversations that are
audited under their own subjects: control decisions, holds, quotes, requests for quote, alerts
and compliance reviews (cases), execution exceptions, settlements, legal holds on her, and her
logins, step-ups, SMS and authenticator challenges, sessions and tokens. A case's report
(`case_subjects`) is the case, its alert and its conversation with the conversation's orders.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from dealchat.controls.models import ControlDecision, Hold
from dealchat.conversations.holds import scopes_for
from dealchat.execution.models import ExecutionException, Settlement
from dealchat.identity.models import (
    FederatedIdentity,
    SmsChallenge,
    StepUpProof,
    TotpEnrolment,
    User,
)
from dealchat.identity.session_models import ApiToken, AuthSession
from dealchat.orders.models import Quote
from dealchat.pricing.rfq_models import Rfq
from dealchat.records.retention_models import LegalHold
from dealchat.surveillance.models import Alert
from dealchat.surveillance.review_models import Review


class NotFoundError(LookupError):
    """A report or search names something that does not exist."""


class UnknownPersonError(NotFoundError):
    """A client or user name that names nobody."""


class UnknownCaseError(NotFoundError):
    """A case reference that names no review."""


def case_subjects(session: Session, case: str) -> set[str]:
    """The subjects a case's report covers: the review, its alert, its conversation (and the
    orders placed in it)."""
    review = session.scalar(select(Review).where(Review.ref == case)) or session.get(Review, case)
    if review is None:
        raise UnknownCaseError(f"no case is called {case!r}")
    found = {f"review:{review.id}"}
    if review.alert_id:
        found.add(f"alert:{review.alert_id}")
    if review.conversation_id:
        found |= scopes_for(session, kind="conversation", target=review.conversation_id)
    return found


def resolve_user(session: Session, name: str) -> User:
    """The user a report, hold or search names: by username, or by user id."""
    wanted = name.strip()
    user = session.scalar(select(User).where(User.username == wanted))
    if user is None and wanted:
        user = session.get(User, wanted)
    if user is None:
        raise UnknownPersonError(f"no user is called {wanted!r}")
    return user


def _ids(
    session: Session, column: InstrumentedAttribute[str], *where: ColumnElement[bool]
) -> set[str]:
    return set(session.scalars(select(column).where(*where)))


def _of(kind: str, ids: Iterable[str]) -> set[str]:
    return {f"{kind}:{row_id}" for row_id in ids}


def related_subjects(session: Session, *, user_id: str, scopes: set[str]) -> set[str]:
    """The subjects beyond her conversations and orders (`scopes`) that are about her."""
    orders = {scope.split(":", 1)[1] for scope in scopes if scope.startswith("order:")}
    conversations = {s.split(":", 1)[1] for s in scopes if s.startswith("conversation:")}
    found = _of("quote", _ids(session, Quote.id, Quote.client_id == user_id))
    found |= _of("rfq", _ids(session, Rfq.id, Rfq.client_id == user_id))  # requests for quote
    if orders:
        found |= _of(
            "control_decision",
            _ids(session, ControlDecision.id, ControlDecision.order_id.in_(orders)),
        )
        found |= _of("hold", _ids(session, Hold.id, Hold.order_id.in_(orders)))
        found |= _of(
            "execution-exception",
            _ids(session, ExecutionException.id, ExecutionException.order_id.in_(orders)),
        )
        found |= _of("settlement", _ids(session, Settlement.id, Settlement.order_id.in_(orders)))
    alerts = [Alert.party_id == user_id]
    if orders:
        alerts.append(Alert.order_id.in_(orders))
    if conversations:
        alerts.append(Alert.conversation_id.in_(conversations))
    alert_ids = _ids(session, Alert.id, or_(*alerts))
    found |= _of("alert", alert_ids)
    cases = [Review.party_id == user_id]
    if conversations:
        cases.append(Review.conversation_id.in_(conversations))
    if alert_ids:
        cases.append(Review.alert_id.in_(alert_ids))
    found |= _of("review", _ids(session, Review.id, or_(*cases)))
    found |= _legal_holds(session, user_id=user_id, orders=orders, conversations=conversations)
    return found | _own_security(session, user_id)


def _legal_holds(
    session: Session, *, user_id: str, orders: set[str], conversations: set[str]
) -> set[str]:
    targets = {user_id} | orders | conversations
    return _of("legalhold", _ids(session, LegalHold.id, LegalHold.target.in_(targets)))


def _own_security(session: Session, user_id: str) -> set[str]:
    """Her sessions, tokens, step-up proofs, SMS challenges, enrolments, federated logins."""
    found = _of("session", _ids(session, AuthSession.id, AuthSession.user_id == user_id))
    found |= _of("token", _ids(session, ApiToken.id, ApiToken.user_id == user_id))
    found |= _of("stepup", _ids(session, StepUpProof.id, StepUpProof.user_id == user_id))
    found |= _of("sms-challenge", _ids(session, SmsChallenge.id, SmsChallenge.user_id == user_id))
    found |= _of(
        "totp-enrolment", _ids(session, TotpEnrolment.id, TotpEnrolment.user_id == user_id)
    )
    return found | _of(
        "federated-identity",
        _ids(session, FederatedIdentity.id, FederatedIdentity.user_id == user_id),
    )
