"""A chat handle as the bank's pages show it: the channel's own name, and the handle masked where
it is a phone number (WhatsApp's sender is one), so a page open on a shared screen does not give
the number away while its owner still recognises it: `+44•••••0456`."""

from __future__ import annotations

import re

CHANNEL_NAMES = {
    "webchat": "Web chat",
    "matrix": "Matrix",
    "slack": "Slack",
    "teams": "Microsoft Teams",
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "wechat": "WeChat",
}
PHONE_CHANNELS = frozenset({"whatsapp"})  # channels whose handles are phone numbers
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{6,20}")
MASK = "\u2022" * 5


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def shown_handle(channel: str, handle: str) -> str:
    """The handle, or `+<country><mask><last four>` when it is a phone number."""
    if channel in PHONE_CHANNELS or (handle.startswith("+") and _PHONE.fullmatch(handle)):
        digits = re.sub(r"\D", "", handle)
        if len(digits) < 7:
            return MASK
        return f"+{digits[:2]}{MASK}{digits[-4:]}"
    return handle
