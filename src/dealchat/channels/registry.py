"""The adapters settings turn on, by name. The web chat is always there."""

from __future__ import annotations

from dealchat.channels.config import ChannelsSettings
from dealchat.channels.interfaces import ChannelAdapter
from dealchat.channels.ratelimit import RateLimiter
from dealchat.channels.slack.adapter import SlackAdapter
from dealchat.channels.webchat.adapter import WebchatAdapter


def build_adapters(channels: ChannelsSettings, *, public_url: str) -> dict[str, ChannelAdapter]:
    adapters: dict[str, ChannelAdapter] = {"webchat": WebchatAdapter(public_url)}
    if channels.slack.enabled:
        adapters["slack"] = SlackAdapter(channels.slack)
    return adapters


def rate_limits(channels: ChannelsSettings) -> RateLimiter:
    sections = {"slack": channels.slack}
    return RateLimiter(
        {name: (s.rate_per_second, s.burst) for name, s in sections.items() if s.enabled}
    )
