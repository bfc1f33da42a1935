"""Shell, outbound: the outbox sender: lease a batch of due mail in one statement, hand it to the smart host
over one reused session, and record each result as it comes (results that come together share a commit).

Retries live in the database (attempts, next_attempt_at, deadline), so they survive restarts; a mail marked
sent is never sent again. A sender that dies mid-batch leaves the unrecorded mails to their lease: they are
tried again when it runs out (docs/delivery.md says when that can mean one mail twice). A batch stops
starting sends while a send (two network timeouts) could still outlast its lease, so that another sender,
here or in another instance, never takes a mail of the batch while this one may still be sending it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from mailgate import instance, log
from mailgate.aio import wait_any
from mailgate.clock import Clock
from mailgate.config.sections import Outbound
from mailgate.core.delivery import Attempt, Next, Verdict, after
from mailgate.outbound.smarthost import SmartHost
from mailgate.store import outbox
from mailgate.store.db import Database, repeat_while_up
from mailgate.store.group import GroupWriter
from mailgate.store.outbox import OutboxRow

logger = log.get("sender")
BATCH = 50
UNRECORDED = 8  # mails handed to the smart host whose result is not yet committed, at most: a crash sends them again
RECORD_LINGER = 0.002  # seconds a result waits for the next ones to share its commit (2 results a commit, else)


@dataclass(frozen=True, slots=True)
class Recorded:
    outbox_id: int
    next: Next


def record_many(conn: Connection, results: list[Recorded], now: datetime) -> list[None]:
    outbox.mark_all_sent(conn, [r.outbox_id for r in results if r.next.status == "sent"], now)
    for r in results:
        if r.next.status == "sent":
            continue
        if r.next.status == "failed":
            outbox.mark_failed(conn, r.outbox_id, r.next.error or "")
        else:
            assert r.next.retry_at is not None
            outbox.mark_retry(conn, r.outbox_id, r.next.retry_at, r.next.error or "")
    return [None] * len(results)


class Sender:
    def __init__(self, settings: Outbound, db: Database, clock: Clock) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.wake = asyncio.Event()  # set by the worker after it queued mail
        self.lease = timedelta(seconds=settings.timeout * 3 + 60)
        self.results: GroupWriter[Recorded, None] = GroupWriter(db, record_many, clock, linger=RECORD_LINGER)
        self.me = instance.name()
        self._stale = True

    async def run(self, stop: asyncio.Event) -> None:
        """Send due mail until `stop` is set; the send in hand is always recorded first."""
        async def step() -> bool:
            return await self.send_due(stop) > 0

        async def idle() -> None:
            await wait_any(stop, self.wake, timeout=await self._idle_time())
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)

    async def _idle_time(self) -> float:
        due = await self.db.read(outbox.next_due)
        if due is None:
            return self.settings.poll_interval
        return min(max((due - self.clock()).total_seconds(), 0.05), self.settings.poll_interval)

    async def send_due(self, stop: asyncio.Event | None = None) -> int:
        """Send every due mail once; returns how many were attempted."""
        now = self.clock()
        if self._stale:  # the mail a sender of this host held when it died is due again at once
            for holder in await self.db.read(outbox.holders):
                if instance.gone(holder):
                    released = await self.db.write(outbox.release, holder, now)
                    logger.info("mail held by a dead sender taken back", holder=holder, mails=released)
            self._stale = False
        rows = await self.db.write(outbox.lease_due, now, self.lease, BATCH, self.me)
        if not rows:
            return 0
        last_start = now + self.lease - timedelta(seconds=2 * self.settings.timeout)
        recording: list[asyncio.Task[None]] = []
        try:
            async with SmartHost(self.settings) as host:
                for done, row in enumerate(rows):
                    unrecorded = [task for task in recording if not task.done()]
                    if len(unrecorded) >= UNRECORDED:  # a slow commit: the window for a duplicate stays small
                        await asyncio.wait(unrecorded, return_when=asyncio.FIRST_COMPLETED)
                    if any(task.done() and not task.cancelled() and task.exception() for task in recording):
                        break  # a result could not be recorded: no more mail whose result may be lost too
                    if stop is not None and stop.is_set():
                        break  # the lease runs out and the mail is retried after restart
                    if self.clock() >= last_start:  # the rest waits for its lease to run out, then goes
                        logger.info("lease nearly out: the rest of the batch waits", left=len(rows) - done)
                        break
                    attempt = await self._send(host, row)
                    recording.append(asyncio.create_task(self._record(row, attempt)))
        finally:  # every result of the batch committed (or its failure seen) before the next batch
            failures = [r for r in await asyncio.gather(*recording, return_exceptions=True) if r is not None]
        if failures:
            raise failures[0]  # the database is down: the unrecorded mails are tried again after their lease
        return len(rows)

    async def _send(self, host: SmartHost, row: OutboxRow) -> Attempt:
        try:
            return await host.send(row.envelope_from, row.envelope_to, row.raw)
        except Exception as exc:  # unforeseen, and about this mail alone: it fails, the others go on
            logger.error("mail could not be handed to the smart host", outbox_id=row.id, exc_info=exc)
            await host.drop()  # the session may be mid-transaction: the next mail starts afresh
            return Attempt(verdict=Verdict.PERMANENT, detail=f"could not be sent: {type(exc).__name__}: {exc}")

    async def _record(self, row: OutboxRow, attempt: Attempt) -> None:
        s = self.settings
        now = self.clock()
        step = after(attempt, attempts=row.attempts, deadline=row.deadline, now=now,
                     initial=s.retry_initial_delay, maximum=s.retry_max_delay)
        await self.results.write(Recorded(row.id, step))
        if step.status == "sent":
            logger.info("mail sent", outbox_id=row.id, to=row.envelope_to, attempts=row.attempts)
        elif step.status == "failed":
            logger.error("mail not delivered", outbox_id=row.id, to=row.envelope_to, error=step.error)
        else:
            logger.warning("send failed, will retry", outbox_id=row.id, to=row.envelope_to, error=step.error,
                           retry_at=step.retry_at.isoformat() if step.retry_at else None)
