"""Store: the per-mail statements run as their SQL text and values (Connection.exec_driver_sql): the one-row
INSERTs whose new id the caller needs (a stored mail, a ticket, an outbox mail) and a batch's inserts and
updates (Later). Compiled once a database and set of values from the Core statement, each value bound by its
own type's processor, so the text and the values are Core's. Connection.execute spent about 70 us a statement
more, on a cache key, parameter processing and a result (an outbox row: 110 us against 42, 3 x 3,000 rows).
Inside a transaction they run on the driver's cursor, their errors raised as SQLAlchemy raises them: the
worker 12.60 -> 12.42 M instructions a mail (benchmarks/worker_instructions.py --callgrind)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect

_Key = tuple[str, tuple[str, ...], bool]  # the database's name, the values' names, an executemany


@dataclass(frozen=True, slots=True)
class _Text:
    sql: str
    names: tuple[str, ...]  # the statement's bound parameters, in its order
    given: tuple[bool, ...]  # each from the values (else the statement's own: `.values(claimed_by=None)`)
    fixed: tuple[Any, ...]
    binds: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    returning: bool  # one row comes back (an INSERT's id, off SQLite)

    def bound(self, values: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        out = [values[n] if g else f for n, g, f in zip(self.names, self.given, self.fixed, strict=True)]
        out = [v if b is None else b(v) for v, b in zip(out, self.binds, strict=True)]
        return tuple(out) if self.positional else dict(zip(self.names, out, strict=True))


class Statement:
    """A Core INSERT (maybe with ON CONFLICT DO NOTHING) or UPDATE run by its text; `returning`: an INSERT's
    new id wanted (RETURNING off SQLite, the cursor's lastrowid on it)."""

    def __init__(self, statement: sa.Insert | sa.Update, *, returning: bool = False) -> None:
        self._statement, self._returning = statement, returning
        self._texts: dict[_Key, _Text] = {}

    def new_id(self, conn: Connection, values: Mapping[str, Any]) -> int:
        found = self.new_id_or_none(conn, values)
        if found is None:
            raise sa.exc.NoResultFound("the row was not inserted")
        return found

    def new_id_or_none(self, conn: Connection, values: Mapping[str, Any]) -> int | None:
        """The new row's id; None when it did not go in (ON CONFLICT DO NOTHING met its conflict)."""
        text = self._text(conn.dialect, values, many=False)
        params = text.bound(values)
        if not _direct(conn):
            result = conn.exec_driver_sql(text.sql, params)
            if text.returning:
                found = result.scalar_one_or_none()
                return None if found is None else int(found)
            return int(result.lastrowid) if result.rowcount == 1 else None
        with _run(conn, text.sql, params, many=False) as cursor:
            if text.returning:
                row = cursor.fetchone()
                return None if row is None else int(row[0])
            return int(cursor.lastrowid) if cursor.rowcount == 1 else None

    def run(self, conn: Connection, values: Mapping[str, Any]) -> None:
        """The statement once, for its effect (an UPDATE of one row by its id)."""
        text = self._text(conn.dialect, values, many=False)
        self._effect(conn, text.sql, text.bound(values), many=False)

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """The statement once for each row (an executemany); the rows give the same names."""
        text = self._text(conn.dialect, rows[0], many=True)
        self._effect(conn, text.sql, [text.bound(r) for r in rows], many=True)

    @staticmethod
    def _effect(conn: Connection, sql: str, params: Any, *, many: bool) -> None:
        """Run for its effect alone: on the driver's cursor inside a transaction, else through SQLAlchemy."""
        if not _direct(conn):
            conn.exec_driver_sql(sql, params)
            return
        with _run(conn, sql, params, many=many):
            pass

    def _text(self, dialect: Dialect, values: Mapping[str, Any], *, many: bool) -> _Text:
        key = (dialect.name, tuple(values), many)
        return self._texts.get(key) or self._compile(dialect, key)

    def _compile(self, dialect: Dialect, key: _Key) -> _Text:
        statement, returning = self._statement, self._returning and dialect.name != "sqlite"
        table = statement.table
        assert isinstance(table, sa.Table)
        python_side = [c.name for c in table.c if (c.default if isinstance(statement, sa.Insert) else c.onupdate)
                       is not None and c.name not in key[1]]
        if python_side:  # Core's execution fills those in; the text alone would leave them NULL
            raise ValueError(f"{table.name}: {python_side} have Python-side defaults: run it through Core")
        if isinstance(statement, sa.Insert):
            if returning:
                statement = statement.returning(table.c.id)
            # for_executemany: no RETURNING of the id PostgreSQL's single-row INSERT would otherwise carry
            compiled = statement.compile(dialect=dialect, column_keys=list(key[1]), for_executemany=key[2])
        else:
            compiled = statement.compile(dialect=dialect)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(dict.fromkeys(compiled.bind_names.values()))
        given = tuple(n in key[1] for n in names)
        fixed = tuple(None if g else compiled.binds[n].value for n, g in zip(names, given, strict=True))
        binds = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
        made = self._texts[key] = _Text(compiled.string, names, given, fixed, binds, positional, returning)
        return made


def _direct(conn: Connection) -> bool:
    """The driver's cursor may run the statement: inside a transaction begun (no autobegin needed), nothing to
    echo. Connection.exec_driver_sql spent 5 us more a statement on its execution context and result."""
    return conn.in_transaction() and not conn.engine.echo


@contextlib.contextmanager
def _run(conn: Connection, sql: str, params: Any, *, many: bool) -> Iterator[Any]:
    """The statement on the driver's cursor, open for its result in the block; a driver error raised as
    SQLAlchemy raises it (the same class, the connection invalidated when the driver says it is lost), so that
    store/faults reads it alike."""
    dialect = conn.dialect
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        try:
            if many:
                cursor.executemany(sql, params)
            else:
                cursor.execute(sql, params)
        except dialect.loaded_dbapi.Error as exc:
            lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor)
            if lost:
                conn.invalidate(exc)
            raise sa.exc.DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error,
                                             connection_invalidated=lost, dialect=dialect) from exc
        yield cursor
    finally:
        cursor.close()
