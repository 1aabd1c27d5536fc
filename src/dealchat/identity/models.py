"""Users, the chat identities linked to them, secure links and level-2 step-up proofs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # How the desk signs a bank user's messages to clients ("Dan Lee"); the username when unset.
    display_name: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # internal | external
    password_hash: Mapped[str] = mapped_column(String(255))
    totp_secret_sealed: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # Attributes that authorisation conditions and pre-trade controls read (ABAC): the desk and
    # region an internal user works for or a client is served by, the client book, and for a
    # client its relationship manager (an internal user, who may never approve its held orders).
    desk: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(32))
    client_book: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    # Lockout (identity/lockout.py): consecutive failures, the delay they earned, the hard lock.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    delayed_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    locked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    sms_phone: Mapped[str | None] = mapped_column(String(32))  # E.164, for the SMS factor

    @property
    def shown_name(self) -> str:
        """How clients and the desk see a bank user: the display name, else the username."""
        return self.display_name or self.username

    def attributes(self) -> dict[str, str]:
        """The attributes that are set, as a resource for `access.can` conditions."""
        named = {
            "desk": self.desk,
            "region": self.region,
            "client_book": self.client_book,
            "rm": self.owner_id,
        }
        return {name: value for name, value in named.items() if value is not None}


class ChatIdentity(Base):
    """A sender on a channel, linked to a user, with its chat session's times.

    Ending the chat session (a new password or authenticator) sets `ended_at` and keeps the row:
    the handle stays the user's for holds, reports and transcripts until `dealchat retention run`
    deletes it (conversations/erasure.py); linking again clears `ended_at`."""

    __tablename__ = "chat_identity"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    authenticated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_active_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SecureLink(Base):
    """A single-use, short-lived link to the bank's own login page, bound to one chat identity."""

    __tablename__ = "secure_link"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(16))  # link | stepup
    ticket_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str | None] = mapped_column(String(8))  # of the chat that asked: its pages'


class StepUpProof(Base):
    """Two factors shown for one ticket: single use, short-lived, bound to the ticket's hash."""

    __tablename__ = "stepup_proof"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), index=True)
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class LoginSource(Base):
    """Failed logins from one source (an IPv4 address or an IPv6 /64), to slow password spraying."""

    __tablename__ = "login_source"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    delayed_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class TotpEnrolment(Base):
    """A new authenticator waiting for its first valid code (5 tries), its secret sealed."""

    __tablename__ = "totp_enrolment"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    secret_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SmsChallenge(Base):
    """A 6-digit code sent by SMS: single use, 5 minutes, 5 tries, limited resends; sealed."""

    __tablename__ = "sms_challenge"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    sends: Mapped[int] = mapped_column(Integer, default=1)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class TrustedNetwork(Base):
    """A CIDR range (IPv4 or IPv6) where internal users may log in without the second factor."""

    __tablename__ = "trusted_network"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    cidr: Mapped[str] = mapped_column(String(43), unique=True)
    label: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))


class FederatedIdentity(Base):
    """An internal user's account at the bank's OpenID provider, keyed by (issuer, subject)."""

    __tablename__ = "federated_identity"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class OidcLogin(Base):
    """One authorization request in flight: its state (hashed), nonce and PKCE verifier (sealed)."""

    __tablename__ = "oidc_login"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    verifier_sealed: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SamlLogin(Base):
    """One SAML AuthnRequest in flight: its ID (the InResponseTo we accept), the RelayState
    (hashed) that brings the browser back to it, single use."""

    __tablename__ = "saml_login"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    relay_state_hash: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str] = mapped_column(String(100))
    idp: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class SamlAssertion(Base):
    """An accepted assertion's ID (hashed with its issuer): a second use is a replay. Kept until
    the assertion's NotOnOrAfter (plus the skew) has passed, when it is refused as expired."""

    __tablename__ = "saml_assertion"

    assertion_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    idp: Mapped[str] = mapped_column(String(255))
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class SamlSession(Base):
    """The IdP session a console session came from (NameID sealed, SessionIndex), for single
    logout: ours sends a LogoutRequest with them, the IdP's finds sessions by `subject_hash`."""

    __tablename__ = "saml_session"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    auth_session_id: Mapped[str] = mapped_column(ID, index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    idp: Mapped[str] = mapped_column(String(255))
    subject_hash: Mapped[str] = mapped_column(String(64), index=True)
    name_id_sealed: Mapped[str] = mapped_column(String(600))
    session_index: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DirectoryAccount(Base):
    """An internal user synchronised from the directory, by the entry's lasting id."""

    __tablename__ = "directory_account"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    directory_id: Mapped[str] = mapped_column(String(255), unique=True)
    dn: Mapped[str] = mapped_column(String(1000))
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    synced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DirectoryState(Base):
    """Where the last sync got to: the highest change mark it read (uSNChanged on AD)."""

    __tablename__ = "directory_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    high_water: Mapped[str | None] = mapped_column(String(64))
    last_full_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_run_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DirectoryMapping(Base):
    """A version of the directory's group-to-role mapping: proposed by one administrator, in force
    only once a second one approves it (like rule set versions)."""

    __tablename__ = "directory_mapping"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    body: Mapped[str] = mapped_column(Text)  # canonical JSON: {"group DN": "role", ...}
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)  # proposed|active|retired|refused
    proposed_by: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    comment: Mapped[str] = mapped_column(String(500))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class FactorReset(Base):
    """A second factor reset: asked by one administrator, done only once a second one approves
    (four eyes, like a directory mapping or a rule set version); never by the one who asked."""

    __tablename__ = "factor_reset"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    factor: Mapped[str] = mapped_column(String(16))  # totp | sms
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), index=True)  # requested|approved|refused
    requested_by: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
