"""Settings from `DEALCHAT_*` environment variables (nested sections with `__`).

Secrets are never settings values: keys live in files under `data_dir/keys`, generated on first
run with 0600 permissions.
"""

from __future__ import annotations

import ipaddress
import re
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dealchat.channels.config import ChannelsSettings
from dealchat.documents.clamav import parse_address
from dealchat.documents.sniff import DEFAULT_ALLOWED, TYPES
from dealchat.nlu.parser import Parser
from dealchat.nlu.tables import DEFAULT_COUNTERPARTIES, DEFAULT_COUNTERPARTY_NAMES
from dealchat.pricing.dealer import DealerPolicy
from dealchat.pricing.forwards import Curve

_PLACEHOLDERS = ("changeme", "change-me", "example", "placeholder", "xxx", "todo")


class NluSettings(BaseModel):
    """The chat order language. `DEALCHAT_NLU__COUNTERPARTIES='["360T","GS"]'` replaces the LPs."""

    counterparties: list[str] = Field(default_factory=lambda: sorted(DEFAULT_COUNTERPARTIES))
    # Names clients write for them (`via goldman`): name -> code, for codes in `counterparties`.
    # `DEALCHAT_NLU__COUNTERPARTY_NAMES='{"bnp paribas": "BNP"}'` replaces the defaults.
    counterparty_names: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_COUNTERPARTY_NAMES)
    )

    @field_validator("counterparty_names")
    @classmethod
    def _names(cls, names: dict[str, str]) -> dict[str, str]:
        cleaned = {
            " ".join(name.lower().split()): code.strip().upper() for name, code in names.items()
        }
        for name in cleaned:
            if not name or len(name) > 40:
                raise ValueError(f"counterparty name {name!r} must be 1-40 characters")
        return cleaned

    def parser(self) -> Parser:
        """The chat order parser with these liquidity providers."""
        return Parser(frozenset(self.counterparties), dict(self.counterparty_names))

    @field_validator("counterparties")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        cleaned = [code.strip().upper() for code in codes]
        for code in cleaned:
            if not code.isalnum() or not 1 < len(code) <= 12:
                raise ValueError(f"counterparty code {code!r} must be 2-12 letters or digits")
        return cleaned


def _demo_rates() -> dict[str, dict[str, Decimal]]:
    """Indicative deposit rates for the demo's currencies (percent a year); a bank sets its own."""
    flat = {
        "AUD": "3.60", "NZD": "3.00", "CAD": "2.50", "CHF": "0.00", "NOK": "4.00",
        "SEK": "1.90", "DKK": "1.85", "CNH": "1.60", "CNY": "1.50", "HKD": "3.40",
        "SGD": "1.80", "MXN": "7.25", "TRY": "38.00", "ZAR": "7.00", "PLN": "4.25",
        "KRW": "2.50", "INR": "5.50", "TWD": "2.00", "XAU": "0.10", "XAG": "0.20",
    }  # fmt: skip
    curves = {
        "USD": {"ON": "3.90", "1M": "3.85", "3M": "3.75", "6M": "3.60", "1Y": "3.40", "2Y": "3.30"},
        "EUR": {"ON": "1.90", "1M": "1.92", "3M": "1.95", "6M": "2.00", "1Y": "2.05", "2Y": "2.15"},
        "GBP": {"ON": "3.70", "1M": "3.65", "3M": "3.55", "6M": "3.45", "1Y": "3.35", "2Y": "3.30"},
        "JPY": {"ON": "0.73", "1M": "0.75", "3M": "0.80", "6M": "0.85", "1Y": "0.95", "2Y": "1.10"},
    }  # fmt: skip
    table = {currency: {"1Y": rate} for currency, rate in flat.items()} | curves
    return {c: {t: Decimal(r) for t, r in curve.items()} for c, curve in table.items()}


