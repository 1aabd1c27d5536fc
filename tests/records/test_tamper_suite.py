# ruff: noqa: E501 - the mutation table reads best as one line per kind of change
"""The tamper suite: every kind of change someone with write access to the database can make to
the records (with the append-only triggers lifted first) is detected and named by the checks a
compliance officer runs: `verify_log` with the checkpoint keys, the witness's latest cosigned
checkpoint, and the deep check of message and order rows. On SQLite and PostgreSQL.

The log: 40 entries in two conversation streams plus a conversation with messages and a filled
order, signed at 2 and at the end, the end cosigned by a file witness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import InboundMessage
from dealchat.channels.outbox import OutboxItem
from dealchat.conversations.desk import handle_inbound
from dealchat.conversations.integrity import deep_check
from dealchat.conversations.models import Message
from dealchat.db.session import reading, unit_of_work
from dealchat.orders import service as orders
from dealchat.orders.models import Order
from dealchat.records.checkpoints import CheckpointKeys, create_checkpoint
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import entry_leaf_hash
from dealchat.records.models import (
    AuditCheckpoint,
    AuditEntry,
    AuditHead,
    AuditNode,
    AuditStream,
)
from dealchat.records.notes import Signer, checkpoint_body, sign_note
from dealchat.records.service import NewEntry, append
from dealchat.records.verify import verify_log
from dealchat.records.witness import Witness
from dealchat.records.witness_check import ask_witnesses, judge, wanted_roots
from dealchat.records.witness_http import LocalWitness
from dealchat.records.witnessing import Witnessing
from dealchat.settings import Settings
from tests.factories.identity import make_user
from tests.records.attacks import changed_fields, lift_triggers, roll_back


@dataclasses.dataclass
class Logged:
    platform: Platform
    keys: CheckpointKeys
    witness: LocalWitness
    size: int
    order: str
    messages: list[str]


def _entries(count: int, start: int = 0) -> list[NewEntry]:
    return [NewEntry(AuditEvent.MESSAGE_RECEIVED, "client", f"conversation:c{i % 2}", {"n": i})
            for i in range(start, start + count)]  # fmt: skip


@pytest.fixture
def logged(platform: Platform, settings: Settings, tmp_path: Path) -> Logged:
    keys = CheckpointKeys.load(settings.keys_dir, settings.records.origin)
    with unit_of_work(platform.sessions) as session:
        append(session, entries=_entries(2))
        create_checkpoint(session, keys=keys)
        append(session, entries=_entries(38, start=2))
    alice = make_user(platform)
    for n, words in enumerate(("hello", "mkt eurusd 1m", "status")):
        with unit_of_work(platform.sessions) as session:
            handle_inbound(session, desk=platform.desk, message=InboundMessage(
                "webchat", "conv-tamper-01", "sender-tamper-1", f"m-tamper-{n}", words))  # fmt: skip
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Message.conversation_id)).first()
        order = orders.create_ticket(
            session, conversation_id=conversation, client_id=alice.id, now=platform.desk.clock(),
            ticket_fields={"side": "buy", "pair": "EUR/USD", "isin": None, "dealt_currency": "EUR",
                           "quantity": Decimal(1_000_000), "tenor": None, "order_type": "market",
                           "limit_price": None, "counterparty": None, "quote_id": None},
        )  # fmt: skip
        orders.place(session, order=order, counterparty=platform.desk.counterparty,
                     now=platform.desk.clock())  # fmt: skip
        assert order.state == "filled"
        order_id = order.id
        signed = create_checkpoint(session, keys=keys)
        assert signed is not None
        size = signed.size
        messages = list(session.scalars(select(Message.id).order_by(Message.created_at)))
    local = Witness(tmp_path / "witness", name="w.bank.example/tamper",
                    logs={keys.origin: keys.keyring})  # fmt: skip
    witness = LocalWitness(local, local.key)
    Witnessing(platform.sessions, witnesses=[witness]).run_once()
    assert _findings(platform, keys, witness) == [], "the untouched records pass every check"
    lift_triggers(platform)
    return Logged(platform, keys, witness, size, order_id, messages)


def _findings(platform: Platform, keys: CheckpointKeys, witness: LocalWitness) -> list[str]:
    """What the compliance officer's checks report: the log, the witness, the rows."""
    asked = ask_witnesses([witness], origin=keys.origin, log_keys=keys.keyring)
    with reading(platform.sessions) as session:
        found = []
        for chunk_level in (15, 4):  # one chunk, and many chunks joined: the same verdict
            result = verify_log(
                session, keys=keys.keyring, chunk_level=chunk_level, roots_at=wanted_roots(asked)
            )
            if not result.ok:
                found.append(f"entry {result.first_bad_seq}: {result.problem}")
        if result.ok:
            verdicts = judge(asked, size=result.checked, roots=result.roots)
            found += [f.message for f in verdicts if f.verdict != "ok"]
        found += [str(problem) for problem in deep_check(session)]
    return found


