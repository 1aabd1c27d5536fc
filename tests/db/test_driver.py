"""db.driver and db.bulk: Core statements compiled once and run on the driver's cursor
(`Prepared`), rows so read made into the session's persistent instances (`Loading`) and new
instances inserted without the unit of work (`insert_new`), on both databases, with what
SQLAlchemy itself would send and load: the same values, the same identity map."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, bindparam, event, insert, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from dealchat.conversations.models import Conversation
from dealchat.db import migrate
from dealchat.db.bulk import insert_new
from dealchat.db.driver import Loading, Prepared
from dealchat.db.session import make_engine, make_session_factory
from dealchat.identity.models import ChatIdentity, User
from dealchat.orders.models import Quote
from dealchat.records.models import AuditQueue

CONVERSATION = cast(Table, Conversation.__table__)
IDENTITY, USER = cast(Table, ChatIdentity.__table__), cast(Table, User.__table__)
NOW = dt.datetime(2026, 12, 8, 9, 30, 0, 123456, tzinfo=dt.UTC)
PARIS = dt.timezone(dt.timedelta(hours=1))

LOCKING = Loading(
    select(CONVERSATION).where(CONVERSATION.c.external_id == bindparam("external_id")),
    Conversation,
    populate_existing=True,
)
ORM_FIND = (
    select(ChatIdentity, User)
    .outerjoin(User, User.id == ChatIdentity.user_id)
    .where(ChatIdentity.external_id == bindparam("external_id"))
)
FINDING = Loading(
    select(IDENTITY, USER)
    .select_from(IDENTITY.outerjoin(USER, USER.c.id == IDENTITY.c.user_id))
    .where(IDENTITY.c.external_id == bindparam("external_id")),
    ChatIdentity,
    User,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    migrate.upgrade(built)
    yield built
    built.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add(Conversation(id="c1", channel="webchat", external_id="e1", last_seq=3))
        session.add(User(id="u1", username="alice", kind="client", password_hash="x"))
        session.flush()
        session.add(Conversation(id="c2", channel="webchat", external_id="e2", client_id="u1"))
        session.add(
            ChatIdentity(
                id="i1",
                channel="webchat",
                external_id="x1",
                user_id="u1",
                authenticated_at=NOW,
                last_active_at=NOW,
            )
        )
    return factory


def test_prepared_converts_values_by_type_and_keeps_the_statements_own(
    sessions: sessionmaker[Session],
) -> None:
    take_next = Prepared(
        update(CONVERSATION)
        .where(CONVERSATION.c.id == bindparam("conversation"))
        .values(last_seq=CONVERSATION.c.last_seq + 1, updated_at=bindparam("at"))
        .returning(CONVERSATION.c.last_seq)
    )
    with sessions.begin() as session:
        rows = take_next.fetch(session.connection(), {"conversation": "c1", "at": NOW})
        assert [tuple(row) for row in rows] == [(4,)]  # `+ 1` came from the statement
        gone = {"conversation": "nope", "at": NOW.astimezone(PARIS)}
        assert take_next.fetch(session.connection(), gone) == []
    with sessions() as session:
        stored = session.get(Conversation, "c1")
        assert stored is not None
        assert stored.last_seq == 4
        assert stored.updated_at == NOW  # UtcDateTime: stored as UTC, read back aware


def test_prepared_refuses_a_naive_time_as_sqlalchemy_would(
    sessions: sessionmaker[Session],
) -> None:
    write = Prepared(update(CONVERSATION).values(updated_at=bindparam("at")))
    with sessions.begin() as session, pytest.raises(ValueError, match="naive"):
        write.change(session.connection(), {"at": NOW.replace(tzinfo=None)})


def test_prepared_insert_writes_each_row_and_counts_every_statement(
    sessions: sessionmaker[Session], engine: Engine
) -> None:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    add = Prepared(insert(CONVERSATION))
    rows = [
        {
            "id": f"n{n}",
            "channel": "webchat",
            "external_id": f"new-{n}",
            "created_at": NOW.astimezone(PARIS),
            "last_seq": n,
            "updated_at": None,
            "client_id": None,
            "handled_by_id": None,
        }
        for n in range(3)
    ]
    with sessions.begin() as session:
        add.insert(session.connection(), rows[:1])
        add.insert(session.connection(), rows[1:])
    inserts = [sql for sql in seen if not sql.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    assert len(inserts) == 2
    assert all(sql.startswith("INSERT INTO conversation") for sql in inserts)
    with sessions() as session:
        found = session.scalars(select(Conversation).where(Conversation.id.like("n%"))).all()
        assert sorted((c.id, c.last_seq, c.created_at) for c in found) == [
            (f"n{n}", n, NOW) for n in range(3)
        ]


def test_prepared_takes_no_in_list() -> None:
    listed = Prepared(
        select(CONVERSATION).where(CONVERSATION.c.id.in_(bindparam("ids", expanding=True)))
    )
    with pytest.raises(ValueError, match="expanding"):
        listed._for(make_engine("sqlite://").dialect)


def test_loaded_rows_are_persistent_as_the_orm_loads_them(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        [(found,)] = LOCKING.rows(session, {"external_id": "e1"})
        state = inspect(found)
        assert state.persistent
        assert not session.dirty
        assert not session.new
        assert (found.id, found.last_seq, found.channel) == ("c1", 3, "webchat")
        assert session.get(Conversation, "c1") is found  # the identity map has it
        found.last_seq = 9
        assert state.attrs.last_seq.history.deleted == [3]  # a change like any other
    with sessions() as session:
        stored = session.get(Conversation, "c1")
        assert stored is not None
        assert stored.last_seq == 9


def test_joined_rows_load_each_instance_and_none_for_a_missing_one(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        [(linked, user)] = FINDING.rows(session, {"external_id": "x1"})
        assert (linked.id, user.username, user.created_at.tzinfo) == ("i1", "alice", dt.UTC)
        assert linked.authenticated_at == NOW
        assert FINDING.rows(session, {"external_id": "x3"}) == []
        clients = Loading(
            select(CONVERSATION, USER)
            .select_from(CONVERSATION.outerjoin(USER, USER.c.id == CONVERSATION.c.client_id))
            .order_by(CONVERSATION.c.id),
            Conversation,
            User,
        )
        [(first, no_client), (second, client)] = clients.rows(session, {})
        assert (first.id, no_client) == ("c1", None)
        assert (second.id, client) == ("c2", user)  # the same instance: the identity map's


def test_a_session_with_changes_or_the_row_gets_the_orms_query(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        pending = ChatIdentity(
            id="i3",
            channel="webchat",
            external_id="x3",
            user_id="u1",
            authenticated_at=NOW,
            last_active_at=NOW,
        )
        session.add(pending)  # not flushed: only the ORM's query (it flushes first) finds it
        [(found, _)] = FINDING.rows(session, {"external_id": "x3"})
        assert found is pending
    with sessions.begin() as session:
        held = session.get(Conversation, "c1")
        assert held is not None
        session.connection().execute(update(CONVERSATION).values(last_seq=7))  # past the ORM
        [(found,)] = LOCKING.rows(session, {"external_id": "e1"})
        assert found is held
        assert held.last_seq == 7  # populate_existing, as the ORM's query says


def _values(instance: Any) -> dict[str, Any]:
    return {a.key: a.value for a in inspect(instance).attrs}


def test_loaded_as_the_orm_loads(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        [(identity, user)] = FINDING.rows(session, {"external_id": "x1"})
        ours = (_values(identity), _values(user))
    with sessions() as session:
        identity, user = session.execute(ORM_FIND, {"external_id": "x1"}).one()
        assert ours == (_values(identity), _values(user))


def _quote(**values: Any) -> Quote:
    return Quote(
        conversation_id="c1",
        client_id="u1",
        pair="EURUSD",
        quantity=Decimal("1000000.00"),
        bid=Decimal("1.08215"),
        ask=Decimal("1.08235"),
        source="simulated",
        expires_at=NOW,
        **values,
    )


def test_insert_new_writes_the_row_as_a_flush_would(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ours = _quote()
        insert_new(session, ours)  # id and created_at from the columns' defaults
        assert inspect(ours).persistent
        assert not session.new
        assert not session.dirty
        assert session.get(Quote, ours.id) is ours
        flushed = _quote(created_at=NOW)
        session.add(flushed)
        session.flush()
    with sessions() as session:
        mine, theirs = session.get(Quote, ours.id), session.get(Quote, flushed.id)
        assert mine is not None
        assert theirs is not None
        assert len(mine.id) == len(theirs.id)
        assert (mine.bid, mine.ask, mine.quantity) == (theirs.bid, theirs.ask, theirs.quantity)
        assert mine.expires_at == theirs.expires_at == NOW
        assert mine.created_at.tzinfo == dt.UTC


def test_insert_new_with_changes_pending_goes_through_the_unit_of_work(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        conversation = session.get(Conversation, "c1")
        assert conversation is not None
        conversation.last_seq = 11  # pending: flushed first, in the unit of work's order
        quote = _quote()
        insert_new(session, quote)
        assert not session.dirty
        assert inspect(quote).persistent
    with sessions() as session:
        assert session.get(Quote, quote.id) is not None
        stored = session.get(Conversation, "c1")
        assert stored is not None
        assert stored.last_seq == 11


def test_prepared_rows_come_back_converted_by_their_columns_types(
    sessions: sessionmaker[Session],
) -> None:
    when = Prepared(
        select(CONVERSATION.c.created_at, CONVERSATION.c.last_seq).where(
            CONVERSATION.c.id == bindparam("id")
        )
    )
    with sessions.begin() as session:
        conversation = session.get(Conversation, "c1")
        assert conversation is not None
        conversation.created_at = NOW.astimezone(PARIS)  # read flushes it first (autoflush)
        [(created, seq)] = when.read(session, {"id": "c1"})
        assert (created, created.tzinfo, seq) == (NOW, dt.UTC, 3)


def test_insert_new_leaves_a_generated_key_to_the_unit_of_work(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        queued = AuditQueue(at=0, event="e", actor="a", subject="s", payload="{}")
        insert_new(session, queued)  # its id comes from the database
        assert queued.id is not None
        assert inspect(queued).persistent
