"""Store: the per-mail one-row INSERTs whose new id the caller needs (a stored mail, a ticket, an outbox mail),
run as their SQL text and their values (Connection.exec_driver_sql): compiled once a database from the Core
insert, each value bound by its column's own processor, so the text and values are Core's. Connection.execute
spent about 70 us a row more, on a cache key, parameter processing and a result (an outbox row: 110 us against
42, 3 x 3,000 rows)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the values' column names, in the statement's order
    binds: tuple[Callable[[Any], Any] | None, ...]
    positional: bool
    returning: bool  # the id comes back as a row (else: the cursor's lastrowid, SQLite)


class InsertOne:
    """`insert` (of a table, maybe with ON CONFLICT DO NOTHING) of one row: compiled for each database and each
    set of columns given values (a call site gives the same set each time)."""

    def __init__(self, insert: sa.Insert) -> None:
        self._insert = insert
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def new_id(self, conn: Connection, values: Mapping[str, Any]) -> int:
        found = self.new_id_or_none(conn, values)
        if found is None:
            raise sa.exc.NoResultFound("the row was not inserted")
        return found

    def new_id_or_none(self, conn: Connection, values: Mapping[str, Any]) -> int | None:
        """The new row's id; None when it did not go in (ON CONFLICT DO NOTHING met its conflict)."""
        key = (conn.dialect.name, tuple(values))
        c = self._compiled.get(key) or self._compile(conn.dialect, key)
        bound = [values[n] if bind is None else bind(values[n]) for n, bind in zip(c.names, c.binds, strict=True)]
        result = conn.exec_driver_sql(c.sql, tuple(bound) if c.positional else dict(zip(c.names, bound, strict=True)))
        if c.returning:
            found = result.scalar_one_or_none()
            return None if found is None else int(found)
        return int(result.lastrowid) if result.rowcount == 1 else None

    def _compile(self, dialect: Dialect, key: tuple[str, tuple[str, ...]]) -> _Compiled:
        table = self._insert.table
        assert isinstance(table, sa.Table)
        returning = dialect.name != "sqlite"
        stmt = self._insert.returning(table.c.id) if returning else self._insert
        columns = list(key[1])
        compiled = stmt.compile(dialect=dialect, column_keys=columns)
        positional = bool(compiled.positional)
        names = tuple(compiled.positiontup or ()) if positional else tuple(compiled.params)
        if sorted(names) != sorted(columns):
            raise ValueError(f"{table.name}: the statement binds {sorted(names)}, not {sorted(columns)}")
        binds = tuple(table.c[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
        made = self._compiled[key] = _Compiled(compiled.string, names, binds, positional, returning)
        return made
