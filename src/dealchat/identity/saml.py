"""SAML 2.0 service provider for internal users (pysaml2, with Debian's xmlsec1 for signatures).

SP-initiated web SSO: `begin` sends an AuthnRequest (HTTP-Redirect, signed) and stores its ID with
a random RelayState (hashed, single use, `login_ttl_seconds`); `complete` takes the IdP's
HTTP-POST Response. pysaml2 verifies the XML signatures against the IdP's certificate from its
metadata and the conditions; on top of that every check is made here again, explicitly, so none
depends on a library default: the assertion itself is signed, issued by the configured IdP, its
audience is our entity id, the Response's Destination and the bearer confirmation's Recipient are
our ACS URL, InResponseTo is the request this RelayState started, NotBefore/NotOnOrAfter hold
within `skew_seconds`, and its ID was never seen before (`saml_assertion`, a unique key in the
database: a replay is refused by every worker, also after a restart). A refusal is a
`FederationError` whose rule goes to the audit log only.

The SP's key (RSA 3072, `<keys>/saml/sp.key`, 0600 in a 0700 folder) and self-signed certificate
(`sp.crt`, in our metadata) are made on first run.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import secrets
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.response import AuthnResponse, StatusError, UnsolicitedResponse
from saml2.s_utils import UnknownPrincipal, UnsupportedBinding
from saml2.samlp import STATUS_SUCCESS
from saml2.sigver import SignatureError
from saml2.validate import ResponseLifetimeExceed, ToEarly
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealchat.identity.federation import FederationError, account_for_subject
from dealchat.identity.models import SamlAssertion, SamlLogin, SamlSession, User
from dealchat.records.events import AuditEvent
from dealchat.records.service import record_new
from dealchat.settings import SamlSettings

METADATA_PATH = "/auth/saml/metadata"
ACS_PATH = "/auth/saml/acs"
SLO_PATH = "/auth/saml/slo"
LOGIN_PATH = "/auth/saml/login"
_CERT_YEARS = 10
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _write_private(path: Path, data: bytes) -> bool:
    """Create `path` 0600 with `data`; False when it already exists (another worker made it)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def sp_keys(keys_dir: Path, entity_id: str) -> tuple[Path, Path]:
    """The SP's key and certificate files, made on first use (key 0600, folder 0700)."""
    folder = keys_dir / "saml"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    key_file, cert_file = folder / "sp.key", folder / "sp.crt"
    if not key_file.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if _write_private(key_file, pem):
            name = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dealchat"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "dealchat SAML SP"),
                ]
            )
            now = dt.datetime.now(dt.UTC)
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=365 * _CERT_YEARS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .sign(key, hashes.SHA256())
            )
            partial = cert_file.with_suffix(".tmp")
            partial.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            partial.replace(cert_file)
    if key_file.stat().st_mode & 0o077:
        raise PermissionError(f"key file {key_file} must not be readable by others")
    if not cert_file.exists():
        raise FileNotFoundError(f"{cert_file} is missing: remove {key_file} to make a new pair")
    return key_file, cert_file


