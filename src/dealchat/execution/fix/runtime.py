"""The FIX venue at run time: the engine's listener and the outbox dispatcher.

What messages mean for orders is the order domain's, given as two functions (the composition root
passes orders.routing and orders.reports with the desk's notices): `build` turns an outbox row
into its message fields, `receive` applies an inbound application message, each in its own
transaction on the engine's thread. If applying fails, the raw message is still journalled with
an alert, and QuickFIX's own log has it. Outbound: the dispatcher thread sends what
`orders.routing` queued, oldest first, only while the provider's session is logged on. A row is
marked `sending` (committed) before the engine takes it and `sent` with its MsgSeqNum in toApp,
before it is on the wire; at start, a `sending` row, or a `sent` one nobody answered yet, is
looked up in the engine's message store: sent if it is there (the engine delivers it, by resend
if need be), queued again if not. So a crash never sends a ClOrdID twice and never loses one.
Session events go to execution.sessions (audit, gaps, alerts).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db.base import utcnow
from dealchat.db.session import unit_of_work
from dealchat.execution import sessions
from dealchat.execution.fix import messages as m
from dealchat.execution.fix.engine import FixEngine, NotLoggedOnError
from dealchat.execution.models import QUEUED, SENDING, SENT, FixMessage, FixOutbound
from dealchat.records.events import AuditEvent
from dealchat.records.service import record
from dealchat.settings import ExecutionSettings

log = logging.getLogger("dealchat.fix")
# (session, outbox row, the provider's account, now) -> the message's fields
Build = Callable[[Session, FixOutbound, str | None, dt.datetime], list[tuple[int, str]]]
# (session, provider, FIX session, raw message, now): apply one inbound application message
Receive = Callable[[Session, str, str, str, dt.datetime], None]


class FixVenue:
    def __init__(
        self,
        settings: ExecutionSettings,
        data_dir: Path,
        factory: sessionmaker[Session],
        *,
        build: Build,
        receive: Receive,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._factory, self._clock = factory, clock
        self.build, self.receive = build, receive
        self.accounts = {p.name: p.account for p in settings.providers}
        self.default_provider = settings.default_provider or settings.providers[0].name
        self._sessions = sessions.SessionEvents(factory, clock)
        self.engine = FixEngine(settings.providers, data_dir, self)
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    # -- running ------------------------------------------------------------------------------
    def start(self) -> None:
        self.recover()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fix-dispatch", daemon=True)
        self._thread.start()
        self.engine.start()

    def stop(self, *, force: bool = False) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.engine.stop(force=force)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(1.0)
            self._wake.clear()
            try:
                self.dispatch()
            except Exception:
                log.exception("FIX dispatch failed; trying again")

    # -- outbound -----------------------------------------------------------------------------
    def recover(self) -> int:
        """Rows left `sending` by a crash: sent if the engine's store has their ClOrdID (it
        delivers them, by resend if need be), queued again if not. How many were found."""
        with unit_of_work(self._factory) as session:
            rows = list(session.scalars(_unsure()))
            stored = {p: self.engine.stored_clordids(p) for p in {r.provider for r in rows}}
            for row in rows:
                if row.clordid not in stored[row.provider]:
                    row.state, row.last_error = QUEUED, "not in the engine's store after a restart"
                elif row.state == SENDING:
                    row.state, row.sent_at = SENT, self._clock()
                    row.seq_num = _journalled_seq(session, row.clordid)
        return len(rows)

    def dispatch(self) -> int:
        """Send every queued instruction of every logged-on session; how many were sent."""
        sent = 0
        for provider in self.engine.providers:
            if not self.engine.logged_on(provider):
                continue
            while not self._stop.is_set():
                claimed = self._claim(provider)
                if claimed is None:
                    break
                if not self._send(provider, *claimed):
                    break
                sent += 1
        return sent

    def _claim(self, provider: str) -> tuple[str, str, list[tuple[int, str]]] | None:
        with unit_of_work(self._factory) as session:
            row = session.scalar(
                select(FixOutbound)
                .where(FixOutbound.provider == provider, FixOutbound.state == QUEUED)
                .order_by(FixOutbound.created_at, FixOutbound.id)
                .limit(1)
            )
            if row is None:
                return None
            claimed = session.execute(
                update(FixOutbound)
                .where(FixOutbound.id == row.id, FixOutbound.state == QUEUED)
                .values(state=SENDING, attempts=FixOutbound.attempts + 1)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                return None
            fields = self.build(session, row, self.accounts.get(provider), self._clock())
            return row.id, row.msg_type, fields

    def _send(
        self, provider: str, row_id: str, msg_type: str, fields: list[tuple[int, str]]
    ) -> bool:
        try:
            seq = self.engine.send(provider, msg_type, fields)
        except NotLoggedOnError as error:
            with unit_of_work(self._factory) as session:
                row = session.get(FixOutbound, row_id)
                assert row is not None
                row.state, row.last_error = QUEUED, str(error)
            return False
        with unit_of_work(self._factory) as session:  # toApp marked it already, normally
            row = session.get(FixOutbound, row_id)
            assert row is not None
            if row.state == SENDING:
                self._mark_sent(session, row, seq)
        return True

    def _mark_sent(self, session: Session, row: FixOutbound, seq: int) -> None:
        """The engine took the instruction (toApp, before it goes on the wire): `sent`, audited
        with its session and MsgSeqNum, so a report about it is never logged before it."""
        row.state, row.seq_num, row.sent_at = SENT, seq, self._clock()
        record(
            session,
            event=AuditEvent.ORDER_SENT,
            actor="system:execution",
            subject=f"order:{row.order_id}",
            payload={
                "clordid": row.clordid,
                "msg_type": row.msg_type,
                "venue": row.provider,
                "session": self.engine.session_name(row.provider),
                "seq": seq,
            },
        )

    # -- the engine's listener ----------------------------------------------------------------
    def logged_on(self, provider: str, session: str) -> None:
        self._sessions.logged_on(provider, session, self.engine.sequence_numbers(provider))
        self.wake()

    def logged_out(self, provider: str, session: str) -> None:
        self._sessions.logged_out(provider, session, self.engine.sequence_numbers(provider))

    def admin(self, provider: str, session: str, raw: str, *, inbound: bool) -> None:
        if inbound and m.fields_of(raw).get(m.MSG_TYPE) == m.SESSION_REJECT:
            self.app_in(provider, session, raw)  # a Reject of one of our instructions
        self._sessions.admin(provider, session, raw, inbound=inbound)

    def app_out(self, provider: str, session: str, raw: str) -> None:
        fields = m.fields_of(raw)
        with unit_of_work(self._factory) as db:
            sessions.journal_out(db, provider=provider, fix_session=session, fields=fields, raw=raw)
            clordid = fields.get(m.CL_ORD_ID)
            if fields.get(m.POSS_DUP) == "Y" or clordid is None:
                return  # a resend of what was marked sent the first time
            row = db.scalar(select(FixOutbound).where(FixOutbound.clordid == clordid))
            if row is not None and row.state == SENDING:
                self._mark_sent(db, row, int(fields.get(m.MSG_SEQ_NUM, "0") or 0))

    def app_in(self, provider: str, session: str, raw: str) -> None:
        try:
            with unit_of_work(self._factory) as db:
                self.receive(db, provider, session, raw, self._clock())
        except Exception:
            log.exception("FIX message from %s not applied; journalled for review", provider)
            with unit_of_work(self._factory) as db:
                sessions.unprocessed(db, provider=provider, fix_session=session, raw=raw)


def _unsure() -> Select[FixOutbound]:
    """Rows a crash may have caught half-way: `sending`, or marked `sent` in toApp (just before
    the engine stores and sends) with no answer from the provider about them yet."""
    answered = select(FixMessage.clordid).where(
        FixMessage.direction == "in", FixMessage.clordid.is_not(None)
    )
    return select(FixOutbound).where(
        (FixOutbound.state == SENDING)
        | ((FixOutbound.state == SENT) & FixOutbound.clordid.not_in(answered))
    )


def _journalled_seq(session: Session, clordid: str) -> int | None:
    return session.scalar(
        select(FixMessage.seq_num)
        .where(FixMessage.clordid == clordid, FixMessage.direction == "out")
        .order_by(FixMessage.at)
        .limit(1)
    )
