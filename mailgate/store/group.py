"""Store: writes that arrive together share one transaction and one fsync (group commit).

Each caller (an SMTP session storing its mail, the sender recording a result) awaits `write(item)`. A commit
takes, once it holds the database (on SQLite, once the other process's transaction is done), every item
waiting at that moment: the longer it had to wait, the more it carries, with no timer and no added wait (the
sender's results, which no client waits for, linger 2 ms for more: half the commits).
Every caller learns the outcome of the commit that holds its item: its result, or the exception (an SMTP
session answers 250 only after its commit, 451 when it failed). When a group of several fails for another
reason than the database being unavailable, each item is tried alone, so one item the database refuses
cannot fail the others.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from mailgate.clock import Clock
from mailgate.store.db import Database
from mailgate.store.faults import database_unavailable

T = TypeVar("T")
R = TypeVar("R")


class GroupWriter(Generic[T, R]):
    def __init__(self, db: Database, write_many: Callable[[Connection, list[T], datetime], list[R]],
                 clock: Clock, *, linger: float = 0.0) -> None:
        self.db = db
        self.linger = linger  # seconds the first item of a group waits for others (0: none, for the 250s)
        self.write_many = write_many  # one transaction for the items; one result per item, in order
        self.clock = clock
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._lock = threading.Lock()  # the event loop adds, the database thread takes
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # transactions that wrote items (for tests and metrics)
        self.items = 0

    async def write(self, item: T) -> R:
        """The item's result once the commit holding it is done; raises when that commit failed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="group commit")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            if self.linger:
                await asyncio.sleep(self.linger)
            try:
                group, results = await self.db.call(self._commit_waiting)
            except _GroupFailed as failed:
                await self._one_by_one(failed.group, failed.error)
                continue
            self._settle(group, results)

    def _take(self) -> list[tuple[T, asyncio.Future[R]]]:
        with self._lock:
            group, self._pending = self._pending, []
        return group

    def _commit_waiting(self) -> tuple[list[tuple[T, asyncio.Future[R]]], list[R]]:
        """On the database thread: once the transaction holds the database, every item waiting now."""
        group: list[tuple[T, asyncio.Future[R]]] = []
        try:
            with self.db.transaction() as conn:
                group = self._take()
                results = self.write_many(conn, [item for item, _ in group], self.clock()) if group else []
        except Exception as exc:
            raise _GroupFailed(group or self._take(), exc) from exc
        self.commits += 1
        self.items += len(group)
        return group, results

    async def _one_by_one(self, group: list[tuple[T, asyncio.Future[R]]], error: Exception) -> None:
        if len(group) > 1 and not database_unavailable(error):
            for item, future in group:
                try:
                    results = await self.db.write(self.write_many, [item], self.clock())
                except Exception as exc:
                    self._settle([(item, future)], None, exc)
                else:
                    self._settle([(item, future)], results)
            return
        self._settle(group, None, error)

    @staticmethod
    def _settle(group: list[tuple[T, asyncio.Future[R]]], results: list[R] | None,
                error: Exception | None = None) -> None:
        for n, (_, future) in enumerate(group):
            if future.done():  # the caller went away (an SMTP client that disconnected)
                continue
            if results is None:
                future.set_exception(error or RuntimeError("not written"))
            else:
                future.set_result(results[n])


class _GroupFailed(Exception):
    """The transaction of a group failed: its items, and why."""

    def __init__(self, group: list[Any], error: Exception) -> None:
        super().__init__(str(error))
        self.group, self.error = group, error
