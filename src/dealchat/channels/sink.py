"""Where verified messages go in this process: each one through `handle_inbound` in its own
transaction; the replies land in the outbox in that same transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from dealchat.channels.interfaces import InboundMessage
from dealchat.conversations.context import Desk
from dealchat.conversations.desk import handle_inbound
from dealchat.db.session import unit_of_work


class LocalSink:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        desk: Desk,
        *,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._desk = desk
        self._on_committed = on_committed

    def accept(self, messages: list[InboundMessage]) -> None:
        for message in messages:
            with unit_of_work(self._sessions) as session:
                handle_inbound(session, message=message, desk=self._desk)
        if messages and self._on_committed is not None:
            self._on_committed()  # wake the dispatcher: there are replies in the outbox
