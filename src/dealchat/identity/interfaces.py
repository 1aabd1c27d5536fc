"""Ports of identity: how a one-time code reaches a person's phone, and what the step-up page
shows of the ticket it approves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy.orm import Session


class SmsSender(Protocol):
    """Sends one text message. Implementations never log the text (it holds a code)."""

    def send(self, *, to: str, text: str) -> None: ...


class TicketRows(Protocol):
    """What the step-up page shows of the ticket a link approves: (label, value) rows, read by
    the order domain from the ticket whose hash the link is bound to (filled in by the app:
    identity does not read orders). None when no open ticket of that chat has the hash."""

    def __call__(
        self, session: Session, *, ticket_hash: str, channel: str, external_id: str
    ) -> Sequence[tuple[str, str]] | None: ...
