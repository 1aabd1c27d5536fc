"""What every channel adapter hands inward and receives back: normalised messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class InboundMessage:
    """One message from a chat platform, already verified and normalised by its adapter."""

    channel: str
    conversation_id: str
    sender_id: str
    message_id: str
    text: str


@dataclass(frozen=True)
class OutboundMessage:
    text: str
    link: str | None = None


class ChannelAdapter(Protocol):
    """A platform adapter: verifies, normalises and hands messages to `handle_inbound`."""

    name: str

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None: ...
