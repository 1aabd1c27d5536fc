"""Channel settings: one section per platform under `DEALCHAT_CHANNELS__<NAME>__*`.

Secrets are `SecretStr` values or, better, `*_file` paths to a file holding them (mounted secrets);
they never appear in a repr, a log or an error. A disabled channel answers 404 on its webhook.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, model_validator

_PLACEHOLDERS = ("changeme", "change-me", "placeholder", "xxx", "todo")


class ChannelSettings(BaseModel):
    """What every webhook channel has: on/off, where its API is, how fast we may send to it."""

    enabled: bool = False
    api_url: str = ""
    rate_per_second: float = Field(default=1.0, gt=0, le=1000)
    burst: int = Field(default=5, ge=1, le=1000)
    max_age_seconds: int = Field(default=300, ge=30, le=86_400)

    def secret(self, name: str) -> str:
        """The secret `name` from its value or its `name_file`; a missing one is a config error."""
        value: SecretStr | None = getattr(self, name)
        path: Path | None = getattr(self, f"{name}_file")
        if path is not None:
            text = path.read_text(encoding="utf-8").strip()
        elif value is not None:
            text = value.get_secret_value()
        else:
            raise ValueError(f"{type(self).__name__}.{name} (or {name}_file) is not set")
        if not text or text.lower() in _PLACEHOLDERS:
            raise ValueError(f"{type(self).__name__}.{name} looks like a placeholder")
        return text

    def secret_names(self) -> list[str]:
        return [
            name for name in type(self).model_fields if f"{name}_file" in type(self).model_fields
        ]

    @model_validator(mode="after")
    def _secrets_when_enabled(self) -> ChannelSettings:
        if self.enabled:
            for name in self.secret_names():
                self.secret(name)
        return self


class SlackSettings(ChannelSettings):
    api_url: str = "https://slack.com/api"
    signing_secret: SecretStr | None = None
    signing_secret_file: Path | None = None
    bot_token: SecretStr | None = None
    bot_token_file: Path | None = None


class TelegramSettings(ChannelSettings):
    """`secret_token` is what we gave setWebhook; Telegram sends it back on every update."""

    api_url: str = "https://api.telegram.org"
    max_age_seconds: int = Field(default=3600, ge=30, le=86_400)
    bot_token: SecretStr | None = None
    bot_token_file: Path | None = None
    secret_token: SecretStr | None = None
    secret_token_file: Path | None = None


class WhatsAppSettings(ChannelSettings):
    api_url: str = "https://graph.facebook.com/v21.0"
    phone_number_id: str = ""
    app_secret: SecretStr | None = None
    app_secret_file: Path | None = None
    verify_token: SecretStr | None = None
    verify_token_file: Path | None = None
    access_token: SecretStr | None = None
    access_token_file: Path | None = None


class TeamsSettings(ChannelSettings):
    """Bot Framework: tokens from Microsoft's OpenID metadata, replies to the activity's
    serviceUrl, which must start with one of `service_urls`."""

    api_url: str = "https://smba.trafficmanager.net/"
    service_urls: list[str] = Field(default_factory=lambda: ["https://smba.trafficmanager.net/"])
    openid_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    issuer: str = "https://api.botframework.com"
    # URLs, not secrets:
    token_url: str = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token"  # noqa: S105
    token_scope: str = "https://api.botframework.com/.default"  # noqa: S105
    app_id: str = ""
    app_password: SecretStr | None = None
    app_password_file: Path | None = None


class WeChatSettings(ChannelSettings):
    """Official account: `token` signs pushes; `encoding_aes_key` (43 characters) turns on the
    encrypted mode; replies through the customer service message API."""

    api_url: str = "https://api.weixin.qq.com"
    app_id: str = ""
    token: SecretStr | None = None
    token_file: Path | None = None
    app_secret: SecretStr | None = None
    app_secret_file: Path | None = None
    encoding_aes_key: SecretStr | None = None
    encoding_aes_key_file: Path | None = None

    def secret_names(self) -> list[str]:
        return ["token", "app_secret"]  # the AES key is optional: plain mode without it


class LinkSettings(BaseModel):
    """The edge-core split (`dealchat serve --role edge|core`). Each role makes its key and
    certificate under `data_dir/keys/link/` on first run; give each the other's certificate."""

    core_url: str = ""  # where the edge finds the core, e.g. https://core.internal:8443
    peer_certificate: Path | None = None  # the other role's <role>.crt
    window_seconds: int = Field(default=60, ge=5, le=600)


class ChannelsSettings(BaseModel):
    """`DEALCHAT_CHANNELS__SLACK__ENABLED=true`, `..._SIGNING_SECRET_FILE=/run/secrets/slack`."""

    slack: SlackSettings = Field(default_factory=SlackSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    wechat: WeChatSettings = Field(default_factory=WeChatSettings)

    def sections(self) -> dict[str, ChannelSettings]:
        return {
            "slack": self.slack,
            "telegram": self.telegram,
            "whatsapp": self.whatsapp,
            "teams": self.teams,
            "wechat": self.wechat,
        }

    link: LinkSettings = Field(default_factory=LinkSettings)
