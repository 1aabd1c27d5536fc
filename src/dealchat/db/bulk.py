"""Rows written with one plain Core statement, not through the unit of work's flush."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy.orm import Session

_INSERTS: dict[tuple[str, Table], Insert] = {}


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """`rows` (every one with the same keys) into `table` in the session's transaction, in one
    statement. PostgreSQL: one `INSERT ... VALUES (..), (..)`, which SQLAlchemy writes so for an
    insert that returns something (the primary keys, unread). SQLite: one executemany of the
    cached statement, cheaper in process (SQLite is a library: there is no round trip)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect.name
    statement = _INSERTS.get((dialect, table))
    if statement is None:
        statement = insert(table)
        if dialect == "postgresql":
            statement = statement.returning(*table.primary_key.columns)
        _INSERTS[dialect, table] = statement
    connection.execute(statement, list(rows))