class PricingSettings(BaseModel):
    """The simulated price source and liquidity provider of the demo."""

    spread_bps: Decimal = Field(default=Decimal("2"), gt=0, le=500)
    counterparty: str = "SIM"
    # Requests for quote (pricing.dealer): a dealer prices bonds, the instruments listed here
    # (pairs as `USD/TRY` or ISINs), sizes above `dealer_above` in the base currency and pairs
    # without a price source; unpriced after `rfq_wait_seconds` the client is told so.
    dealer_above: Decimal = Field(default=Decimal(10_000_000), gt=0)
    dealer_instruments: list[str] = Field(default_factory=list, max_length=500)
    dealer_bonds: bool = True
    rfq_wait_seconds: int = Field(default=300, ge=10, le=3600)
    # Deposit rates (percent a year) by currency and tenor, from which forward points are
    # computed (pricing.forwards): `DEALCHAT_PRICING__RATES='{"USD": {"1M": 4.3, "1Y": 4.0}}'`
    # replaces the whole table. A pair whose currency has no rates gets no forward price.
    rates: dict[str, dict[str, Decimal]] = Field(default_factory=_demo_rates, max_length=200)

    @field_validator("dealer_instruments")
    @classmethod
    def _instruments(cls, names: list[str]) -> list[str]:
        cleaned = [name.strip().upper() for name in names]
        for name in cleaned:
            if not re.fullmatch(r"[A-Z]{3}/[A-Z]{3}|[A-Z]{2}[A-Z0-9]{9}[0-9]", name):
                raise ValueError(f"dealer instrument {name!r}: a pair like USD/TRY or an ISIN")
        return cleaned

    @field_validator("rates")
    @classmethod
    def _rates(cls, table: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for currency, curve in table.items():
            if not re.fullmatch(r"[A-Z]{3}", currency):
                raise ValueError(f"rates for {currency!r}: a currency code like USD")
            if not curve or len(curve) > 40:
                raise ValueError(f"rates for {currency}: 1 to 40 tenors")
            for tenor, rate in curve.items():
                if not re.fullmatch(r"ON|[1-9][0-9]?[WMY]", tenor):
                    raise ValueError(f"rates for {currency}: tenor {tenor!r} is not ON or like 3M")
                if not Decimal(-10) <= rate <= Decimal(200):
                    raise ValueError(f"rates for {currency} {tenor}: {rate} is not a percent")
        return table

    def curves(self) -> dict[str, Curve]:
        return {currency: Curve.of(curve) for currency, curve in self.rates.items()}

    def dealer_policy(self) -> DealerPolicy:
        return DealerPolicy(
            above=self.dealer_above,
            instruments=frozenset(self.dealer_instruments),
            bonds=self.dealer_bonds,
        )


class FixProviderSettings(BaseModel):
    """One liquidity provider over FIX 4.4: where its acceptor is and who both ends are.
    `DEALCHAT_EXECUTION__PROVIDERS='[{"name": "360T", "host": "fix.360t.example", "port": 9876,
    "sender_comp_id": "BANKFX", "target_comp_id": "360T", "tls": true}]'`."""

    name: str = Field(pattern=r"^[A-Z0-9]{2,12}$")  # the counterparty code clients name
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    sender_comp_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    target_comp_id: str = Field(pattern=r"^[A-Za-z0-9._-]{1,32}$")
    heartbeat_seconds: int = Field(default=30, ge=1, le=300)
    reconnect_seconds: int = Field(default=5, ge=1, le=300)
    tls: bool = False
    ca_file: Path | None = None  # the CA that signs the provider's certificate (with tls)
    certificate_file: Path | None = None  # our client certificate, when the provider wants one
    key_file: Path | None = None
    # The FIX session's daily window (UTC, HH:MM:SS): outside it the engine logs out; the end of
    # day is when a session must have logged out cleanly.
    start_time: str = Field(default="00:00:00", pattern=r"^\d\d:\d\d:\d\d$")
    end_time: str = Field(default="00:00:00", pattern=r"^\d\d:\d\d:\d\d$")
    account: str | None = Field(default=None, max_length=32)  # tag 1 on every order, if set

    @model_validator(mode="after")
    def _tls_files(self) -> FixProviderSettings:
        if not self.tls and (self.certificate_file or self.key_file or self.ca_file):
            raise ValueError(f"{self.name}: certificate, key or CA files need tls=true")
        if (self.certificate_file is None) != (self.key_file is None):
            raise ValueError(f"{self.name}: a client certificate needs its key_file, and back")
        return self


class ExecutionSettings(BaseModel):
    """Where confirmed orders go: `simulated` (the demo's in-process liquidity provider, the
    default) or `fix` (FIX 4.4 sessions to `providers`; an order naming none of them goes to
    `default_provider`). `DEALCHAT_EXECUTION__VENUE=fix`."""

    venue: Literal["simulated", "fix"] = "simulated"
    providers: list[FixProviderSettings] = Field(default_factory=list, max_length=32)
    default_provider: str | None = None

    @model_validator(mode="after")
    def _providers(self) -> ExecutionSettings:
        names = [provider.name for provider in self.providers]
        if len(set(names)) != len(names):
            raise ValueError("two FIX providers with one name")
        if self.venue == "fix" and not self.providers:
            raise ValueError("venue fix needs at least one provider")
        if self.default_provider is not None and self.default_provider not in names:
            raise ValueError(f"default_provider {self.default_provider} is not a provider")
        return self

    def provider(self, name: str | None) -> FixProviderSettings:
        """The provider an order goes to: the one it names, else the default (else the first)."""
        wanted = name or self.default_provider or self.providers[0].name
        for provider in self.providers:
            if provider.name == wanted:
                return provider
        raise LookupError(f"no FIX session with {wanted}")


class ReconSettings(BaseModel):
    """End-of-day reconciliation: the bank's account with the counterparties per currency, as its
    statements name it in :25: (`DEALCHAT_RECON__ACCOUNTS='{"EUR": "DE89370400440532013000"}'`).
    A currency without an account is matched on reference, currency and amount alone."""

    accounts: dict[str, str] = Field(default_factory=dict)

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, accounts: dict[str, str]) -> dict[str, str]:
        cleaned = {code.strip().upper(): account.strip() for code, account in accounts.items()}
        for code, account in cleaned.items():
            if len(code) != 3 or not code.isalpha() or not 1 <= len(account) <= 64:
                raise ValueError(f"accounts: {code!r} -> {account!r} is not currency -> account")
        return cleaned


