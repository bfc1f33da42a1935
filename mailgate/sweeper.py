"""Shell, scheduled work: the periodic sweep that auto-closes tickets whose resolution went unanswered and
tells the supervisors of breached service targets (one transaction per ticket, locked and checked again
inside it; the core decides, its limits apply as to any mail), and queues their digests when due (digest.py).
With several daemons on one database, it runs in one at a time: the leader, holder of the sweeper's lease
(store/leases.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from mailgate import log
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config.desk import desk_of
from mailgate.config.settings import Settings
from mailgate.core.desk import Snapshot
from mailgate.core.model import TicketView
from mailgate.core.outcome import Disposition, Outcome
from mailgate.core.workflow import autoclose, breach, limits
from mailgate.digest import Digests
from mailgate.outbound.queue import Outgoing
from mailgate.store import snapshot, tickets
from mailgate.store.db import Database, repeat_while_up
from mailgate.write import write

logger = log.get("sweeper")
BATCH = 100


class Sweeper:
    def __init__(self, settings: Settings, db: Database, outgoing: Outgoing, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.outgoing = outgoing
        self.clock = clock
        self.desk = desk_of(settings)
        self.digests = Digests(settings, outgoing.renderer)
        self.on_queued: list[Callable[[], None]] = []  # called after a sweep that queued mail
        self.wake = asyncio.Event()  # tests (and a future CLI) ask for a sweep now

    async def run(self, stop: asyncio.Event) -> None:
        full = False

        async def step() -> bool:
            nonlocal full
            full = await self.sweep_once() >= BATCH  # a full batch: there is more, after a pause
            return False

        async def idle() -> None:  # a backlog is worked off a batch a second, leaving the writer to live mail
            await wait_any(stop, self.wake, timeout=1.0 if full else self._pause())
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)

    async def sweep_once(self) -> int:
        """Close every ticket due now (up to BATCH) and tell of breaches; returns how many were closed."""
        now = self.clock()
        days = self.desk.auto_close_days
        closed = 0
        for ticket_id in await self.db.read(tickets.awaiting_confirmation, BATCH):
            if await self.db.write(self._one, ticket_id, now, lambda v: autoclose.close(v, days)
                                   if autoclose.due(v, now, days) else None):
                closed += 1
                logger.info("ticket auto-closed", ticket=ticket_id, after_days=days)
        told = 0
        for ticket_id in await self.db.read(tickets.breach_candidates, now, BATCH):
            if await self.db.write(self._one, ticket_id, now,
                                   lambda v: breach.notice(v, self.desk.supervisors, now)):
                told += 1
                logger.warning("service target breached", ticket=ticket_id)
        digests = await self.digests.send_due(self.db, now)
        if closed or told or digests:
            for queued in self.on_queued:
                queued()
        return closed

    def _pause(self) -> float:
        """Seconds until the next sweep: the sweep interval, or less when a digest falls due sooner."""
        interval = self.settings.workflow.sweep_interval
        now = self.clock()
        at = self.digests.next_at(now)
        return interval if at is None else max(1.0, min(interval, (at - now).total_seconds() + 0.5))

    def _one(self, conn: Connection, ticket_id: int, now: datetime,
             decide: Callable[[TicketView], Outcome | None]) -> bool:
        """Lock the ticket, let the core decide on it as it is now, and write what it says."""
        known: Snapshot = snapshot.for_ticket(conn, ticket_id, self.desk, now)
        view = known.tickets.get(ticket_id)
        outcome = decide(view) if view is not None else None
        if outcome is None or outcome.disposition is not Disposition.APPENDED:
            return False
        write(conn, self.outgoing, limits.admitted(outcome, self.desk, known, now), now=now,
              views=dict(known.tickets), inbound=None)
        return True
