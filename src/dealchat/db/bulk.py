"""Rows written with one plain statement on the driver, not through the unit of work's flush."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Column, Table, insert, inspect
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached

from dealchat.db.driver import Prepared

_INSERTS: dict[Table, Prepared] = {}


def insert_all(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """`rows` (each with every column of `table`) into `table` in the session's transaction:
    the table's INSERT, compiled once (`db.driver.Prepared`: the columns' types convert the
    values as SQLAlchemy would), run once per row in one driver call (psycopg pipelines them:
    one round trip)."""
    if not rows:
        return
    prepared = _INSERTS.get(table)
    if prepared is None:
        prepared = _INSERTS[table] = Prepared(insert(table))
    prepared.insert(session.connection(), rows)


def insert_new(session: Session, instance: Any) -> None:
    """Insert one new mapped instance as `session.add` + `flush` would, and make it the
    session's persistent instance, without the unit of work: its table's INSERT on the driver
    (`insert_all`), the columns' Python defaults filled in (`default=new_id`, ...). A session
    with other changes not yet flushed, a class with relationships or database-side defaults
    the INSERT would override, or a primary key the database generates, goes through the unit
    of work (flushed in its order)."""
    mapper = cast(Mapper[Any], inspect(type(instance)))
    columns = _insertable(mapper)
    if columns is not None and not (session.new or session.dirty or session.deleted):
        values = vars(instance)
        for key, column in columns:
            if key not in values or (values[key] is None and column.primary_key):
                values[key] = _default(column)
        if all(values[key] is not None for key, column in columns if column.primary_key):
            table = cast(Table, mapper.local_table)
            insert_all(session, table, [{column.key: values[key] for key, column in columns}])
            make_transient_to_detached(instance)  # as if loaded: its values are the row's
            session.add(instance)
            return
    session.add(instance)  # the unit of work: flushed in its order, a generated key read back
    session.flush()


_COLUMNS: dict[Mapper[Any], list[tuple[str, Column[Any]]] | None] = {}


def _insertable(mapper: Mapper[Any]) -> list[tuple[str, Column[Any]]] | None:
    """Each column with its attribute, when `insert_new` can write the class's rows itself."""
    if mapper not in _COLUMNS:
        table = cast(Table, mapper.local_table)
        columns = [(mapper.get_property_by_column(c).key, c) for c in table.columns]
        plain = not mapper.relationships and all(_plain_default(c) for _, c in columns)
        _COLUMNS[mapper] = columns if plain else None
    return _COLUMNS[mapper]


def _plain_default(column: Column[Any]) -> bool:
    default = column.default
    if default is None:
        return column.server_default is None
    return bool(default.is_scalar or default.is_callable)


def _default(column: Column[Any]) -> Any:
    default = cast(Any, column.default)
    if default is None:
        return None
    return default.arg(None) if default.is_callable else default.arg
