"""Store, SQLite: a big binary value written through the blob I/O of its row, into a zeroblob of its size, and
read back through it.

Bound to a statement, SQLite copies the value, and Python's sqlite3 keeps the statement in its cache with that
copy still bound to it until the statement runs again: a 34 MB mail stayed in memory once more for each
statement that had stored it (benchmarks/attachment_memory.py). Selected, the value is in memory twice, SQLite's
copy and Python's bytes; read through the blob, once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import Connection

BIG = 64 * 1024  # smaller values are bound to their statement as they are


def big(conn: Connection, value: bytes | None) -> bool:
    """Whether `value` goes in through blob I/O on this connection: SQLite, and at least BIG bytes."""
    return value is not None and len(value) >= BIG and conn.dialect.name == "sqlite"


def empty(size_param: str) -> sa.ColumnElement[bytes]:
    """The value to insert in its place: a zeroblob of the size bound as `size_param`."""
    return sa.func.zeroblob(sa.bindparam(size_param), type_=sa.LargeBinary)


def write(conn: Connection, table: sa.Table, column: str, rowid: int, value: bytes) -> None:
    """`value` into the zeroblob of its size that row `rowid` of `table` holds in `column`."""
    with conn.connection.dbapi_connection.blobopen(table.name, column, rowid) as blob:  # type: ignore[union-attr]
        blob.write(value)


def small(column: sa.ColumnElement[bytes]) -> sa.ColumnElement[bytes | None]:
    """`column` where its value is under BIG bytes, else NULL (to `read`); SQLite's length() of a blob is read
    from its row's header, without the value."""
    return sa.case((sa.func.length(column) < BIG, column), else_=sa.null()).label(column.name)


def read(conn: Connection, table: sa.Table, column: str, rowid: int) -> bytes:
    """The value row `rowid` of `table` holds in `column`, read into its bytes at once."""
    with conn.connection.dbapi_connection.blobopen(  # type: ignore[union-attr]
            table.name, column, rowid, readonly=True) as blob:
        return bytes(blob.read())
