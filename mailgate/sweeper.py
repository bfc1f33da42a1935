"""Shell, scheduled work: the periodic sweep that auto-closes tickets whose resolution went unanswered and tells the
supervisors of breached service targets (one transaction per ticket, locked and checked again inside it)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from mailgate import log, write
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config.settings import Settings
from mailgate.core.workflow import autoclose, breach
from mailgate.outbound.queue import Outgoing
from mailgate.store import tickets
from mailgate.store.db import repeat_while_up

logger = log.get("sweeper")
BATCH = 100


class Sweeper:
    def __init__(self, settings: Settings, engine: AsyncEngine, outgoing: Outgoing, clock: Clock) -> None:
        self.settings = settings
        self.engine = engine
        self.outgoing = outgoing
        self.clock = clock
        self.on_queued: list[asyncio.Event] = []
        self.wake = asyncio.Event()  # tests (and a future CLI) ask for a sweep now

    async def run(self, stop: asyncio.Event) -> None:
        async def step() -> bool:
            closed = await self.sweep_once()
            return closed >= BATCH  # a full batch: there may be more at once

        async def idle() -> None:
            await wait_any(stop, self.wake, timeout=self.settings.workflow.sweep_interval)
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)

    async def sweep_once(self) -> int:
        """Close every ticket due now (up to BATCH); returns how many were closed."""
        now = self.clock()
        days = self.settings.workflow.auto_close_days
        async with self.engine.connect() as conn:
            candidates = await tickets.awaiting_confirmation(conn, BATCH)
        closed = 0
        for ticket_id in candidates:
            async with self.engine.begin() as conn:
                views = await tickets.load_views(conn, [ticket_id])
                view = views.get(ticket_id)
                if view is None or not autoclose.due(view, now, days):
                    continue
                outcome = autoclose.close(view, days)
                if outcome.disposition == "ignored":
                    continue
                await write.apply(conn, self.outgoing, outcome, now=now, views=views, inbound=None)
            closed += 1
            logger.info("ticket auto-closed", ticket=ticket_id, after_days=days)
        breached = await self._breaches(now)
        if closed or breached:
            for event in self.on_queued:
                event.set()
        return closed

    async def _breaches(self, now: datetime) -> int:
        """Tell the supervisors of each ticket past a service target, once per target."""
        async with self.engine.connect() as conn:
            candidates = await tickets.breach_candidates(conn, now, BATCH)
        supervisors = tuple(self.settings.sla.supervisors)
        told = 0
        for ticket_id in candidates:
            async with self.engine.begin() as conn:
                views = await tickets.load_views(conn, [ticket_id])  # locked: checked again inside
                view = views.get(ticket_id)
                targets = tuple((t.name, t.due) for t in view.targets if t.to_tell(now) and t.due) if view else ()
                if view is None or not targets:
                    continue
                outcome = breach.notice(view, targets, supervisors, now)
                await write.apply(conn, self.outgoing, outcome, now=now, views=views, inbound=None)
            told += 1
            logger.warning("service target breached", ticket=ticket_id, targets=[n for n, _ in targets])
        return told
