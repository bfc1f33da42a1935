"""Store: the database engine. SQLite is tuned for durability before acknowledgement (WAL, FULL sync)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from mailgate.aio import wait_any
from mailgate.store import sqlite_fast
from mailgate.store.faults import is_temporary


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
    """Run `step` until `stop`; when it did nothing, `idle`. Never returns early and never raises for a
    failure: while the database is unavailable, wait 0.5 s, doubling up to 30 s, and try again (such
    errors are nobody's fault and lose nothing); any other error is logged with its traceback and retried
    after the same backoff, so one bad item can never stop a task of the daemon."""
    delay = 0.5
    while not stop.is_set():
        try:
            busy = await step()
            if not busy:
                await idle()
            delay = 0.5
            continue
        except Exception as exc:
            if is_temporary(exc):
                logger.warning("database unavailable, will retry", error=one_line(exc), retry_in=delay)
            else:
                logger.error("unexpected error, will retry", error=one_line(exc), retry_in=delay, exc_info=exc)
        await wait_any(stop, timeout=delay)
        delay = min(delay * 2, 30.0)


def one_line(exc: BaseException) -> str:
    """The error without SQLAlchemy's SQL and parameters: what failed, for a log line."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
