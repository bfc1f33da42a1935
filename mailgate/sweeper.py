"""Shell: the periodic sweep that auto-closes tickets whose resolution went unanswered (one
transaction per ticket, the ticket locked and checked again inside it)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mailgate import effects, log
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config import Settings
from mailgate.core import autoclose
from mailgate.core.model import Status
from mailgate.outgoing import Outgoing
from mailgate.store import tickets
from mailgate.store.db import repeat_while_up
from mailgate.store.tables import ticket

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
            candidates = list((await conn.execute(
                sa.select(ticket.c.id).where(ticket.c.status == Status.ANSWER_SENT.value)
                .order_by(ticket.c.status_changed_at).limit(BATCH)
            )).scalars())
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
                await effects.apply(conn, self.outgoing, outcome, now=now, views=views, inbound=None)
            closed += 1
            logger.info("ticket auto-closed", ticket=ticket_id, after_days=days)
        if closed:
            for event in self.on_queued:
                event.set()
        return closed
