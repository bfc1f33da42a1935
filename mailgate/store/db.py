"""Store: the database engine. SQLite is tuned for durability before acknowledgement (WAL, FULL sync)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mailgate.aio import wait_any
from mailgate.store import sqlite_fast

# The database is unreachable, locked or refusing for now: retry later, never shunt a mail for it.
TEMPORARY_ERRORS: tuple[type[BaseException], ...] = (OperationalError, InterfaceError, OSError, TimeoutError)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 10_000) -> AsyncEngine:
    """An engine for `url`. SQLite gets one pooled connection: writes serialise in this process
    instead of fighting for the file lock, and a busy timeout covers other processes (CLI, ingest)."""
    if url.startswith("sqlite"):
        database = make_url(url).database or ":memory:"
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60,
                                     async_creator=sqlite_fast.creator(database))

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


async def repeat_while_up(
    stop: asyncio.Event,
    step: Callable[[], Awaitable[bool]],
    idle: Callable[[], Awaitable[None]],
    logger: Any,
) -> None:
    """Run `step` until `stop`; when it did nothing, `idle`. While the database is unavailable, wait
    0.5 s, doubling up to 30 s, and try again: such errors are nobody's fault and lose nothing."""
    delay = 0.5
    while not stop.is_set():
        try:
            busy = await step()
            delay = 0.5
        except TEMPORARY_ERRORS as exc:
            logger.warning("database unavailable, will retry", error=str(exc), retry_in=delay)
            await wait_any(stop, timeout=delay)
            delay = min(delay * 2, 30.0)
            continue
        if not busy:
            await idle()