class ServiceProvider:
    """pysaml2's SP configuration, built once per app; a fresh `Saml2Client` per message (its
    caches live in memory, and nothing here may depend on one worker's memory)."""

    def __init__(self, settings: SamlSettings, *, public_url: str, keys_dir: Path) -> None:
        self.settings = settings
        self.entity_id = f"{public_url}{METADATA_PATH}"
        self.acs_url = f"{public_url}{ACS_PATH}"
        self.slo_url = f"{public_url}{SLO_PATH}"
        self.key_file, self.cert_file = sp_keys(keys_dir, self.entity_id)
        self._config: SPConfig | None = None

    def _dict(self, *, with_idp: bool) -> dict[str, Any]:
        metadata = {}
        if with_idp:
            if self.settings.idp_metadata_file is None:
                raise ValueError("set DEALCHAT_SAML__IDP_METADATA_FILE")
            metadata = {"local": [str(self.settings.idp_metadata_file)]}
        return {
            "entityid": self.entity_id,
            "xmlsec_binary": str(self.settings.xmlsec_binary),
            "key_file": str(self.key_file),
            "cert_file": str(self.cert_file),
            "metadata": metadata,
            "accepted_time_diff": self.settings.skew_seconds,
            "allow_unknown_attributes": True,
            "signing_algorithm": self.settings.signing_algorithm,
            "digest_algorithm": _SHA256,
            "service": {
                "sp": {
                    "name": "dealchat console",
                    "endpoints": {
                        "assertion_consumer_service": [(self.acs_url, BINDING_HTTP_POST)],
                        "single_logout_service": [(self.slo_url, BINDING_HTTP_REDIRECT)],
                    },
                    "allow_unsolicited": False,
                    "authn_requests_signed": True,
                    "logout_requests_signed": True,
                    "logout_responses_signed": True,
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "only_use_keys_in_metadata": True,
                },
            },
        }

    def config(self) -> SPConfig:
        if self._config is None:
            config = SPConfig()
            config.load(self._dict(with_idp=True))
            self._config = config
        return self._config

    def client(self) -> Saml2Client:
        return Saml2Client(config=self.config())

    def metadata_xml(self) -> str:
        """Our metadata (entity id, ACS, SLO, signing certificate): needs no IdP metadata."""
        config = SPConfig()
        config.load(self._dict(with_idp=False))
        xml: bytes = create_metadata_string(None, config=config, valid=None, sign=False)
        return xml.decode("utf-8")

    def idp_entity_id(self) -> str:
        if self.settings.idp_entity_id:
            return self.settings.idp_entity_id
        known = list(self.config().metadata.identity_providers())
        if len(known) != 1:
            raise ValueError(
                "the IdP metadata names several IdPs: set DEALCHAT_SAML__IDP_ENTITY_ID"
            )
        return str(known[0])

    def idp_slo_url(self) -> str | None:
        found = self.config().metadata.single_logout_service(
            self.idp_entity_id(), BINDING_HTTP_REDIRECT, "idpsso"
        )
        return str(found[0]["location"]) if found else None


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def begin(session: Session, *, sp: ServiceProvider, now: dt.datetime) -> str:
    """A signed AuthnRequest by HTTP-Redirect; returns the IdP URL to send the browser to."""
    relay_state = secrets.token_urlsafe(32)
    idp = sp.idp_entity_id()
    request_id, info = sp.client().prepare_for_authenticate(
        entityid=idp,
        relay_state=relay_state,
        binding=BINDING_HTTP_REDIRECT,
        sign=True,
        sigalg=sp.settings.signing_algorithm,
    )
    row = SamlLogin(
        relay_state_hash=_hash(relay_state),
        request_id=str(request_id),
        idp=idp,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=sp.settings.login_ttl_seconds),
    )
    record_new(
        session,
        row,
        event=AuditEvent.FEDERATION_STARTED,
        actor="console:anonymous",
        kind="saml-login",
        payload={"issuer": idp, "request_id": row.request_id, "expires_at": row.expires_at},
    )
    return str(dict(info["headers"])["Location"])


@dataclass(frozen=True)
class Asserted:
    """What a verified assertion says: who, how they authenticated, and its session at the IdP."""

    user: User
    idp: str
    name_id: str
    session_index: str | None
    authn_context: str | None
    assertion_id: str


def _parse(sp: ServiceProvider, response: str, outstanding: dict[str, str]) -> AuthnResponse:
    try:
        parsed = sp.client().parse_authn_request_response(
            response, BINDING_HTTP_POST, outstanding=outstanding
        )
    except Exception as error:  # pysaml2 raises bare Exception and ValueError for conditions
        rule = _rule_of(error)
        _let_go(error)
        raise FederationError(rule) from None
    if parsed is None:  # pysaml2's answer for a wrong destination or an unverifiable signature
        raise FederationError("saml:destination-or-signature")
    return parsed


def _rule_of(error: Exception) -> str:
    if isinstance(error, UnsolicitedResponse):
        return "saml:in-response-to"
    if isinstance(error, SignatureError):
        return "saml:signature"
    if isinstance(error, StatusError):
        return f"saml:status:{type(error).__name__}"
    return f"saml:invalid:{_reason(error)}"


def _let_go(error: BaseException) -> None:
    """pysaml2 leaves the temporary files of a failed verification open in its frames: clear
    them now (closing the files) rather than leave them to the garbage collector's warnings."""
    seen: set[int] = set()
    found: BaseException | None = error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        while found is not None and id(found) not in seen:
            seen.add(id(found))
            if found.__traceback__ is not None:
                traceback.clear_frames(found.__traceback__)
            found = found.__cause__ or found.__context__


def _reason(error: Exception) -> str:
    if isinstance(error, ResponseLifetimeExceed | ToEarly):
        return "expired-or-not-yet-valid"
    text = str(error).lower()
    for word, rule in (
        ("audience", "audience"),
        ("recipient", "recipient"),
        ("condition not ok", "conditions"),
        ("signature", "signature"),
    ):
        if word in text:
            return rule
    return type(error).__name__


