"""Shell: the periodic sweep that auto-closes tickets whose resolution went unanswered and tells the
supervisors of breached service targets (one transaction per ticket, locked and checked again inside it)."""

from __future__ import annotations

import asyncio
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mailgate import log
from mailgate import write as effects
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config import Settings
from mailgate.core.model import Status
from mailgate.core.workflow import autoclose, breach
from mailgate.outbound.queue import Outgoing
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
        breached = await self._breaches(now)
        if closed or breached:
            for event in self.on_queued:
                event.set()
        return closed

    async def _breaches(self, now: datetime) -> int:
        """Tell the supervisors of each ticket past a service target, once per target."""
        c = ticket.c
        response = sa.and_(c.first_response_at.is_(None), c.response_due <= now, c.response_breached_at.is_(None))
        resolution = sa.and_(c.resolved_at.is_(None), c.resolution_due <= now, c.resolution_breached_at.is_(None))
        async with self.engine.connect() as conn:
            candidates = list((await conn.execute(
                sa.select(c.id).where(c.status != Status.CLOSED.value, c.merged_into.is_(None),
                                      sa.or_(response, resolution)).order_by(c.id).limit(BATCH)
            )).scalars())
        supervisors = tuple(self.settings.sla.supervisors)
        told = 0
        for ticket_id in candidates:
            async with self.engine.begin() as conn:
                row = (await conn.execute(sa.select(
                    c.response_due, c.first_response_at, c.response_breached_at, c.resolution_due, c.resolved_at,
                    c.resolution_breached_at).where(c.id == ticket_id))).one()
                targets = tuple(
                    (name, due) for name, due, met, flagged in (
                        ("response", row.response_due, row.first_response_at, row.response_breached_at),
                        ("resolution", row.resolution_due, row.resolved_at, row.resolution_breached_at))
                    if due is not None and due <= now and met is None and flagged is None)
                if not targets:
                    continue
                views = await tickets.load_views(conn, [ticket_id])
                outcome = breach.notice(views[ticket_id], targets, supervisors, now)
                await effects.apply(conn, self.outgoing, outcome, now=now, views=views, inbound=None)
            told += 1
            logger.warning("service target breached", ticket=ticket_id, targets=[n for n, _ in targets])
        return told
