"""Settings from `DEALCHAT_*` environment variables (nested sections with `__`).

Secrets are never settings values: keys live in files under `data_dir/keys`, generated on first
run with 0600 permissions.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dealchat.channels.config import ChannelsSettings
from dealchat.nlu.tables import DEFAULT_COUNTERPARTIES

_PLACEHOLDERS = ("changeme", "change-me", "example", "placeholder", "xxx", "todo")


class NluSettings(BaseModel):
    """The chat order language. `DEALCHAT_NLU__COUNTERPARTIES='["360T","GS"]'` replaces the LPs."""

    counterparties: list[str] = Field(default_factory=lambda: sorted(DEFAULT_COUNTERPARTIES))

    @field_validator("counterparties")
    @classmethod
    def _codes(cls, codes: list[str]) -> list[str]:
        cleaned = [code.strip().upper() for code in codes]
        for code in cleaned:
            if not code.isalnum() or not 1 < len(code) <= 12:
                raise ValueError(f"counterparty code {code!r} must be 2-12 letters or digits")
        return cleaned


class PricingSettings(BaseModel):
    """The simulated price source and liquidity provider of the demo."""

    spread_bps: Decimal = Field(default=Decimal("2"), gt=0, le=500)
    counterparty: str = "SIM"


class AuthSettings(BaseModel):
    link_ttl_seconds: int = Field(default=600, ge=30, le=600)
    stepup_ttl_seconds: int = Field(default=300, ge=30, le=900)
    chat_session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    chat_session_absolute_hours: int = Field(default=12, ge=1, le=72)
    totp_issuer: str = "dealchat"


class EnvelopeSettings(BaseModel):
    """Encryption at rest. `kek`: `file` (versioned key files under keys/kek/, 0600, the default)
    or `memory` (a simulated HSM that forgets its keys on exit: demos and tests only)."""

    kek: Literal["file", "memory"] = "file"


class SessionSettings(BaseModel):
    """Console sessions and API tokens (`DEALCHAT_SESSIONS__IDLE_MINUTES=15`, ...)."""

    idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    absolute_hours: int = Field(default=8, ge=1, le=72)
    token_days: int = Field(default=30, ge=1, le=365)  # default lifetime of a new API token
    token_max_days: int = Field(default=90, ge=1, le=365)


class RetentionSettings(BaseModel):
    """Retention periods in whole years, per class: `DEALCHAT_RETENTION__CHAT_YEARS=10`."""

    chat_years: int = Field(default=7, ge=1, le=100)
    orders_years: int = Field(default=7, ge=1, le=100)
    access_logs_years: int = Field(default=2, ge=1, le=100)


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
    auth: AuthSettings = Field(default_factory=AuthSettings)
    envelope: EnvelopeSettings = Field(default_factory=EnvelopeSettings)
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)

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
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
