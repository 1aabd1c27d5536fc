"""FIX session events (seed 002): logons, logouts, sequence gaps and resets, in the audit log.

Every application message out is journalled and audited with its session and MsgSeqNum here (in,
by orders.reports). A ResendRequest either way is a gap the engine had to recover: audited
(`fix:gap`) with the range, and an alert. A SequenceReset that is not a gap fill moves the
sequence by decree: `fix:sequence_reset` and an alert. A logon and a logout are audited with the
sequence numbers of the store; a session that drops without a Logout is `fix:disconnected`.
`end_of_day` alerts on every session not logged out cleanly when the day ends;
`overview` is what `dealchat fix sessions` prints.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db.session import unit_of_work
from dealchat.execution.fix import messages as m
from dealchat.execution.models import FixMessage, FixSessionState
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import Recorded
from dealchat.records.models import AuditEntry
from dealchat.records.service import record_new, record_now
from dealchat.surveillance.models import Alert
from dealchat.surveillance.service import raise_alert

POLICY = "fix-sessions"
LOGOUT, RESEND_REQUEST, SEQUENCE_RESET, REJECT = "5", "2", "4", "3"


class SessionEvents:
    """The engine's session callbacks, each in its own transaction."""

    def __init__(self, factory: sessionmaker[Session], clock: Callable[[], dt.datetime]) -> None:
        self._factory, self._clock = factory, clock
        self._logout_seen: dict[str, bool] = {}
        self._lock = threading.Lock()

    def logged_on(self, provider: str, name: str, seqs: tuple[int, int] | None) -> None:
        with self._lock:
            self._logout_seen[provider] = False
        now = self._clock()
        with unit_of_work(self._factory) as session:
            state = _state(session, provider, name)
            state.status, state.logged_on_at, state.clean_logout = "logged_on", now, None
            _seqs(state, seqs, now)
            _audit(session, AuditEvent.FIX_LOGGED_ON, provider, name, _seq_payload(seqs))

    def logged_out(self, provider: str, name: str, seqs: tuple[int, int] | None) -> None:
        with self._lock:
            clean = self._logout_seen.pop(provider, False)
        now = self._clock()
        with unit_of_work(self._factory) as session:
            state = _state(session, provider, name)
            state.status = "logged_out" if clean else "down"
            state.clean_logout, state.logged_out_at = clean, now
            _seqs(state, seqs, now)
            event = AuditEvent.FIX_LOGGED_OUT if clean else AuditEvent.FIX_DISCONNECTED
            _audit(session, event, provider, name, _seq_payload(seqs))

    def admin(self, provider: str, name: str, raw: str, *, inbound: bool) -> None:
        fields = m.fields_of(raw)
        kind = fields.get(m.MSG_TYPE)
        if kind == LOGOUT:
            with self._lock:
                self._logout_seen[provider] = True
            return
        if kind == REJECT and not inbound:
            self._rejected(provider, name, fields)
        elif kind == RESEND_REQUEST:
            self._gap(provider, name, fields, inbound=inbound)
        elif kind == SEQUENCE_RESET:
            self._reset(provider, name, fields, inbound=inbound)

    def _gap(self, provider: str, name: str, fields: dict[int, str], *, inbound: bool) -> None:
        begin, end = fields.get(m.BEGIN_SEQ_NO, "?"), fields.get(m.END_SEQ_NO, "0")
        who = "the counterparty missed ours" if inbound else "we missed the counterparty's"
        payload: dict[str, object] = {
            "direction": "in" if inbound else "out",
            "begin": begin,
            "end": "infinity" if end == "0" else end,
            "detail": who,
            "seq": fields.get(m.MSG_SEQ_NUM),
        }
        with unit_of_work(self._factory) as session:
            entry = _audit(session, AuditEvent.FIX_GAP, provider, name, payload)
            _alert(session, "sequence_gap", f"fix-gap:{entry.seq}", payload | {"session": name})

    def _rejected(self, provider: str, name: str, fields: dict[int, str]) -> None:
        """Our engine refused one of the counterparty's messages (malformed): it never reached
        the platform, so people must look at it in the FIX log."""
        payload: dict[str, object] = {
            "ref_seq": fields.get(m.REF_SEQ_NUM),
            "reason": fields.get(m.TEXT),
            "ref_msg_type": fields.get(372),
        }
        with unit_of_work(self._factory) as session:
            entry = _audit(session, AuditEvent.FIX_MESSAGE_REJECTED, provider, name, payload)
            _alert(session, "message_rejected", f"fix-reject:{entry.seq}", payload)

    def _reset(self, provider: str, name: str, fields: dict[int, str], *, inbound: bool) -> None:
        gap_fill = fields.get(m.GAP_FILL) == "Y"
        payload: dict[str, object] = {
            "direction": "in" if inbound else "out",
            "gap_fill": gap_fill,
            "new_seq": fields.get(m.NEW_SEQ_NO),
            "seq": fields.get(m.MSG_SEQ_NUM),
        }
        with unit_of_work(self._factory) as session:
            event = AuditEvent.FIX_GAP if gap_fill else AuditEvent.FIX_SEQUENCE_RESET
            entry = _audit(session, event, provider, name, payload)
            if not gap_fill:
                subject = f"fix-reset:{entry.seq}"
                _alert(session, "sequence_reset", subject, payload | {"session": name})


