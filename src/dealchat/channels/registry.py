"""The adapters settings turn on, by name. The web chat is always there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dealchat.channels.config import ChannelSettings, ChannelsSettings
from dealchat.channels.interfaces import ChannelAdapter
from dealchat.channels.ratelimit import RateLimiter
from dealchat.channels.slack.adapter import SlackAdapter
from dealchat.channels.teams.adapter import TeamsAdapter
from dealchat.channels.telegram.adapter import TelegramAdapter
from dealchat.channels.webchat.adapter import WebchatAdapter
from dealchat.channels.wechat.adapter import WeChatAdapter
from dealchat.channels.whatsapp.adapter import WhatsAppAdapter

FACTORIES: dict[str, Callable[[Any], ChannelAdapter]] = {
    "slack": SlackAdapter,
    "teams": TeamsAdapter,
    "telegram": TelegramAdapter,
    "whatsapp": WhatsAppAdapter,
    "wechat": WeChatAdapter,
}


def build_adapters(channels: ChannelsSettings, *, public_url: str) -> dict[str, ChannelAdapter]:
    adapters: dict[str, ChannelAdapter] = {"webchat": WebchatAdapter(public_url)}
    for name, section in channels.sections().items():
        if section.enabled:
            adapters[name] = FACTORIES[name](section)
    return adapters


def rate_limits(channels: ChannelsSettings) -> RateLimiter:
    enabled: dict[str, ChannelSettings] = {
        name: section for name, section in channels.sections().items() if section.enabled
    }
    return RateLimiter({name: (s.rate_per_second, s.burst) for name, s in enabled.items()})
