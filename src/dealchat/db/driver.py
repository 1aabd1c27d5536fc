"""Plain statements straight on the driver's cursor, in a Connection's transaction.

For the few fixed statements the audit log's placing runs in every request: SQLAlchemy's
execution context and result object cost about as much as the statement itself
(`exec_driver_sql`: ~66 us against ~32 us for a one-row SELECT on PostgreSQL). Statements are
written with `?` placeholders (psycopg's `%s` is put in for PostgreSQL) and take plain values:
no type processing. Listeners of the engine's `before_cursor_execute` still see every one
(bench/ingest.py counts statements so). Errors are the driver's own (not wrapped).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def fetch(connection: Connection, statement: str, values: Sequence[Any] = ()) -> list[Any]:
    """The rows `statement` answers."""
    cursor = _run(connection, statement, values)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


def change(connection: Connection, statement: str, values: Sequence[Any] = ()) -> int:
    """How many rows `statement` (an INSERT, UPDATE or DELETE) changed."""
    cursor = _run(connection, statement, values)
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


def sql_for(connection: Connection, statement: str) -> str:
    """A statement written with `?` placeholders, in the driver's style (psycopg takes %s)."""
    return statement if connection.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


def _run(connection: Connection, statement: str, values: Sequence[Any]) -> Any:
    sql = sql_for(connection, statement)
    cursor = connection.connection.cursor()
    connection.dispatch.before_cursor_execute(connection, cursor, sql, values, None, False)
    try:
        cursor.execute(sql, values)
    except BaseException:
        cursor.close()
        raise
    return cursor
