"""Shell: the outbox sender: lease due mail, send it through the smart host, record sent / retry / failed.

Retries live in the database (attempts, next_attempt_at, deadline), so they survive restarts; a mail
marked sent is never sent again.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mailgate import log
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config.sections import Outbound
from mailgate.outbound.smarthost import SendResult, SmartHost
from mailgate.store import outbox
from mailgate.store.db import repeat_while_up
from mailgate.store.outbox import OutboxRow

logger = log.get("sender")
BATCH = 50


def retry_delay(settings: Outbound, attempts: int) -> timedelta:
    """Exponential backoff: initial, 2x, 4x ... capped at retry_max_delay."""
    seconds = settings.retry_initial_delay * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.retry_max_delay))


class Sender:
    def __init__(self, settings: Outbound, engine: AsyncEngine, clock: Clock) -> None:
        self.settings = settings
        self.engine = engine
        self.clock = clock
        self.wake = asyncio.Event()  # set by the worker after it queued mail
        self.lease = timedelta(seconds=settings.timeout * 3 + 60)

    async def run(self, stop: asyncio.Event) -> None:
        """Send due mail until `stop` is set; the send in hand is always recorded first."""
        async def step() -> bool:
            return await self.send_due(stop) > 0

        async def idle() -> None:
            await wait_any(stop, self.wake, timeout=await self._idle_time())
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)

    async def _idle_time(self) -> float:
        async with self.engine.connect() as conn:
            due = await outbox.next_due(conn)
        if due is None:
            return self.settings.poll_interval
        return min(max((due - self.clock()).total_seconds(), 0.05), self.settings.poll_interval)

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """Send every due mail once; returns how many were attempted."""
        async with self.engine.begin() as conn:
            rows = await outbox.lease_due(conn, self.clock(), self.lease, BATCH)
        if not rows:
            return 0
        async with SmartHost(self.settings) as host:
            for row in rows:
                if stop is not None and stop.is_set():
                    break  # the lease runs out and the mail is retried after restart
                try:
                    result = await host.send(row.envelope_from, row.envelope_to, row.raw)
                except Exception as exc:  # unforeseen, and about this mail alone: it fails, the others go on
                    logger.error("mail could not be handed to the smart host", outbox_id=row.id, exc_info=exc)
                    await host.drop()  # the session may be mid-transaction: the next mail starts afresh
                    result = SendResult("permanent", f"could not be sent: {type(exc).__name__}: {exc}")
                await self._record(row, result)
        return len(rows)

    async def _record(self, row: OutboxRow, result: SendResult) -> None:
        now = self.clock()
        async with self.engine.begin() as conn:
            if result.outcome == "sent":
                await outbox.mark_sent(conn, row.id, now)
                logger.info("mail sent", outbox_id=row.id, to=row.envelope_to, attempts=row.attempts)
            elif result.outcome == "permanent":
                await outbox.mark_failed(conn, row.id, result.detail)
                logger.error("mail refused by the smart host", outbox_id=row.id, to=row.envelope_to,
                             error=result.detail)
            else:
                await self._retry_or_fail(conn, row, result, now)

    async def _retry_or_fail(self, conn: AsyncConnection, row: OutboxRow, result: SendResult, now: datetime) -> None:
        at = now + retry_delay(self.settings, row.attempts)
        if at > row.deadline:
            error = f"gave up after {row.attempts} attempts: {result.detail}"
            await outbox.mark_failed(conn, row.id, error)
            logger.error("mail expired", outbox_id=row.id, to=row.envelope_to, error=error)
        else:
            await outbox.mark_retry(conn, row.id, at, result.detail)
            logger.warning("send failed, will retry", outbox_id=row.id, to=row.envelope_to,
                           error=result.detail, retry_at=at.isoformat())