def journal_out(
    session: Session, *, provider: str, fix_session: str, fields: dict[int, str], raw: str
) -> FixMessage:
    row = FixMessage(
        provider=provider,
        session=fix_session,
        direction="out",
        msg_type=fields.get(m.MSG_TYPE, "?")[:2],
        seq_num=int(fields.get(m.MSG_SEQ_NUM, "0") or 0),
        poss_dup=fields.get(m.POSS_DUP) == "Y",
        clordid=fields.get(m.CL_ORD_ID),
        raw=m.printable(raw),
    )
    record_new(
        session,
        row,
        event=AuditEvent.FIX_MESSAGE_OUT,
        actor="system:execution",
        kind="fix-message",
        payload={
            "session": fix_session,
            "seq": row.seq_num,
            "msg_type": row.msg_type,
            "poss_dup": row.poss_dup,
            "clordid": row.clordid,
            "message": row.raw,
        },
    )
    return row


def unprocessed(session: Session, *, provider: str, fix_session: str, raw: str) -> None:
    """A message the platform failed to apply: journalled and alerted, for people to redo."""
    fields = m.fields_of(raw)
    row = FixMessage(
        provider=provider,
        session=fix_session,
        direction="in",
        msg_type=fields.get(m.MSG_TYPE, "?")[:2],
        seq_num=int(fields.get(m.MSG_SEQ_NUM, "0") or 0),
        poss_dup=fields.get(m.POSS_DUP) == "Y",
        clordid=fields.get(m.CL_ORD_ID),
        exec_id=fields.get(m.EXEC_ID),
        outcome="failed",
        raw=m.printable(raw),
    )
    record_new(
        session,
        row,
        event=AuditEvent.FIX_MESSAGE_IN,
        actor=f"lp:{provider}",
        kind="fix-message",
        payload={"session": fix_session, "seq": row.seq_num, "outcome": "failed"},
    )
    _alert(session, "not_applied", f"fix-message:{row.id}", {"session": fix_session})


@dataclass(frozen=True)
class SessionLine:
    provider: str
    session: str
    status: str
    clean_logout: bool | None
    next_sender_seq: int | None
    next_target_seq: int | None
    messages_today: int
    gaps_today: list[dict[str, object]]


def overview(session: Session, *, day: dt.date) -> list[SessionLine]:
    """Each known session's state and the gaps and resets of `day` (UTC)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    lines = []
    for state in session.scalars(select(FixSessionState).order_by(FixSessionState.provider)):
        gaps = session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.subject == f"fix-session:{state.provider}",
                AuditEntry.event.in_([AuditEvent.FIX_GAP.value, AuditEvent.FIX_SEQUENCE_RESET]),
                AuditEntry.at >= start,
                AuditEntry.at < end,
            )
            .order_by(AuditEntry.seq)
        )
        count = session.scalar(
            select(func.count())
            .select_from(FixMessage)
            .where(FixMessage.provider == state.provider, FixMessage.at >= start)
            .where(FixMessage.at < end)
        )
        lines.append(
            SessionLine(
                provider=state.provider,
                session=state.session,
                status=state.status,
                clean_logout=state.clean_logout,
                next_sender_seq=state.next_sender_seq,
                next_target_seq=state.next_target_seq,
                messages_today=count or 0,
                gaps_today=[
                    {"event": g.event, "at": g.at.isoformat(), **json.loads(g.payload)}
                    for g in gaps
                ],
            )
        )
    return lines


def end_of_day(session: Session, *, now: dt.datetime) -> list[str]:
    """Alert on each session not logged out cleanly (still on, or dropped); their providers."""
    unclean = []
    for state in session.scalars(select(FixSessionState)):
        if state.status == "logged_out" and state.clean_logout:
            continue
        unclean.append(state.provider)
        payload: dict[str, object] = {
            "status": state.status,
            "session": state.session,
            "day": now.date().isoformat(),
        }
        entry = _audit(session, AuditEvent.FIX_END_OF_DAY, state.provider, state.session, payload)
        _alert(session, "no_clean_logout", f"fix-eod:{entry.seq}", payload)
    return unclean


def _state(session: Session, provider: str, name: str) -> FixSessionState:
    state = session.get(FixSessionState, provider, with_for_update=True)
    if state is None:
        state = FixSessionState(provider=provider, session=name, status="created")
        session.add(state)
    state.session = name
    return state


def _seqs(state: FixSessionState, seqs: tuple[int, int] | None, now: dt.datetime) -> None:
    if seqs is not None:
        state.next_sender_seq, state.next_target_seq = seqs
    state.updated_at = now


def _seq_payload(seqs: tuple[int, int] | None) -> dict[str, object]:
    if seqs is None:
        return {}
    return {"next_sender_seq": seqs[0], "next_target_seq": seqs[1]}


def _audit(
    session: Session, event: AuditEvent, provider: str, name: str, payload: Mapping[str, object]
) -> Recorded:
    """Placed at once: a session event is rare, and its alert names the entry's number."""
    return record_now(
        session,
        event=event,
        actor="system:fix",
        subject=f"fix-session:{provider}",
        payload={"session": name, **payload},
    )


def _alert(session: Session, rule: str, subject: str, detail: Mapping[str, object]) -> None:
    raise_alert(
        session,
        Alert(
            kind="fix-session",
            policy=POLICY,
            rule=rule,
            category="execution",
            severity="high",
            subject=subject,
            detail=json.dumps(dict(detail), default=str),
        ),
    )