_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
_SAFE_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}


class OidcSettings(BaseModel):
    """OpenID Connect federation for internal users: `DEALCHAT_OIDC__ENABLED=true`,
    `__ISSUER=https://sso.bank`, `__CLIENT_ID`, `__CLIENT_SECRET_FILE=/run/secrets/oidc` (0600).
    Redirect URI to register at the provider: `{public_url}/auth/oidc/callback`."""

    enabled: bool = False
    issuer: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None  # tests; in production prefer client_secret_file
    client_secret_file: Path | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    # The ID token's signature algorithms we accept: asymmetric only, never "none" nor HS*.
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "PS256", "ES256", "EdDSA"])
    auto_provision: bool = False  # create an internal user for an unknown (issuer, subject)
    leeway_seconds: int = Field(default=60, ge=0, le=300)
    login_ttl_seconds: int = Field(default=600, ge=60, le=1800)
    timeout_seconds: float = Field(default=10, gt=0, le=60)

    @field_validator("issuer")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        host = value.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        if not value.startswith("https://") and not (
            value.startswith("http://") and host in _LOOPBACK_HOSTS
        ):
            raise ValueError("the issuer must be https (plain http only on loopback)")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric(cls, algorithms: list[str]) -> list[str]:
        unsafe = [name for name in algorithms if name not in _SAFE_ALGORITHMS]
        if unsafe or not algorithms:
            raise ValueError(f"not allowed for ID tokens: {unsafe or 'an empty list'}")
        return algorithms

    def secret(self) -> str:
        if self.client_secret_file is not None:
            return self.client_secret_file.read_text(encoding="utf-8").strip()
        if self.client_secret is not None:
            return self.client_secret.get_secret_value()
        raise ValueError("set DEALCHAT_OIDC__CLIENT_SECRET_FILE")


