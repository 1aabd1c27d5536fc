"""Where verified messages go in this process: each one through `handle_inbound` in its own
transaction; the replies land in the outbox in that same transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from dealchat.channels.interfaces import InboundMessage, inbound_problem
from dealchat.conversations.context import Desk
from dealchat.conversations.desk import handle_inbound
from dealchat.db.session import unit_of_work
from dealchat.records.events import AuditEvent
from dealchat.records.service import record


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
            problem = inbound_problem(message)  # from any adapter, Matrix's too
            if problem is not None:
                self.drop(message.channel, f"message dropped: {problem}")
                continue
            with unit_of_work(self._sessions) as session:
                handle_inbound(session, message=message, desk=self._desk)
        if messages and self._on_committed is not None:
            self._on_committed()  # wake the dispatcher: there are replies in the outbox

    def drop(self, channel: str, reason: str) -> None:
        with unit_of_work(self._sessions) as session:
            record(session, event=AuditEvent.WEBHOOK_DROPPED, actor=f"channel:{channel}",
                   subject=f"channel:{channel}", payload={"reason": reason[:300]})  # fmt: skip
