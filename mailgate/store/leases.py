"""Store: leases: which one of the daemons on a database runs each singleton role (advisory lock; SQLite: flock)."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import fcntl
import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from mailgate.aio import wait_any
from mailgate.store.db import is_sqlite, one_line

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

SWEEPER = "sweeper"  # the leader's lease: auto-close, service targets (and `mailgate status` asks for it)
TRY_EVERY = 2.0  # seconds: how often a waiting daemon tries a lease, and a holder checks that it still holds it
_TRY = sa.text("SELECT pg_try_advisory_lock(:key)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(:key)")
# the lease connection of a holder that went away without a word (a host lost, a cable cut) dies within ~15 s
_PG_CONNECT = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
               "keepalives_count": 3, "tcp_user_timeout": 10_000}


def lock_key(name: str) -> int:
    """The PostgreSQL advisory-lock key of a lease: stable across hosts, versions and restarts."""
    return int.from_bytes(hashlib.sha256(f"mailgate:{name}".encode()).digest()[:8], "big", signed=True)


def lock_file(database: str, name: str) -> str:
    """The file beside a SQLite database whose flock is the lease `name`: `<db>.lease-sweeper`,
    `<db>.lease-imap-<hash>`."""
    readable = re.sub(r"[^a-z0-9]+", "-", name.split(":", 1)[0].lower()).strip("-") or "lease"
    suffix = readable if readable == name else f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:16]}"
    return f"{database}.lease-{suffix}"


class Leases(abc.ABC):
    """The leases of one daemon (process) on one database: a lease is held by one holder at a time, and a
    second `take` of it is refused, here too. Every method blocks briefly: call them off the event loop.
    None raises but `take`."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._lock = threading.Lock()  # one call at a time (on PostgreSQL: one statement on the connection)

    def take(self, name: str) -> bool:
        """Take the lease if nobody holds it; raises when the database is unreachable."""
        with self._lock:
            if name in self._held or not self._acquire(name):
                return False
            self._held.add(name)
            return True

    def holds(self, name: str) -> bool:
        """Whether the lease is still ours."""
        with self._lock:
            return name in self._held and self._alive()

    def give_back(self, name: str) -> None:
        with self._lock:
            if name in self._held:
                self._held.discard(name)
                self._release(name)

    def close(self) -> None:
        """Give every lease back."""
        with self._lock:
            for name in list(self._held):
                self._held.discard(name)
                self._release(name)
            self._shut()

    @abc.abstractmethod
    def _acquire(self, name: str) -> bool: ...

    @abc.abstractmethod
    def _release(self, name: str) -> None: ...

    def _alive(self) -> bool:
        return True

    def _shut(self) -> None:
        return None


class PgLeases(Leases):
    """PostgreSQL session advisory locks on a connection of their own, kept open while the process lives:
    a holder that dies closes it (the system does, for a killed process), and the server lets its locks go."""

    def __init__(self, engine: sa.Engine) -> None:
        super().__init__()
        name = f"mailgate {socket.gethostname()[:40]}:{os.getpid()}"  # who holds what, in pg_stat_activity
        self._engine = sa.create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                        connect_args={**_PG_CONNECT, "application_name": name})
        self._conn: sa.Connection | None = None

    def _acquire(self, name: str) -> bool:
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            return bool(self._conn.execute(_TRY, {"key": lock_key(name)}).scalar_one())
        except Exception:
            self._drop()
            raise

    def _alive(self) -> bool:
        """The connection answers (had it failed, the server would have let its locks go)."""
        try:
            assert self._conn is not None
            self._conn.execute(sa.text("SELECT 1"))
        except Exception:
            self._drop()
            return False
        return True

    def _release(self, name: str) -> None:
        try:
            if self._conn is not None:
                self._conn.execute(_UNLOCK, {"key": lock_key(name)})
        except Exception:
            self._drop()  # the connection is gone, and the lock with it

    def _shut(self) -> None:
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        """Close the connection: every lease of this process is let go."""
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
                conn.close()