class SamlSettings(BaseModel):
    """SAML 2.0 single sign-on for internal users (pysaml2 with Debian's xmlsec1):
    `DEALCHAT_SAML__ENABLED=true`, `__IDP_METADATA_FILE=/etc/dealchat/idp.xml` (the bank's IdP
    metadata: its entity id, its SSO and SLO endpoints, its signing certificate). Give the IdP
    our metadata from `{public_url}/auth/saml/metadata`; its entity id is that URL."""

    enabled: bool = False
    idp_metadata_file: Path | None = None
    idp_entity_id: str | None = None  # which IdP in the metadata; required when it names several
    # How a NameID finds a user: "link" looks (IdP entity id, NameID) up in federated_identity
    # (`dealchat users link-oidc USER NAMEID --issuer IDP`); "username" takes the value as the
    # username. `subject_attribute` names an assertion attribute to use instead of the NameID.
    match: Literal["link", "username"] = "link"
    subject_attribute: str | None = None
    skew_seconds: int = Field(default=60, ge=0, le=300)
    login_ttl_seconds: int = Field(default=600, ge=60, le=1800)
    xmlsec_binary: Path = Path("/usr/bin/xmlsec1")
    # RSA-SHA256 at least: SHA-1 signatures (rsa-sha1, dsa-sha1) are refused
    signing_algorithm: str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


class DirectorySettings(BaseModel):
    """Directory sync (ldap3) of internal users and their roles from Active Directory (or any
    LDAP directory with the same attributes): `dealchat directory sync [--full]`. TLS always:
    `ldaps://` or StartTLS, the server's certificate verified against `ca_file` (the system's
    CAs when unset). The bind password is a secret: `__BIND_PASSWORD_FILE` (0600)."""

    enabled: bool = False
    url: str | None = None  # ldaps://dc1.bank.test or ldap://dc1.bank.test (then StartTLS)
    start_tls: bool = True
    ca_file: Path | None = None
    bind_dn: str | None = None
    bind_password: SecretStr | None = None  # tests; in production use bind_password_file
    bind_password_file: Path | None = None
    user_base: str | None = None
    user_filter: str = "(&(objectClass=user)(sAMAccountName=*))"
    group_base: str | None = None
    group_filter: str = "(objectClass=group)"
    username_attribute: str = "sAMAccountName"
    display_attribute: str = "displayName"
    id_attribute: str = "objectGUID"  # what names an entry for ever (entryUUID on OpenLDAP)
    # Delta runs read entries whose mark passed the last run's: it must grow with every change,
    # uSNChanged on AD, entryCSN on OpenLDAP (never modifyTimestamp: whole seconds)
    change_attribute: str = "uSNChanged"
    # Which group gives which role is not a setting: `dealchat directory propose-mapping`, in
    # force once a second administrator approves it (identity.directory, `directory_mapping`).
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    # `dealchat serve` runs a delta sync this often, and a full one (deletions) every full_hours
    # (0: only the command syncs)
    interval_minutes: float = Field(default=15, ge=0, le=24 * 60)
    full_hours: float = Field(default=24, gt=0, le=24 * 7)
    # Bind login (identity.directory_login): a synchronised internal user's console/API password
    # is checked by a simple bind as their DN (from the last sync) over the same verified TLS,
    # then our own second factor. No fallback to a local password: they have none. The
    # directory's answer is on the login path (on SQLite inside the write lock): hence its own
    # short timeout.
    bind_login: bool = False
    login_timeout_seconds: float = Field(default=5, gt=0, le=30)

    @model_validator(mode="after")
    def _tls_always(self) -> DirectorySettings:
        if self.url and not self.url.startswith("ldaps://") and not self.start_tls:
            raise ValueError("the directory needs TLS: an ldaps:// URL or start_tls")
        if self.bind_login and not (self.enabled and self.url):
            raise ValueError("bind login needs the directory: __ENABLED and __URL")
        return self

    def password(self) -> str:
        if self.bind_password_file is not None:
            return self.bind_password_file.read_text(encoding="utf-8").strip()
        if self.bind_password is not None:
            return self.bind_password.get_secret_value()
        raise ValueError("set DEALCHAT_DIRECTORY__BIND_PASSWORD_FILE")


