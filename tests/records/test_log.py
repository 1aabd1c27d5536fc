"""The stored tree on SQLite and PostgreSQL: appends, roots after restart, proofs, streams."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, event, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db.session import make_engine, make_session_factory, unit_of_work
from dealchat.records import hooks, merkle, service
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import STREAM_GENESIS, Queued
from dealchat.records.models import AuditEntry, AuditHead, AuditNode, AuditStream
from dealchat.records.service import (
    TILE_LEVEL,
    NewEntry,
    append,
    consistency_proof,
    in_stream,
    inclusion_proof,
    pending,
    record,
    root_at,
    stream_entries,
    tree_size,
    verify,
)


def _fill(sessions: sessionmaker[Session], count: int, *, subjects: int = 3) -> None:
    with unit_of_work(sessions) as session:
        append(
            session,
            entries=[
                NewEntry(AuditEvent.MESSAGE_RECEIVED, "client", f"conversation:c{i % subjects}",
                         {"text": f"message {i}"})
                for i in range(count)
            ],
        )  # fmt: skip


def _leaves(session: Session) -> list[bytes]:
    return [
        bytes(h) for h in session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.seq))
    ]


def test_appends_one_by_one_and_in_batches_build_the_same_tree(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as session:
        for i in range(5):
            record(session, event=AuditEvent.ORDER_PLACED, actor="a", subject="order:o1",
                   payload={"i": i})  # fmt: skip
    _fill(sessions, 70)
    with unit_of_work(sessions) as session:
        leaves = _leaves(session)
        reference = merkle.MemoryTree(leaves)
        assert tree_size(session) == 75
        head = session.get(AuditHead, 1)
        assert head is not None
        assert bytes(head.root) == reference.root()
        for size in (1, 2, 7, 8, 33, 45, 64, 75):
            assert root_at(session, size) == reference.root(size)
        stored = {(n.level, n.idx): bytes(n.hash) for n in session.scalars(select(AuditNode))}
        expected = {
            (level, index): reference.node((level, index))
            for level in range(TILE_LEVEL, len(reference.levels))
            for index in range(len(reference.levels[level]))
        }
        assert stored == expected
        assert verify(session).ok


def test_proofs_from_stored_nodes_verify_against_the_root(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    _fill(sessions, 77)
    with unit_of_work(sessions) as session:
        leaves = _leaves(session)
    reference = merkle.MemoryTree(leaves)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with unit_of_work(sessions) as session:
        inclusion_proof(session, 1)  # the transaction's BEGIN, the upper levels' one-time read
        for seq in (1, 2, 38, 64, 65, 77):
            statements.clear()
            index, size, path = inclusion_proof(session, seq)
            assert (index, size) == (seq - 1, 77)
            assert path == reference.inclusion_proof(seq - 1)
            assert merkle.verify_inclusion(index, size, leaves[index], path, reference.root())
            assert 1 <= len(statements) <= 4  # the head, leaves, nodes: not one read per leaf
        early = inclusion_proof(session, 3, tree_size=10)
        assert merkle.verify_inclusion(2, 10, leaves[2], early.path, reference.root(10))
        for old in (1, 10, 64, 76, 77):
            proof = consistency_proof(session, old_size=old)
            assert merkle.verify_consistency(old, 77, reference.root(old), reference.root(), proof)
        with pytest.raises(LookupError):
            inclusion_proof(session, 78)
        with pytest.raises(LookupError):
            inclusion_proof(session, 1, tree_size=78)


def test_the_root_survives_a_restart(database_url: str, sessions: sessionmaker[Session]) -> None:
    _fill(sessions, 21)
    with unit_of_work(sessions) as session:
        before = root_at(session, 21)
    again = make_engine(database_url)
    try:
        with unit_of_work(make_session_factory(again)) as session:
            head = session.get(AuditHead, 1)
            assert head is not None
            assert bytes(head.root) == before
            assert inclusion_proof(session, 21).tree_size == 21
    finally:
        again.dispose()


def test_each_subject_has_its_own_numbered_chain(sessions: sessionmaker[Session]) -> None:
    _fill(sessions, 10, subjects=3)
    _fill(sessions, 4, subjects=2)
    with unit_of_work(sessions) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.subject == "conversation:c0")
            .order_by(AuditEntry.seq)
        ).all()  # fmt: skip
        assert [e.stream_seq for e in entries] == list(range(1, 7))
        assert bytes(entries[0].stream_prev) == STREAM_GENESIS
        for before, after in itertools.pairwise(entries):
            assert bytes(after.stream_prev) == bytes(before.leaf_hash)
        head = session.get(AuditStream, "conversation:c0")
        assert head is not None
        assert (head.seq, bytes(head.last)) == (6, bytes(entries[-1].leaf_hash))


def test_nodes_are_append_only_like_entries(
    sessions: sessionmaker[Session],
) -> None:
    _fill(sessions, 40)
    for statement in (
        "UPDATE audit_node SET hash = hash WHERE level = 4",
        "DELETE FROM audit_node WHERE level = 5",
        "DELETE FROM audit_entry WHERE seq = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(sessions) as session:
            session.execute(text(statement))


def test_after_record_hooks_see_every_new_entry(sessions: sessionmaker[Session]) -> None:
    """Hooks see each entry as it is recorded, in the recording transaction (it is numbered at
    commit); direct appends are shown to them too."""
    seen: list[tuple[str, str]] = []

    def hook(session: Session, entries: Sequence[Queued]) -> None:
        assert session.in_transaction()
        seen.extend((entry.event, entry.subject) for entry in entries)

    hooks.install(sessions, hook)
    _fill(sessions, 3, subjects=1)
    with unit_of_work(sessions) as session:
        record(session, event=AuditEvent.ORDER_FILLED, actor="lp", subject="order:o", payload={})
        assert seen[-1] == ("order:filled", "order:o")
        assert len(pending(session)) == 1  # placed at commit,
        assert tree_size(session) == 4  # or before the transaction reads the log
        assert pending(session) == []
    assert seen == [("message:received", "conversation:c0")] * 3 + [("order:filled", "order:o")]


def test_a_stream_is_read_along_its_links(sessions: sessionmaker[Session]) -> None:
    _fill(sessions, 25, subjects=4)
    _fill(sessions, 7, subjects=2)
    with unit_of_work(sessions) as session:
        for subject in ("conversation:c0", "conversation:c1", "conversation:c3", "nobody"):
            scanned = session.scalars(
                select(AuditEntry.seq).where(AuditEntry.subject == subject).order_by(AuditEntry.seq)
            ).all()
            walked = session.scalars(
                select(AuditEntry.seq).where(in_stream(subject)).order_by(AuditEntry.seq)
            ).all()
            assert walked == scanned
            assert [fields.seq for fields in stream_entries(session, subject)] == scanned


def test_proofs_after_a_rolled_back_append_use_the_nodes_committed_since(
    sessions: sessionmaker[Session],
) -> None:
    """The node cache keeps only committed nodes: a proof taken inside an append that rolls back
    leaves nothing behind for the entries appended in its place."""
    _fill(sessions, 40)
    with unit_of_work(sessions) as session:
        inclusion_proof(session, 3)  # fills the cache from committed nodes
    with sessions() as session:
        session.begin()
        _append_more(session, "rolled back")
        assert inclusion_proof(session, 50).tree_size == 80
        session.rollback()
    with unit_of_work(sessions) as session:
        _append_more(session, "kept")
    with unit_of_work(sessions) as session:
        tree = merkle.MemoryTree(_leaves(session))
        for seq in (3, 41, 50, 80):
            assert inclusion_proof(session, seq).path == tree.inclusion_proof(seq - 1)
        assert root_at(session, 80) == tree.root()


def _append_more(session: Session, text_: str) -> None:
    append(
        session,
        entries=[
            NewEntry(AuditEvent.MESSAGE_RECEIVED, "client", "conversation:c9", {"text": text_})
            for _ in range(40)
        ],
    )


def test_the_first_proof_loads_the_upper_levels_in_one_read(
    engine: Engine, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session that appended nothing loads the upper levels into the engine's node cache once
    (as many as WARM_NODES allows); they are the committed nodes, and proofs stay exact."""
    monkeypatch.setattr(service, "WARM_NODES", 8)
    _fill(sessions, 200)
    with unit_of_work(sessions) as session:  # appends: never warms the cache
        _append_more(session, "more")
        inclusion_proof(session, 3)
    cache = service._NodeCache.of(engine)
    assert not cache.warmed
    with unit_of_work(sessions) as session:
        tree = merkle.MemoryTree(_leaves(session))
        assert inclusion_proof(session, 7).path == tree.inclusion_proof(6)
    assert cache.warmed
    # 240 entries: 2 * (240 >> 5) = 14 nodes from level 5 up is more than 8, 2 * (240 >> 6) = 6 not;
    # (6, 0) is an ancestor of entry 7, never read by its proof: only the warm-up brings it
    upper = {node for node in cache.nodes if node[0] >= 6}
    assert upper == {(6, 0), (6, 1), (6, 2), (7, 0)}
    assert all(cache.nodes[node] == tree.node(node) for node in cache.nodes)
