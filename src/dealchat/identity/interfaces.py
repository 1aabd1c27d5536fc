"""Ports of identity: how a one-time code reaches a person's phone."""

from __future__ import annotations

from typing import Protocol


class SmsSender(Protocol):
    """Sends one text message. Implementations never log the text (it holds a code)."""

    def send(self, *, to: str, text: str) -> None: ...