class AuthSettings(BaseModel):
    link_ttl_seconds: int = Field(default=600, ge=30, le=600)
    stepup_ttl_seconds: int = Field(default=300, ge=30, le=900)
    chat_session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    chat_session_absolute_hours: int = Field(default=12, ge=1, le=72)
    totp_issuer: str = "dealchat"
    # Lockout (identity/lockout.py): per account, then per source address (IPv4, IPv6 /64).
    lockout_free_failures: int = Field(default=5, ge=1, le=20)
    lockout_base_delay_seconds: int = Field(default=2, ge=1, le=60)
    lockout_max_delay_seconds: int = Field(default=900, ge=1, le=3600)
    lockout_hard_threshold: int = Field(default=50, ge=5, le=100)
    source_free_failures: int = Field(default=20, ge=1, le=1000)
    source_max_delay_seconds: int = Field(default=900, ge=1, le=3600)
    source_window_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # Requests without a valid session or token, per source and minute, before 429 (each of
    # them is an access-log entry; past the limit only the first refusal is).
    anonymous_per_minute: int = Field(default=30, ge=1, le=10_000)
    # Our reverse proxies (CIDR): behind them the client is read from X-Forwarded-For, walked from
    # the right. `DEALCHAT_AUTH__TRUSTED_PROXIES='["10.0.0.0/24"]'`. Empty: the peer is the client.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Which authentication at the bank's identity provider counts as two factors, per role (or
    # "*" for a role not named, and for a user with no role): OIDC `acr` or `amr` values, SAML
    # AuthnContextClassRef URIs; "*" in a list accepts any login at the provider. A federated
    # login that does not meet every one of the user's roles must pass our own authenticator
    # code too. Empty (the default): every federated login asks for our code.
    # `DEALCHAT_AUTH__FEDERATED_TWO_FACTOR='{"dealer": ["mfa", "urn:...:MultiFactor"]}'`
    federated_two_factor: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            ipaddress.ip_network(cidr.strip(), strict=False)  # ValueError names the bad one
        return [cidr.strip() for cidr in cidrs]


class EnvelopeSettings(BaseModel):
    """Encryption at rest. `kek`: `file` (versioned key files under keys/kek/, 0600, the default)
    or `memory` (a simulated HSM that forgets its keys on exit: demos and tests only)."""

    kek: Literal["file", "memory"] = "file"


class ServeSettings(BaseModel):
    """How `dealchat serve` runs: `workers` processes (`--workers`); `shared_state` says whether
    rate limits, throttles and replay guards count in the database, where every process and node
    on it sees them (None: yes on PostgreSQL and with several workers, no for one SQLite
    process, where memory is cheaper and sees everything)."""

    workers: int = Field(default=1, ge=1, le=64)
    shared_state: bool | None = None
    # Requests a process works on at once (the rest wait, holding no thread): None for 8 on
    # SQLite and 4 on PostgreSQL (app.REQUESTS_AT_ONCE).
    requests_at_once: int | None = Field(default=None, ge=1, le=256)


class LimitSettings(BaseModel):
    """Rate limits routes declare (`api.ratelimits.RateLimit`), by name: each one's requests per
    minute, overriding its default. `DEALCHAT_LIMITS__PER_MINUTE='{"webchat-source": 60}'`."""

    per_minute: dict[str, int] = Field(default_factory=dict)

    @field_validator("per_minute")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        if any(not 1 <= count <= 100_000 for count in value.values()):
            raise ValueError("each rate limit is 1-100000 requests per minute")
        return value


