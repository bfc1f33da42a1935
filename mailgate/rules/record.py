"""Shell, rules: the rules a worker runs and each reload's result, written to the database (store/rules_state)
by the process that loads them, so that /metrics tells them whichever process of the daemon serves it."""

from __future__ import annotations

import asyncio
import os
from collections import deque
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from mailgate import instance, log
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config.settings import Settings
from mailgate.rules.load import Reload, RulesHolder
from mailgate.store import rules_state
from mailgate.store.db import Database, one_line, repeat_while_up

logger = log.get("rules")


def daemon_name(settings: Settings) -> str:
    """What names a daemon in rules_state: its host and config file (the same across its restarts)."""
    return f"{instance.HOST}:{os.path.abspath(settings.source)}"


@dataclass(frozen=True, slots=True)
class _Entry:
    result: Reload | None  # None: the worker started with the rules it has
    at: datetime


class RulesRecord:
    """Takes each reload's result from the holder (on whichever thread reloads), and writes them in order from
    the daemon's event loop; an entry stays until it is written (a database that is down is waited for)."""

    def __init__(self, holder: RulesHolder, db: Database, daemon: str, clock: Clock) -> None:
        self.holder, self.db, self.daemon, self.clock = holder, db, daemon, clock
        self._pending: deque[_Entry] = deque([_Entry(None, clock())])
        self._loop: asyncio.AbstractEventLoop | None = None
        self.wake = asyncio.Event()
        holder.on_reload.append(self.note)

    def note(self, result: Reload) -> None:
        """RulesHolder.on_reload: from any thread."""
        self._pending.append(_Entry(result, self.clock()))
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.wake.set)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()

        async def step() -> bool:
            if not self._pending:
                return False
            await self.db.write(self._write, self._pending[0])
            self._pending.popleft()
            return True

        async def idle() -> None:
            await wait_any(stop, self.wake, timeout=60.0)
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)
        try:  # what came in while stopping
            while self._pending:
                await self.db.write(self._write, self._pending.popleft())
        except Exception as exc:
            logger.warning("rules state not recorded", error=one_line(exc))

    def _write(self, conn: Connection, entry: _Entry) -> None:
        result = entry.result
        if result is None:
            rules_state.started(conn, self.daemon, len(self.holder.rules), entry.at)
        elif result.ok:
            rules_state.reloaded(conn, self.daemon, result.rules, entry.at)
        else:
            rules_state.refused(conn, self.daemon, result.rules, list(result.errors), entry.at)
