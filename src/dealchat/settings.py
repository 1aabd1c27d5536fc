"""Settings from `DEALCHAT_*` environment variables (nested sections with `__`)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dealchat.nlu.tables import DEFAULT_COUNTERPARTIES


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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="DEALCHAT_", env_nested_delimiter="__", extra="ignore"
    )

    nlu: NluSettings = Field(default_factory=NluSettings)