class SessionSettings(BaseModel):
    """Console sessions and API tokens (`DEALCHAT_SESSIONS__IDLE_MINUTES=15`, ...)."""

    idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    absolute_hours: int = Field(default=8, ge=1, le=72)
    token_days: int = Field(default=30, ge=1, le=365)  # default lifetime of a new API token
    token_max_days: int = Field(default=90, ge=1, le=365)


class RetentionSettings(BaseModel):
    """Retention periods in whole years, per class: `DEALCHAT_RETENTION__CHAT_YEARS=10`; and the
    grace in days before `retention run` deletes spent security rows."""

    chat_years: int = Field(default=7, ge=1, le=100)
    orders_years: int = Field(default=7, ge=1, le=100)
    access_logs_years: int = Field(default=2, ge=1, le=100)
    # Spent security rows (secure, report, receipt, upload and enrolment links, step-up proofs,
    # SMS challenges, OIDC logins, console sessions) are deleted this many days after they
    # expired or ended: their issue and use are in the audit log.
    spent_rows_days: int = Field(default=30, ge=1, le=3650)


class MatrixSettings(BaseModel):
    """The Matrix bot (`DEALCHAT_MATRIX__*`): on when a homeserver URL and a user id are set.

    The password or access token is read from a file (`*_file`), never from a variable.
    Invites are accepted, and messages answered, only from `allowed_users` (full MXIDs) or from
    any user of `allowed_servers` (server names); both empty means nobody.
    """

    homeserver_url: str | None = None
    user_id: str | None = None
    password_file: Path | None = None
    access_token_file: Path | None = None
    device_name: str = "dealchat"
    allowed_users: list[str] = Field(default_factory=list)
    allowed_servers: list[str] = Field(default_factory=list)
    sync_timeout_seconds: int = Field(default=30, ge=1, le=300)
    send_attempts: int = Field(default=6, ge=1, le=20)
    max_retry_after_seconds: int = Field(default=60, ge=1, le=3600)

    @field_validator("homeserver_url")
    @classmethod
    def _homeserver(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return None if value is None else value.rstrip("/")

    @field_validator("user_id")
    @classmethod
    def _mxid(cls, value: str | None) -> str | None:
        if value is not None and not _is_mxid(value):
            raise ValueError("must be a Matrix user id like @dealchat:example.org")
        return value

    @field_validator("allowed_users")
    @classmethod
    def _mxids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _is_mxid(value):
                raise ValueError(f"{value!r} is not a Matrix user id like @alice:example.org")
        return values

    @model_validator(mode="after")
    def _one_secret(self) -> MatrixSettings:
        if self.enabled and (self.password_file is None) == (self.access_token_file is None):
            raise ValueError("set exactly one of password_file and access_token_file")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.homeserver_url and self.user_id)

    def secret(self) -> tuple[str, SecretStr]:
        """("password" | "access_token", the value read from its file)."""
        kind, path = (
            ("password", self.password_file)
            if self.password_file is not None
            else ("access_token", self.access_token_file)
        )
        if path is None:
            raise ValueError("no Matrix secret file configured")
        value = path.read_text(encoding="utf-8").strip()
        if not value or any(word in value.lower() for word in _PLACEHOLDERS):
            raise ValueError(f"the Matrix {kind} file {path} is empty or a placeholder")
        return kind, SecretStr(value)


def _is_mxid(value: str) -> bool:
    local, _, server = value[1:].partition(":")
    return value.startswith("@") and bool(local) and bool(server) and len(value) <= 255


class ControlsSettings(BaseModel):
    """Pre-trade controls. The shipped rule set and rates apply unless files are named; a rule set
    version approved in the database (`dealchat rules approve`) replaces the file's."""

    enabled: bool = True
    rules_file: Path | None = None
    rates_file: Path | None = None