def _instant(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _check(parsed: AuthnResponse, *, sp: ServiceProvider, row: SamlLogin, now: dt.datetime) -> Any:
    """Our own checks of the Response and its one assertion, each naming its rule."""
    message = parsed.response
    if message.status is None or message.status.status_code.value != STATUS_SUCCESS:
        raise FederationError("saml:status")
    if message.destination != sp.acs_url:
        raise FederationError("saml:destination")
    if message.in_response_to != row.request_id:
        raise FederationError("saml:in-response-to")
    if len(message.assertion) != 1 or message.encrypted_assertion:
        raise FederationError("saml:assertion-count")
    assertion = parsed.assertion
    if assertion is None or assertion.signature is None:
        raise FederationError("saml:assertion-unsigned")
    if assertion.issuer is None or assertion.issuer.text != row.idp:
        raise FederationError("saml:issuer")
    _check_conditions(assertion, sp=sp, row=row, now=now)
    return assertion


def _check_conditions(
    assertion: Any, *, sp: ServiceProvider, row: SamlLogin, now: dt.datetime
) -> None:
    skew = dt.timedelta(seconds=sp.settings.skew_seconds)
    conditions = assertion.conditions
    if conditions is None:
        raise FederationError("saml:conditions")
    audiences = [
        audience.text
        for restriction in conditions.audience_restriction
        for audience in restriction.audience
    ]
    if not conditions.audience_restriction or sp.entity_id not in audiences:
        raise FederationError("saml:audience")
    not_before, not_after = _instant(conditions.not_before), _instant(conditions.not_on_or_after)
    if not_after is None or not_after <= now - skew or (not_before and not_before > now + skew):
        raise FederationError("saml:expired-or-not-yet-valid")
    bearer = [
        confirmation.subject_confirmation_data
        for confirmation in assertion.subject.subject_confirmation
        if confirmation.method == _BEARER and confirmation.subject_confirmation_data is not None
    ]
    if not bearer:
        raise FederationError("saml:no-bearer-confirmation")
    for data in bearer:
        if data.recipient != sp.acs_url:
            raise FederationError("saml:recipient")
        if data.in_response_to != row.request_id:
            raise FederationError("saml:in-response-to")
        until = _instant(data.not_on_or_after)
        if until is None or until <= now - skew:
            raise FederationError("saml:expired-or-not-yet-valid")


def _spend_login(session: Session, relay_state: str, now: dt.datetime) -> SamlLogin:
    row = session.scalar(select(SamlLogin).where(SamlLogin.relay_state_hash == _hash(relay_state)))
    if row is None or row.expires_at <= now:
        raise FederationError("saml:relay-state-unknown-or-expired")
    return row


def _remember_assertion(
    session: Session, *, assertion_id: str, idp: str, until: dt.datetime, now: dt.datetime
) -> None:
    """The assertion's ID, kept until it could no longer be accepted anyway; a second use of
    the same ID, by any worker, fails on the unique key."""
    try:
        with session.begin_nested():
            session.add(
                SamlAssertion(
                    assertion_hash=_hash(f"{idp}\n{assertion_id}"),
                    idp=idp,
                    seen_at=now,
                    expires_at=until,
                )
            )
    except IntegrityError as error:
        raise FederationError("saml:assertion-replayed") from error


def complete(
    session: Session, *, sp: ServiceProvider, response: str, relay_state: str, now: dt.datetime
) -> Asserted:
    """The IdP's POSTed Response: every check, then the user it names."""
    row = _spend_login(session, relay_state, now)
    parsed = _parse(sp, response, {row.request_id: "/console/"})
    assertion = _check(parsed, sp=sp, row=row, now=now)
    skew = dt.timedelta(seconds=sp.settings.skew_seconds)
    until = _instant(assertion.conditions.not_on_or_after) or now
    _remember_assertion(
        session, assertion_id=str(assertion.id), idp=row.idp, until=until + skew, now=now
    )
    spent = session.execute(
        update(SamlLogin)
        .where(SamlLogin.id == row.id, SamlLogin.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:  # type: ignore[attr-defined]
        raise FederationError("saml:relay-state-used")
    name_id = assertion.subject.name_id
    if name_id is None or not (name_id.text or "").strip():
        raise FederationError("saml:no-name-id")
    subject = name_id.text.strip()
    if sp.settings.subject_attribute:
        values = (parsed.ava or {}).get(sp.settings.subject_attribute) or []
        if len(values) != 1:
            raise FederationError("saml:subject-attribute")
        subject = str(values[0]).strip()
    user = account_for_subject(
        session, issuer=row.idp, subject=subject, by=sp.settings.match, now=now
    )
    statements = assertion.authn_statement
    context = None
    if statements and statements[0].authn_context is not None:
        ref = statements[0].authn_context.authn_context_class_ref
        context = ref.text.strip() if ref is not None and ref.text else None
    return Asserted(
        user=user,
        idp=row.idp,
        name_id=name_id.text.strip(),
        session_index=statements[0].session_index if statements else None,
        authn_context=context,
        assertion_id=str(assertion.id),
    )


# ---- single logout ---------------------------------------------------------------------------


def remember_session(
    session: Session,
    *,
    asserted: Asserted,
    auth_session_id: str,
    sealed_name_id: str,
    expires_at: dt.datetime,
) -> None:
    """Which IdP session a console session came from, for single logout in either direction."""
    session.add(
        SamlSession(
            auth_session_id=auth_session_id,
            user_id=asserted.user.id,
            idp=asserted.idp,
            subject_hash=_hash(f"{asserted.idp}\n{asserted.name_id}"),
            name_id_sealed=sealed_name_id,
            session_index=asserted.session_index,
            expires_at=expires_at,
        )
    )
    session.flush()


def logout_request_url(
    sp: ServiceProvider, *, name_id: str, session_index: str | None, relay_state: str
) -> str | None:
    """A signed LogoutRequest to the IdP by HTTP-Redirect; None when it has no SLO endpoint."""
    destination = sp.idp_slo_url()
    if destination is None:
        return None
    client = sp.client()
    _, request = client.create_logout_request(
        destination,
        sp.idp_entity_id(),
        name_id=saml.NameID(text=name_id),
        session_indexes=[session_index] if session_index else None,
        sign=False,  # the HTTP-Redirect binding signs the query string instead
    )
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(request),
        destination,
        relay_state,
        sign=True,
        sigalg=sp.settings.signing_algorithm,
    )
    return str(dict(info["headers"])["Location"])


@dataclass(frozen=True)
class IdpLogout:
    """A LogoutRequest from the IdP: whose sessions to end, and where to send our answer."""

    subject_hash: str
    answer_url: str


def idp_logout(
    sp: ServiceProvider,
    *,
    request: str,
    relay_state: str | None,
    sigalg: str | None,
    signature: str | None,
) -> IdpLogout:
    """A signed LogoutRequest from the configured IdP, and our signed LogoutResponse to it."""
    if not (sigalg and signature):
        raise FederationError("saml:logout-unsigned")
    client = sp.client()
    try:
        parsed = client.parse_logout_request(
            request,
            BINDING_HTTP_REDIRECT,
            relay_state=relay_state,
            sigalg=sigalg,
            signature=signature,
        )
    except (SignatureError, UnknownPrincipal, UnsupportedBinding) as error:
        raise FederationError("saml:logout-signature") from error
    except Exception as error:
        raise FederationError(f"saml:logout-invalid:{type(error).__name__}") from error
    if parsed is None:
        raise FederationError("saml:logout-invalid")
    message = parsed.message
    idp = sp.idp_entity_id()
    if message.issuer is None or message.issuer.text != idp:
        raise FederationError("saml:logout-issuer")
    if message.destination != sp.slo_url:
        raise FederationError("saml:logout-destination")
    if message.name_id is None or not message.name_id.text:
        raise FederationError("saml:logout-no-name-id")
    answer = client.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
    destination = sp.idp_slo_url()
    if destination is None:
        raise FederationError("saml:logout-no-idp-endpoint")
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(answer),
        destination,
        relay_state or "",
        response=True,
        sign=True,
        sigalg=sp.settings.signing_algorithm,
    )
    return IdpLogout(
        subject_hash=_hash(f"{idp}\n{message.name_id.text.strip()}"),
        answer_url=str(dict(info["headers"])["Location"]),
    )


def logout_answered(sp: ServiceProvider, *, response: str) -> bool:
    """The IdP's LogoutResponse to ours: True when it is signed by it and says success."""
    try:
        parsed = sp.client().parse_logout_request_response(response, BINDING_HTTP_REDIRECT)
    except Exception:  # any failure: the local session is already ended
        return False
    if parsed is None:
        return False
    status = parsed.response.status
    return bool(status is not None and status.status_code.value == STATUS_SUCCESS)


def decoded(value: str) -> bytes:
    """A base64 form value, for size checks before pysaml2 reads it."""
    return base64.b64decode(value, validate=False)
