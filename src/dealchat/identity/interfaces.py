"""Ports of identity: how a one-time code reaches a person's phone, and what the step-up page
shows of the ticket it approves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session


class SmsSender(Protocol):
    """Sends one text message. Implementations never log the text (it holds a code)."""

    def send(self, *, to: str, text: str) -> None: ...


@dataclass(frozen=True)
class Approval:
    """What a step-up page shows of what it approves: (label, value) rows in the link's language,
    and what the page says once approved (None: the usual 'reply c to confirm')."""

    rows: Sequence[tuple[str, str]]
    done: str | None = None


class TicketRows(Protocol):
    """What the step-up page shows of the ticket a link approves, read by the order domain from
    the ticket (or the change of a working order) whose hash the link is bound to (filled in by
    the app: identity does not read orders), in `language` (None: English). None when nothing of
    that chat has the hash."""

    def __call__(
        self,
        session: Session,
        *,
        ticket_hash: str,
        channel: str,
        external_id: str,
        language: str | None,
    ) -> Approval | None: ...