class WitnessSettings(BaseModel):
    """One witness of the audit log's checkpoints: its public key (the C2SP vkey that
    `dealchat witness key` prints) and where it is, either `url` (a `dealchat witness serve` or
    any C2SP tlog-witness; https except on loopback) or `path` (a folder this host opens as an
    append-only file witness, for the simplest deployments)."""

    key: str = Field(min_length=10, max_length=400)
    url: str | None = Field(default=None, max_length=400)
    path: Path | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one_place(self) -> WitnessSettings:
        if (self.url is None) == (self.path is None):
            raise ValueError("a witness has either a url or a path")
        if self.url is not None:
            self.url = self.url.rstrip("/")
            loopback = self.url.startswith(("http://127.", "http://localhost", "http://[::1]"))
            if not (self.url.startswith("https://") or loopback):
                raise ValueError("a witness url must be https (http only on loopback)")
        return self


_STREAM_NAME = r"^[A-Za-z0-9_-]{1,64}$"
_SUBJECT = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"


class BusSettings(BaseModel):
    """NATS JetStream as the way in (channels/bus.py). Empty `url`: messages stay in process.
    `ack_wait_seconds`: how long a core worker may take before a message is delivered again
    (to any node); `duplicate_window_seconds`: how long the stream drops a platform's resend.
    `outbound`: each committed delivery is announced on `outbound_stream` (its outbox id only)
    and sent by whichever node's delivery worker takes the notice (channels/bus_deliveries.py);
    false leaves deliveries to the leader's dispatcher alone."""

    url: str = Field(default="", max_length=500)
    stream: str = Field(default="DEALCHAT_INBOUND", pattern=_STREAM_NAME)
    subject: str = Field(default="dealchat.inbound", pattern=_SUBJECT)
    durable: str = Field(default="core", pattern=_STREAM_NAME)
    batch: int = Field(default=32, ge=1, le=1000)
    ack_wait_seconds: float = Field(default=30, ge=1, le=3600)
    publish_timeout_seconds: float = Field(default=5, gt=0, le=60)
    duplicate_window_seconds: float = Field(default=600, ge=1, le=86400)
    outbound: bool = True
    outbound_stream: str = Field(default="DEALCHAT_OUTBOUND", pattern=_STREAM_NAME)
    outbound_subject: str = Field(default="dealchat.outbound", pattern=_SUBJECT)
    outbound_durable: str = Field(default="delivery", pattern=_STREAM_NAME)

    @model_validator(mode="after")
    def _nats_url(self) -> BusSettings:
        if self.url and not self.url.startswith(("nats://", "tls://")):
            raise ValueError("DEALCHAT_BUS__URL must be a nats:// or tls:// URL")
        return self

    @model_validator(mode="after")
    def _apart(self) -> BusSettings:
        """Two streams, neither's subjects inside the other's (NATS refuses overlapping ones)."""
        if self.outbound_stream == self.stream:
            raise ValueError("DEALCHAT_BUS__OUTBOUND_STREAM must differ from DEALCHAT_BUS__STREAM")
        inbound, outbound = f"{self.subject}.", f"{self.outbound_subject}."
        if inbound.startswith(outbound) or outbound.startswith(inbound):
            raise ValueError(
                "DEALCHAT_BUS__SUBJECT and DEALCHAT_BUS__OUTBOUND_SUBJECT must not overlap"
            )
        return self


class RecordsSettings(BaseModel):
    """The audit log. `origin` names the log in its signed checkpoints (and names their key);
    a checkpoint is signed within `checkpoint_interval_seconds` of new entries and sent to every
    witness (`DEALCHAT_RECORDS__WITNESSES`, a JSON list of `WitnessSettings`)."""

    origin: str = Field(default="dealchat.local/audit", pattern=r"^[A-Za-z0-9.:/_-]{3,120}$")
    checkpoint_interval_seconds: float = Field(default=0.5, gt=0, le=1)
    witnesses: list[WitnessSettings] = Field(default_factory=list, max_length=16)


