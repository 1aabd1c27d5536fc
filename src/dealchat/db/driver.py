"""Plain statements straight on the driver's cursor, in a Connection's transaction.

For the fixed statements every request runs (the audit log's placing, a chat message's turn):
SQLAlchemy's execution context and result object cost about as much as the statement itself
(`exec_driver_sql`: ~66 us against ~32 us for a one-row SELECT on PostgreSQL; a prebuilt Core
UPDATE ~90 us against ~56 us; an ORM load of one row ~300 us against ~200 us here). Three ways:
- `fetch` / `change`: a statement written with `?` placeholders (psycopg's `%s` is put in for
  PostgreSQL) taking plain values, no type processing;
- `Prepared`: a Core statement compiled once per dialect, its values and its rows converted
  by their columns' types exactly as SQLAlchemy would (`UtcDateTime`: to UTC and aware);
- `Loading`: a Prepared SELECT of whole rows made into the session's persistent instances, as
  the ORM loads them.
Listeners of the engine's `before_cursor_execute` still see every statement (bench/ingest.py
counts statements so). Errors are the driver's own (not wrapped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Executable, Select, Table, inspect, select
from sqlalchemy.orm import Mapper, Session, make_transient_to_detached
from sqlalchemy.sql.compiler import SQLCompiler


def fetch(connection: Connection, statement: str, values: Sequence[Any] = ()) -> list[Any]:
    """The rows `statement` answers."""
    return _fetch(connection, sql_for(connection, statement), values)


def change(connection: Connection, statement: str, values: Sequence[Any] = ()) -> int:
    """How many rows `statement` (an INSERT, UPDATE or DELETE) changed."""
    return _change(connection, sql_for(connection, statement), values)


def sql_for(connection: Connection, statement: str) -> str:
    """A statement written with `?` placeholders, in the driver's style (psycopg takes %s)."""
    return statement if connection.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # the names in placeholder order (qmark), else by name
    defaults: dict[str, Any]  # values the statement holds itself (`last_seq + 1`'s 1)
    processors: tuple[tuple[str, Processor], ...]  # each bound value's type conversion
    columns: tuple[Any, ...]  # what it answers: a SELECT's columns, or what DML returns

    def parameters(self, values: Mapping[str, Any]) -> Any:
        merged = {**self.defaults, **values}
        for name, process in self.processors:
            merged[name] = process(merged[name])
        return merged if self.order is None else tuple(merged[name] for name in self.order)


class Prepared:
    """A Core statement compiled once for each dialect and run on the driver's cursor, with
    its values by bind name (`bindparam("x")`, or a column's name in `insert(table)`). No
    expanding (`IN`-list) parameters: for those, a statement per list length (`fetch`)."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._results: dict[str, tuple[Processor | None, ...] | None] = {}

    def fetch(self, connection: Connection, values: Mapping[str, Any]) -> list[Any]:
        """The rows, their values converted by their columns' types (`UtcDateTime`: aware)."""
        compiled = self._for(connection.dialect)
        cursor = _run(connection, compiled.sql, compiled.parameters(values))
        try:
            rows = cursor.fetchall()
            results = self._results.get(connection.dialect.name, ())
            if results == ():  # known once the driver has described the columns
                results = self._results[connection.dialect.name] = _results_of(
                    compiled.columns, cursor.description, connection.dialect
                )
        finally:
            cursor.close()
        return rows if results is None else [_converted(row, results) for row in rows]

    def read(self, session: Session, values: Mapping[str, Any]) -> list[Any]:
        """`fetch` in the session's transaction, after flushing its changes as an ORM query
        would (autoflush): the statement sees what the session wrote."""
        autoflush(session)
        return self.fetch(session.connection(), values)

    def change(self, connection: Connection, values: Mapping[str, Any]) -> int:
        compiled = self._for(connection.dialect)
        return _change(connection, compiled.sql, compiled.parameters(values))

    def insert(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Each of `rows` by the statement (an INSERT); several in one driver `executemany`
        (psycopg pipelines them: one round trip)."""
        compiled = self._for(connection.dialect)
        if len(rows) == 1:
            _change(connection, compiled.sql, compiled.parameters(rows[0]))
            return
        batch = [compiled.parameters(row) for row in rows]
        _run(connection, compiled.sql, batch, many=True).close()

    def _for(self, dialect: Dialect) -> _Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found


def autoflush(session: Session) -> None:
    """Flush the session's changes first, as its own queries do (unless in `no_autoflush`)."""
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))  # type: ignore[attr-defined]
    binds = compiled.bind_names  # each BindParameter -> its name in the SQL
    if any(bind.expanding for bind in binds):
        raise ValueError("Prepared takes no expanding (IN-list) parameters")
    processors = []
    for bind, name in binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((name, process))
    defaults = {name: bind.value for bind, name in binds.items() if bind.value is not None}
    order = None if compiled.positiontup is None else tuple(compiled.positiontup)
    columns = tuple(getattr(statement, "exported_columns", ()))
    return _Compiled(compiled.string, order, defaults, tuple(processors), columns)


