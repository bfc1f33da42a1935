"""Store: the database and the thread its transactions run on: each transaction is one plain synchronous
function (SQLAlchemy Core), handed to the database thread in one trip from the event loop.

SQLite (the embedded default): WAL, synchronous=FULL (a commit is on disk before anything is acknowledged),
one connection on one thread, and writes begin IMMEDIATE so that a transaction holds the write lock from its
first statement (no read-then-write upgrade that another process could make fail). PostgreSQL: psycopg 3,
a small pool with as many threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import functools
import os
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from mailgate.aio import wait_any
from mailgate.store.columns import json_text, json_value
from mailgate.store.db_threads import DatabaseThreads
from mailgate.store.faults import is_temporary

P = ParamSpec("P")
T = TypeVar("T")
PG_THREADS = 4  # PostgreSQL: concurrent transactions of one process (listener, worker, sender, sweeper)


def sync_url(url: str) -> str:
    """The SQLAlchemy URL of the synchronous driver: sqlite3 or psycopg 3 (asyncpg and aiosqlite URLs of
    earlier configs are accepted and mapped)."""
    for written, driver in (("sqlite+aiosqlite://", "sqlite+pysqlite://"), ("sqlite://", "sqlite+pysqlite://"),
                            ("postgresql+asyncpg://", "postgresql+psycopg://"),
                            ("postgresql+psycopg2://", "postgresql+psycopg://"),
                            ("postgresql://", "postgresql+psycopg://"), ("postgres://", "postgresql+psycopg://")):
        if url.startswith(written):
            return driver + url[len(written):]
    return url


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = 10_000,
                pool_size: int = PG_THREADS) -> sa.Engine:
    url = sync_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, pool_size=2, max_overflow=0, pool_timeout=60,  # KeptConnection
                                  connect_args={"check_same_thread": False}, **_JSON)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # transactions are ours (BEGIN below), not pysqlite's
            for pragma in ("journal_mode=WAL", "synchronous=FULL", f"busy_timeout={int(busy_timeout_ms)}",
                           "foreign_keys=ON"):
                dbapi_conn.execute(f"PRAGMA {pragma}")

        @event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("read_only") else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql+psycopg"):
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise DriverMissing("PostgreSQL needs its driver: pip install 'mailgate[postgresql]' (psycopg 3)") from None
    return sa.create_engine(url, echo=echo, pool_size=pool_size, max_overflow=0, pool_pre_ping=True,
                            pool_timeout=60, **_JSON)


_JSON: dict[str, Any] = dict(json_serializer=json_text, json_deserializer=json_value)  # store/columns.JSON


class DriverMissing(RuntimeError):
    """The configured database's driver is not installed."""


def is_sqlite(engine: sa.Engine) -> bool:
    return engine.dialect.name == "sqlite"


class WriterLock:
    """SQLite has one writer at a time. The processes of mailgate on one file (the daemon's two, the command
    line) take turns through this lock file, which wakes a waiter the moment the writer is done; SQLite's own
    busy handler sleeps in steps of up to 100 ms, which put 200 ms on the listener's 250 under load."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    def __enter__(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self.fd)


class KeptConnection:
    """A SQLite file's connection, kept open from one transaction to the next: taken from and given back to
    the pool each time, it cost 32 us more a transaction (checkout, the rollback of the reset on return, a new
    Connection). One thread at a time holds it, as the pool of one connection let one thread at a time have a
    connection; the pool keeps a second for what uses the engine itself (migrations, the command line)."""

    def __init__(self, engine: sa.Engine, timeout: float = 60.0) -> None:
        self._engine, self._timeout = engine, timeout
        self._lock = threading.Lock()
        self._conn: sa.Connection | None = None
        self._closing = False

    def __enter__(self) -> sa.Connection:
        if not self._lock.acquire(timeout=self._timeout):
            raise sa.exc.TimeoutError(f"no database connection free within {self._timeout:g} s")
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._engine.connect()
            return self._conn
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if kind is not None or self._closing:  # whatever failed, the next transaction starts on a fresh
                self._drop()  # connection, as from the pool (not one left to roll back, after a failed commit)
        finally:
            self._lock.release()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection: the pool discards it
                conn.invalidate()

    def close(self) -> None:
        """Closed now, or by the thread that holds it once it is done: a read that hangs does not hold up the
        daemon's stop (the pool's dispose did not wait for a connection in use either)."""
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._drop()
            finally:
                self._lock.release()


class Database:
    """An engine and its thread(s). `write(fn, ...)` runs `fn(conn, ...)` in one transaction, committed when it
    returns and rolled back when it raises; `read(fn, ...)` on a connection that writes nothing."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.is_sqlite = is_sqlite(engine)
        path = engine.url.database if self.is_sqlite else None
        self._writer = WriterLock(f"{path}.writer-lock") if path and path != ":memory:" else None
        self._kept = KeptConnection(engine) if self._writer is not None else None
        threads = 1 if self.is_sqlite else (engine.pool.size() if isinstance(engine.pool, sa.QueuePool)
                                            else PG_THREADS)
        self._threads = DatabaseThreads(threads, "mailgate-db")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A write transaction in the calling thread: committed at the end of the block, rolled back if it raises."""
        if self._kept is None:
            with self._writer or contextlib.nullcontext(), self.engine.begin() as conn:
                yield conn
            return
        with self._writer or contextlib.nullcontext(), self._kept as conn, conn.begin():
            yield conn

    def write_now(self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`write`, in the calling thread (the command line, the database thread itself)."""
        with self.transaction() as conn:
            return fn(conn, *args, **kwargs)

    def read_now(self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self.engine.connect() if self._kept is None else self._kept as conn:
            conn.execution_options(read_only=True)  # in place: the begin event says BEGIN, not IMMEDIATE
            try:
                return fn(conn, *args, **kwargs)
            finally:
                conn.rollback()
                conn.execution_options(read_only=False)

    async def write(self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._on_thread(self.write_now, fn, *args, **kwargs)

    async def read(self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._on_thread(self.read_now, fn, *args, **kwargs)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Any synchronous function on the database thread (one that manages its own transactions)."""
        return await self._on_thread(fn, *args, **kwargs)

    async def _on_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self._threads.call(functools.partial(contextvars.copy_context().run, fn, *args, **kwargs))

    def close(self) -> None:
        self._threads.close()
        if self._kept is not None:
            self._kept.close()
        self.engine.dispose()
        if self._writer is not None:
            self._writer.close()


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


def reason(exc: BaseException) -> str:
    """The first line of the driver's own message (SQLAlchemy's next lines quote the SQL and its parameters);
    the error's class when it has none."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


def shown_url(url: str) -> str:
    """A database URL for a message to a person: its password as ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: say so rather than print what may hold a password
        return "(the configured [database] url)"


def without_password(text: str, url: str) -> str:
    """`text` with the URL's password (should a driver quote it) replaced by ***."""
    try:
        password = make_url(url).password
    except Exception:
        return text
    return text.replace(str(password), "***") if password else text


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (None for another database or :memory:)."""
    parsed = make_url(sync_url(url))
    if not parsed.drivername.startswith("sqlite"):
        return None
    return parsed.database if parsed.database and parsed.database != ":memory:" else None
