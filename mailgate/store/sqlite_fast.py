"""Store: an aiosqlite connection whose cursors make one trip to the database thread per statement.

SQLAlchemy's aiosqlite adapter asks aiosqlite for a cursor, the execute, the rows and the close:
four hand-offs to aiosqlite's thread and back through the event loop for every statement, which
cost about 5 ms of a mail's 7.4 ms in the worker on this machine. Here execute + fetch + close run
as one function on that thread. Relies on aiosqlite's Connection._execute and ._conn (0.20-0.22).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import aiosqlite

_Result = tuple[Any, int, int | None, list[Any]]


def _run(conn: sqlite3.Connection, method: str, sql: str, params: Any) -> _Result:
    cursor = conn.cursor()
    try:
        getattr(cursor, method)(sql, params)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneTripCursor:
    """The async cursor SQLAlchemy's adapter expects, doing each statement in one trip."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, sql: str, params: Any) -> OneTripCursor:
        result: _Result = await self._connection._execute(  # type: ignore[no-untyped-call]
            _run, self._connection._conn, method, sql, params)
        self.description, self.rowcount, self.lastrowid, self._rows = result
        return self

    async def execute(self, sql: str, parameters: Any = ()) -> OneTripCursor:
        return await self._call("execute", sql, parameters)

    async def executemany(self, sql: str, seq_of_parameters: Sequence[Any]) -> OneTripCursor:
        return await self._call("executemany", sql, seq_of_parameters)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        n = size or self.arraysize
        rows, self._rows = self._rows[:n], self._rows[n:]
        return rows

    async def close(self) -> None:
        self._rows = []

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        return None


class OneTripConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)


def creator(path: str, **connect_args: Any) -> Callable[[], Any]:
    """An `async_creator` for create_async_engine."""
    async def create() -> aiosqlite.Connection:
        return await OneTripConnection(partial(sqlite3.connect, path, **connect_args), 64)

    return create