def _results_of(
    columns: tuple[Any, ...], description: Sequence[Any] | None, dialect: Dialect
) -> tuple[Processor | None, ...] | None:
    """Each answered column's type conversion, as SQLAlchemy picks it from the driver's type
    code of the column; None when no column needs one."""
    if not description:
        return None
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, described[1])
        for column, described in zip(columns, description, strict=True)
    )
    return results if any(results) else None


def _converted(row: Sequence[Any], results: tuple[Processor | None, ...]) -> tuple[Any, ...]:
    return tuple(
        value if process is None else process(value)
        for value, process in zip(row, results, strict=True)
    )


class Loading:
    """Instances of mapped classes read by a Prepared SELECT of their tables' whole rows (each
    table's columns in order, as `select(table)` gives them; an outer join's missing row is
    None), made persistent in the session as the ORM makes what it loads; the session's changes
    are flushed first, as its own queries do. A session holding one of the rows already (or
    in `no_autoflush` with changes) gets the same statement loaded by the ORM (`orm`), which
    keeps what it holds, or refreshes it with `populate_existing`."""

    def __init__(
        self, statement: Select[Any], *models: type[Any], populate_existing: bool = False
    ) -> None:
        self._prepared = Prepared(statement)
        orm = select(*models).from_statement(statement)  # the same rows, loaded by the ORM
        self.orm = orm.execution_options(populate_existing=populate_existing)
        self._shapes = [_Shape.of(cast(Mapper[Any], inspect(model))) for model in models]

    def rows(self, session: Session, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows, each a tuple of instances (None for an outer join's missing row)."""
        if not session.autoflush and (session.new or session.dirty or session.deleted):
            return [tuple(row) for row in session.execute(self.orm, values)]
        autoflush(session)
        connection = session.connection()
        raw = self._prepared.fetch(connection, values)
        made = [self._made(session, row) for row in raw]
        if any(instance is _HELD for row in made for instance in row):
            return [tuple(row) for row in session.execute(self.orm, values)]
        return [tuple(row) for row in made]

    def _made(self, session: Session, row: Sequence[Any]) -> list[Any]:
        made, start = [], 0
        for shape in self._shapes:
            values = row[start : start + len(shape.keys)]
            start += len(shape.keys)
            made.append(shape.persistent(session, values))
        return made


_HELD = object()  # the session holds this row already: the ORM's query decides


@dataclass(frozen=True)
class _Shape:
    """A mapped class's row: each column's attribute, in table order."""

    mapper: Mapper[Any]
    keys: tuple[str, ...]
    primary: tuple[str, ...]  # the primary key's attributes

    @classmethod
    def of(cls, mapper: Mapper[Any]) -> _Shape:
        table = cast(Table, mapper.local_table)
        keys = tuple(mapper.get_property_by_column(column).key for column in table.columns)
        primary = tuple(mapper.get_property_by_column(c).key for c in mapper.primary_key)
        return cls(mapper, keys, primary)

    def persistent(self, session: Session, values: Sequence[Any]) -> Any:
        """The row as the session's persistent instance; None for an outer join's missing
        row; _HELD when the session has it already."""
        if all(value is None for value in values):
            return None
        state = dict(zip(self.keys, values, strict=True))  # converted by Prepared.fetch
        identity = self.mapper.identity_key_from_primary_key(
            tuple(state[key] for key in self.primary)
        )
        if identity in session.identity_map:
            return _HELD
        instance = self.mapper.class_manager.new_instance()  # as the ORM loads: no __init__,
        vars(instance).update(state)  # the values straight into the instance's dict
        make_transient_to_detached(instance)  # committed as loaded: no change to flush
        session.add(instance)
        return instance


def _fetch(connection: Connection, sql: str, values: Any) -> list[Any]:
    cursor = _run(connection, sql, values)
    try:
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _change(connection: Connection, sql: str, values: Any) -> int:
    cursor = _run(connection, sql, values)
    try:
        return int(cursor.rowcount)
    finally:
        cursor.close()


def _run(connection: Connection, sql: str, values: Any, *, many: bool = False) -> Any:
    """The cursor `sql` ran on (`executemany` of `values` when `many`), after the engine's
    listeners saw it; closed here only if it failed."""
    cursor = connection.connection.cursor()
    connection.dispatch.before_cursor_execute(connection, cursor, sql, values, None, many)
    try:
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values)
    except BaseException:
        cursor.close()
        raise
    return cursor
