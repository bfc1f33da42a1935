"""Store: the database engine. SQLite is tuned for durability before acknowledgement (WAL, FULL sync)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# The database is unreachable, locked or refusing for now: retry later, never shunt a mail for it.
TEMPORARY_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, OSError, TimeoutError)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 10_000) -> AsyncEngine:
    """An engine for `url`. SQLite gets one pooled connection: writes serialise in this process
    instead of fighting for the file lock, and a busy timeout covers other processes (CLI, ingest)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_async_engine(url, echo=echo, pool_size=5, max_overflow=5, pool_pre_ping=True)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    async with engine.begin() as conn:
        yield conn