def _rehashed(session: Session, seq: int, **changes: Any) -> None:
    """Change an entry and recompute its own leaf hash (what a careful forger does)."""
    entry = session.get(AuditEntry, seq)
    assert entry is not None
    leaf = entry_leaf_hash(changed_fields(entry, **changes))
    session.execute(
        update(AuditEntry).where(AuditEntry.seq == seq).values(**changes, leaf_hash=leaf)
    )


def _body_flip(session: Session, logged: Logged) -> None:
    row = session.get(Message, logged.messages[1])
    assert row is not None
    assert row.body is not None
    body = bytearray(row.body)
    body[-1] ^= 0x01  # one bit of one byte, whatever it was
    session.execute(update(Message).where(Message.id == row.id).values(body=bytes(body)))


def _fork(session: Session, logged: Logged) -> None:
    roll_back(session, to=30)
    append(session, entries=_entries(logged.size - 30 + 5, start=500))
    create_checkpoint(session, keys=logged.keys)


Mutation = Callable[[Session, Logged], None]
MUTATIONS: dict[str, tuple[Mutation, str]] = {
    # entries
    "payload edited": (lambda s, lg: s.execute(update(AuditEntry).where(AuditEntry.seq == 5).values(payload='{"n":99}')), "entry 5: entry 5 was altered"),
    "payload edited, leaf rehashed": (lambda s, lg: _rehashed(s, 5, payload='{"n":99}'), "entry 7 was altered"),  # 7 follows 5 in its stream
    "event changed": (lambda s, lg: s.execute(update(AuditEntry).where(AuditEntry.seq == 7).values(event="order:filled")), "entry 7 was altered"),
    "time changed": (lambda s, lg: s.execute(text("UPDATE audit_entry SET at = at + 1 WHERE seq = 9")), "entry 9 was altered"),
    "actor changed": (lambda s, lg: s.execute(update(AuditEntry).where(AuditEntry.seq == 11).values(actor="compliance")), "entry 11 was altered"),
    "entry deleted": (lambda s, lg: s.execute(delete(AuditEntry).where(AuditEntry.seq == 20)), "entry 20 is missing"),
    "moved to another stream": (lambda s, lg: _rehashed(s, 6, subject="conversation:c0"), "breaks the stream of conversation:c0"),
    "stream link cut": (lambda s, lg: s.execute(update(AuditEntry).where(AuditEntry.seq == 14).values(prev_seq=2)), "entry 14 breaks the stream"),
    "entry appended behind the head": (lambda s, lg: s.execute(text("INSERT INTO audit_entry (seq, at, event, actor, subject, payload, stream_seq, prev_seq, leaf_hash) SELECT seq + 1, at, event, actor, 'x', payload, 1, 0, leaf_hash FROM audit_entry WHERE seq = (SELECT MAX(seq) FROM audit_entry)")), "was altered"),
    # nodes
    "node altered": (lambda s, lg: s.execute(update(AuditNode).where(AuditNode.level == 4, AuditNode.idx == 1).values(hash=bytes(32))), "tree node over entries 17-32"),
    "node deleted": (lambda s, lg: s.execute(delete(AuditNode).where(AuditNode.level == 5, AuditNode.idx == 0)), "tree node over entries 1-32"),
    "node added": (lambda s, lg: s.execute(insert(AuditNode).values(level=9, idx=7, hash=bytes(32))), "covers no entries"),
    # checkpoints
    "checkpoint signed by another key": (lambda s, lg: s.execute(update(AuditCheckpoint).where(AuditCheckpoint.size == 2).values(note=sign_note(checkpoint_body(lg.keys.origin, 2, bytes(s.get(AuditCheckpoint, 2).root)), [Signer(lg.keys.origin, Ed25519PrivateKey.generate())]))), "the checkpoint at size 2: no valid signature"),  # type: ignore[union-attr]
    "checkpoint root column altered": (lambda s, lg: s.execute(update(AuditCheckpoint).where(AuditCheckpoint.size == 2).values(root=bytes(32))), "do not match the checkpoint signed at 2"),
    "checkpoint note text altered": (lambda s, lg: s.execute(update(AuditCheckpoint).where(AuditCheckpoint.size == 2).values(note=AuditCheckpoint.note + "x")), "the checkpoint at size 2"),
    "checkpoint added past the log": (lambda s, lg: s.execute(insert(AuditCheckpoint).values(size=lg.size + 9, root=bytes(32), at=lg.platform.desk.clock(), note="x")), "(a checkpoint covers"),
    # heads
    "head root altered": (lambda s, lg: s.execute(update(AuditHead).values(root=bytes(32))), "the log head's root does not match"),
    "head size moved back": (lambda s, lg: s.execute(update(AuditHead).values(seq=AuditHead.seq - 3)), "missing (head is at"),
    "head right edge altered": (lambda s, lg: s.execute(update(AuditHead).values(frontier=bytes(32) + bytes(s.scalars(select(AuditHead.frontier)).one()))), "the log head's root does not match"),
    "stream head moved back": (lambda s, lg: s.execute(update(AuditStream).where(AuditStream.subject == "conversation:c1").values(seq=3)), "the stream of conversation:c1 is at 3"),
    "stream head deleted": (lambda s, lg: s.execute(delete(AuditStream).where(AuditStream.subject == "conversation:c0")), "the stream of conversation:c0 is at 0"),
    # rollbacks, with and without the checkpoints over them, and a fork the witness saw
    "rollback keeping the checkpoints": (lambda s, lg: (s.execute(delete(AuditEntry).where(AuditEntry.seq > 35)), s.execute(update(AuditHead).values(seq=35))), "entries after 35 are missing (a checkpoint covers"),
    "rollback with the checkpoints, consistent": (lambda s, lg: roll_back(s, to=30), "rollback: witness w.bank.example/tamper cosigned"),
    "fork shown to the witness": (_fork, "fork: entries 1-"),
    # operational rows
    "message body byte flipped": (_body_flip, "its sealed body does not match its audit entry"),
    "message row deleted": (lambda s, lg: (s.execute(update(Message).where(Message.reply_to_id == lg.messages[0]).values(reply_to_id=None)), s.execute(delete(OutboxItem).where(OutboxItem.message_id == lg.messages[0])), s.execute(delete(Message).where(Message.id == lg.messages[0]))), "is missing (its audit entry remains)"),
    "message moved to another conversation": (lambda s, lg: s.execute(update(Message).where(Message.id == lg.messages[1]).values(direction="xx")), "has another direction"),
    "message row inserted": (lambda s, lg: s.add(Message(id="e" * 32, conversation_id=s.scalars(select(Message.conversation_id)).first(), direction="in", sender_id="x", body=b"\x00")), "has no audit entry"),
    "filled quantity x100": (lambda s, lg: s.execute(update(Order).where(Order.id == lg.order).values(quantity=Order.quantity * 100, fill_quantity=Order.fill_quantity * 100)), "quantity differ from its audit entry"),
    "fill price changed": (lambda s, lg: s.execute(update(Order).where(Order.id == lg.order).values(fill_price=Decimal("0.01"))), "fill (price) differs"),
    "order side flipped": (lambda s, lg: s.execute(update(Order).where(Order.id == lg.order).values(side="sell")), "side differ"),
}  # fmt: skip


def test_the_suite_covers_at_least_twenty_kinds() -> None:
    assert len(MUTATIONS) >= 20


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_each_mutation_is_detected_and_named(logged: Logged, kind: str) -> None:
    mutate, named = MUTATIONS[kind]
    with unit_of_work(logged.platform.sessions) as session:
        mutate(session, logged)
    found = _findings(logged.platform, logged.keys, logged.witness)
    assert found, f"{kind}: not detected"
    assert any(named in problem for problem in found), f"{kind}: {found}"