class FileLeases(Leases):
    """The leases of processes on one SQLite file: an exclusive flock on a file beside it, which the system
    lets go when its holder dies. Without a file (an in-memory database) a lease is this process's alone."""

    def __init__(self, database: str | None) -> None:
        super().__init__()
        self.database = database
        self._fds: dict[str, int] = {}

    def _acquire(self, name: str) -> bool:
        if self.database is None:
            return True
        fd = os.open(lock_file(self.database, name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())  # who holds it, for `cat`
        self._fds[name] = fd
        return True

    def _release(self, name: str) -> None:
        fd = self._fds.pop(name, None)
        if fd is not None:
            os.close(fd)  # the flock goes with its only descriptor


def leases_for(engine: sa.Engine) -> Leases:
    """The leases of the database behind `engine` (no connection is opened before the first `take`)."""
    if is_sqlite(engine):
        path = engine.url.database
        return FileLeases(path if path and path != ":memory:" else None)
    return PgLeases(engine)


def probe(conn: sa.Connection, name: str) -> bool:
    """Whether some process holds the lease now: taken without waiting and given back at once."""
    if conn.dialect.name != "sqlite":
        if not conn.execute(_TRY, {"key": lock_key(name)}).scalar_one():
            return True
        conn.execute(_UNLOCK, {"key": lock_key(name)})
        return False
    path = conn.engine.url.database
    if not path or path == ":memory:":
        return False
    try:
        fd = os.open(lock_file(path, name), os.O_RDONLY)
    except FileNotFoundError:  # no daemon ever ran on this file
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def run_held(leases: Leases, name: str, role: Callable[[asyncio.Event], Awaitable[None]],
                   stop: asyncio.Event, logger: FilteringBoundLogger, *, waiting: str,
                   every: float = TRY_EVERY, **fields: object) -> None:
    """Run `role(until)` whenever this process holds the lease `name`, until `stop`. While another process
    holds it, try again every `every` seconds (`waiting` is logged once, not at every try). While running it,
    check the lease as often; lost (its connection failed), the role is told to stop and the lease is tried
    again after `every`. The role's own errors are its own: they end this task."""
    told: str | None = None  # what was last logged about not holding it: once each, not at every try
    while not stop.is_set():
        try:
            taken = await asyncio.to_thread(leases.take, name)
        except Exception as exc:
            taken = False
            if told != "error":
                logger.warning("lease unavailable, will retry", lease=name, error=one_line(exc), retry_every=every,
                               **fields)
                told = "error"
        else:
            if not taken and told != "busy":
                logger.info(waiting, lease=name, retry_every=every, **fields)
                told = "busy"
        if not taken:
            await wait_any(stop, timeout=every)
            continue
        told = None
        logger.info("lease taken: this instance runs it", lease=name, **fields)
        started = time.monotonic()
        if await _while_held(leases, name, role, stop, every):
            logger.warning("lease lost with its database connection: stopped, will take it again when free",
                           lease=name, held_seconds=round(time.monotonic() - started, 1), **fields)
            await wait_any(stop, timeout=every)  # the others, whose link may be sound, try first


async def _while_held(leases: Leases, name: str, role: Callable[[asyncio.Event], Awaitable[None]],
                      stop: asyncio.Event, every: float) -> bool:
    """Run the role until it returns or `stop`, and give the lease back; True when the lease was lost first."""
    until = asyncio.Event()
    task = asyncio.ensure_future(role(until))
    stopping = asyncio.ensure_future(stop.wait())
    lost = False
    try:
        while not task.done():
            await asyncio.wait({task, stopping}, timeout=every, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                break
            if stop.is_set() or not await asyncio.to_thread(leases.holds, name):
                lost = not stop.is_set()
                until.set()
                break
        await task  # the role finishes the work in hand (a poller its batch: stored once even if taken over)
    finally:
        stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.to_thread(leases.give_back, name)
    return lost
