"""Store: writes that arrive together share one transaction and one fsync (group commit).

Each caller (an SMTP session storing its mail, the sender recording a result) awaits `write(item)`; while a
commit is on the database thread the next items queue, and the next commit takes them all: no timer, no
added wait. Every caller learns the outcome of the commit that holds its item: its result, or the exception
(an SMTP session answers 250 only after its commit, 451 when it failed). When a group of several fails for
another reason than the database being unavailable, each item is tried alone, so one item the database
refuses cannot fail the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import Connection

from mailgate.clock import Clock
from mailgate.store.db import Database
from mailgate.store.faults import database_unavailable

T = TypeVar("T")
R = TypeVar("R")


class GroupWriter(Generic[T, R]):
    def __init__(self, db: Database, write_many: Callable[[Connection, list[T], datetime], list[R]],
                 clock: Clock) -> None:
        self.db = db
        self.write_many = write_many  # one transaction for the items; one result per item, in order
        self.clock = clock
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.commits = 0  # transactions that wrote items (for tests and metrics)
        self.items = 0

    async def write(self, item: T) -> R:
        """The item's result once the commit holding it is done; raises when that commit failed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="group commit")
        return await future

    async def _flush(self) -> None:
        while self._pending:
            group, self._pending = self._pending, []
            await self._commit(group)

    async def _commit(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.db.write(self.write_many, [item for item, _ in group], self.clock())
            self.commits += 1
            self.items += len(group)
        except Exception as exc:
            if len(group) > 1 and not database_unavailable(exc):
                for one in group:
                    await self._commit([one])
                return
            for _, future in group:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(group, results, strict=True):
            if not future.done():
                future.set_result(result)