class SurveillanceSettings(BaseModel):
    """Surveillance of messages and orders (`DEALCHAT_SURVEILLANCE__*`). The order patterns:
    `structuring_count` orders within `structuring_window_hours`, each within `structuring_band`
    under `structuring_threshold` (dealt currency units); a pair outside the client's last
    `usual_lookback_days` once it has `usual_min_history` orders."""

    enabled: bool = True
    structuring_threshold: Decimal = Field(default=Decimal(1_000_000), gt=0)
    structuring_band: Decimal = Field(default=Decimal("0.10"), gt=0, lt=1)
    structuring_count: int = Field(default=3, ge=2, le=100)
    structuring_window_hours: int = Field(default=24, ge=1, le=24 * 31)
    usual_min_history: int = Field(default=5, ge=1, le=10_000)
    usual_lookback_days: int = Field(default=180, ge=1, le=3650)
    # A compliance review (case) is due this many hours after it was opened; past that the
    # review queue shows it as overdue.
    review_deadline_hours: int = Field(default=48, ge=1, le=24 * 90)


class DocumentsSettings(BaseModel):
    """Uploads. Every upload is scanned by clamd at `clamd` (`DEALCHAT_DOCUMENTS__CLAMD`:
    `unix:///run/clamav/clamd.ctl` or `tcp://clamd.bank.internal:3310`), the bank's clamd kept
    current by freshclam. Unset, uploads are refused: a document that was not scanned is never
    stored. Timeouts are per connect and per read; uploads go to clamd in `clamd_chunk_bytes`."""

    clamd: str | None = None
    clamd_connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    clamd_read_timeout_seconds: float = Field(default=60, gt=0, le=600)
    clamd_chunk_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # The largest upload accepted (bytes; refused with 413 while reading, never buffered beyond
    # it) and the types accepted, each checked by content and by extension (documents/sniff.py):
    # `DEALCHAT_DOCUMENTS__ALLOWED_TYPES='["pdf","png"]'`. Keep clamd's StreamMaxLength above it.
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=25 * 1024 * 1024)
    allowed_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOWED))

    @field_validator("allowed_types")
    @classmethod
    def _known_types(cls, names: list[str]) -> list[str]:
        cleaned = [name.strip().lower() for name in names]
        unknown = [name for name in cleaned if name not in TYPES]
        if unknown or not cleaned:
            raise ValueError(f"allowed_types: {unknown or 'empty'}; choose from {sorted(TYPES)}")
        return cleaned

    @field_validator("clamd")
    @classmethod
    def _clamd_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return str(parse_address(value))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEALCHAT_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("var")
    database_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    quote_ttl_seconds: int = Field(default=30, ge=5, le=600)
    ticket_ttl_seconds: int = Field(default=600, ge=60, le=3600)
    log_level: str = "INFO"
    nlu: NluSettings = Field(default_factory=NluSettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    recon: ReconSettings = Field(default_factory=ReconSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    oidc: OidcSettings = Field(default_factory=OidcSettings)
    saml: SamlSettings = Field(default_factory=SamlSettings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    surveillance: SurveillanceSettings = Field(default_factory=SurveillanceSettings)
    envelope: EnvelopeSettings = Field(default_factory=EnvelopeSettings)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    matrix: MatrixSettings = Field(default_factory=MatrixSettings)
    controls: ControlsSettings = Field(default_factory=ControlsSettings)
    records: RecordsSettings = Field(default_factory=RecordsSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    documents: DocumentsSettings = Field(default_factory=DocumentsSettings)

    @field_validator("database_url", "public_url")
    @classmethod
    def _no_placeholder(cls, value: str | None) -> str | None:
        if value is not None and any(word in value.lower() for word in _PLACEHOLDERS):
            raise ValueError("looks like a placeholder; set a real value")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def db_url(self) -> str:
        """DEALCHAT_DATABASE_URL, else a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dealchat.db').resolve()}"

    @property
    def shares_state(self) -> bool:
        """Rate limits, throttles and replay guards in the database (ServeSettings)."""
        if self.serve.shared_state is not None:
            return self.serve.shared_state
        return self.serve.workers > 1 or self.db_url.startswith("postgresql")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
