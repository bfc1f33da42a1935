"""Shell, the per-mail path: claim a batch of stored mail, `prepare` each (the pure work, off the event loop),
then on the database thread, in one transaction: per mail, `load` the snapshot -> the core's `process`
decides -> `write` the outcome. A mail that raises is shunted alone and the others commit together; a mail
is never lost: `mailgate replay ID` runs a shunted one again."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from mailgate import instance, log
from mailgate.aio import wait_any
from mailgate.clock import Clock, utcnow
from mailgate.config.desk import desk_of
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings
from mailgate.core.outcome import Disposition
from mailgate.core.prepare import Prepared, prepare
from mailgate.core.process import process
from mailgate.core.rules.model import RuleSet
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.outbound.replies import queue_replies
from mailgate.rules.load import RulesError, RulesHolder
from mailgate.store import inbound, intake, kb, snapshot
from mailgate.store.db import Database, repeat_while_up
from mailgate.store.faults import database_unavailable, is_temporary
from mailgate.store.inbound import InboundRow
from mailgate.store.later import Later
from mailgate.store.schema import open_database
from mailgate.write import Inbound, write

logger = log.get("worker")
MAX_TEMPORARY_FAILURES = 5  # the same mail failing this often on "temporary" errors is shunted
LEASE = timedelta(seconds=60)  # a claimed mail is another worker's to take after this
BATCH_BYTES = 32 * 1024 * 1024  # a batch takes no more raw mail than this (one mail at least)


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    inbound_id: int
    status: str  # processed | ignored | quarantined | shunted | skipped (another worker has it)
    ticket_id: int | None = None
    detail: str = ""
    queued: int = 0  # outgoing mails queued with it


class _MailFailed(Exception):
    """Mail `index` of the transaction raised (`error`: its traceback) or was lost (`error` None)."""

    def __init__(self, index: int, error: str | None) -> None:
        super().__init__(index, error)
        self.index, self.error = index, error


@dataclass(frozen=True, slots=True)
class _Failed:
    """Preparing the mail raised (a bug: the parser and the classifier are total): shunt it."""

    error: str


_Pending = tuple[InboundRow, Prepared | _Failed]  # a claimed mail, prepared


class Worker:
    def __init__(self, settings: Settings, db: Database, outgoing: Outgoing, clock: Clock,
                 rules: RulesHolder | None = None, *, intake: Database | None = None) -> None:
        self.settings = settings
        self.db = db
        self.outgoing = outgoing
        self.clock = clock
        self.rules = rules  # None: no rules (the defaults of the config apply)
        self.intake = intake  # SQLite: where the SMTP listener stores mail, moved into inbound_mail when claiming
        self.desk = desk_of(settings)  # derived from the settings once, not per mail
        self.me = instance.name()
        self.batch = settings.worker.batch
        self.budget = settings.worker.max_transaction_ms / 1000
        self.wake = asyncio.Event()  # set by the edges after a commit
        self.on_queued: list[Callable[[], None]] = []  # called after a commit that queued outgoing mail
        self._temporary: dict[int, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Process mail until `stop` is set; the batch in hand is always finished first."""
        stale = True  # the claims of a worker of this host that died are taken back at once, not after the lease

        async def step() -> bool:
            nonlocal stale
            if stale:
                for holder in await self.db.read(inbound.holders):
                    if instance.gone(holder):
                        released = await self.db.write(inbound.release, holder)
                        logger.info("claims of a dead worker taken back", holder=holder, mails=released)
                stale = False
            return bool(await self.process_batch())

        async def idle() -> None:
            await wait_any(stop, self.wake, timeout=self.settings.worker.poll_interval)
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)

    async def process_batch(self) -> list[Result]:
        """Claim up to `batch` stored mails (the intake's moved in first) and process them; [] when there were none."""
        now, intake_db = self.clock(), self.intake
        waiting = await intake_db.read(intake.waiting, self.batch, BATCH_BYTES) if intake_db else []
        rows = await self.db.write(intake.moved_and_claimed, waiting, me=self.me, now=now, until=now + LEASE,
                                   limit=self.batch, max_bytes=BATCH_BYTES)
        if intake_db and waiting:  # only once they are in inbound_mail for good
            last, waiting = waiting[-1].id, []  # (the claimed rows hold their bytes now: one copy)
            await intake_db.write(intake.drop, last)
        return await self._run(rows)

    async def process_next(self) -> Result | None:
        """One mail (the oldest): for tests and tools."""
        now = self.clock()
        rows = await self.db.write(inbound.claim, self.me, now, now + LEASE, 1)
        results = await self._run(rows)
        return results[0] if results else None

    async def replay(self, inbound_id: int, statuses: tuple[str, ...] = ("shunted", "received")) -> Result | None:
        """Process one shunted (or quarantined) mail again; None when no such mail has that id."""
        now = self.clock()
        row = await self.db.write(inbound.claim_for_replay, inbound_id, statuses, self.me, now + LEASE)
        results = await self._run([row] if row is not None else [])
        return results[0] if results else None

    async def _run(self, rows: list[InboundRow]) -> list[Result]:
        if not rows:
            return []
        ruleset = self.rules.rules if self.rules is not None else None
        pending = await asyncio.to_thread(self._prepare_all, rows, ruleset)  # CPU work off the event loop
        pending = await self._look_up(pending)
        results: list[Result] = []
        while pending:
            done, pending = await self.db.call(self._transaction, pending)
            results += done
            self._after_commit(done)
        return sorted(results, key=lambda r: r.inbound_id)

    async def _look_up(self, pending: list[_Pending]) -> list[_Pending]:
        """The knowledge base's hits of the mails that may open a ticket (or that search it), read before the
        transaction so that the write lock is never held while searching; no hits if the search fails."""
        if not self.desk.kb.enabled:
            return pending
        asked = [(n, words, p.sender_email in self.desk.agents) for n, (_, p) in enumerate(pending)
                 if isinstance(p, Prepared) and (words := p.search)]
        if not asked:
            return pending
        try:
            found = await self.db.read(kb.look_up, [(w, agent) for _, w, agent in asked], self.desk.kb)
        except Exception as exc:
            if database_unavailable(exc):
                raise
            logger.warning("knowledge base search failed: mails processed without its hits", error=str(exc))
            return pending
        out = list(pending)
        for (n, _, _), (similar, articles) in zip(asked, found, strict=True):
            row, p = out[n]
            assert isinstance(p, Prepared)
            out[n] = (row, replace(p, similar=similar, articles=articles))
        return out

    def _prepare_all(self, rows: list[InboundRow], ruleset: RuleSet | None) -> list[_Pending]:
        """Each mail prepared; its raw bytes are let go then, in `rows` too (the transaction does not read them):
        a big mail is not held beside its decoded attachments while they are written."""
        prepared: list[_Pending] = []
        for n, row in enumerate(rows):
            try:
                found: Prepared | _Failed = prepare(row.raw, row.envelope_from, row.envelope_to, self.desk, ruleset)
            except Exception:
                found = _Failed(traceback.format_exc())
            rows[n] = row = replace(row, raw=b"")
            prepared.append((row, found))
        return prepared

    def _transaction(self, pending: list[_Pending]) -> tuple[list[Result], list[_Pending]]:
        """On the database thread: as many mails of `pending` as fit in the time budget, in one transaction.
        Returns their results and the mails left for the next transaction.

        No savepoint per mail (they cost 0.33 ms a mail, measured on the benchmark's mails): a mail that raises
        rolls the transaction back, is shunted alone, and the others are done again without it."""
        while True:
            try:
                return self._attempt(pending)
            except _MailFailed as failed:
                row = pending[failed.index][0]
                pending = pending[:failed.index] + pending[failed.index + 1:]
                if failed.error is None:  # another worker has it now
                    logger.warning("mail taken over by another worker", inbound_id=row.id)
                    continue
                with self.db.transaction() as conn:
                    shunted = self._shunt(conn, row, failed.error, self.clock())
                if not pending:
                    return [shunted], []
                done, rest = self._transaction(pending)
                return [shunted, *done], rest

    def _attempt(self, pending: list[_Pending]) -> tuple[list[Result], list[_Pending]]:
        started = time.perf_counter()
        now = self.clock()
        done: list[Result] = []
        rest: list[_Pending] = []
        later = Later()  # the batch's messages and events, inserted once at the end
        with self.db.transaction() as conn:
            batch = snapshot.Batch(self.desk, now)  # the batch's people and tickets, read at once
            batch.read_all(conn, [p for _, p in pending if isinstance(p, Prepared)])
            ours = inbound.mine(conn, [row.id for row, _ in pending], self.me)  # and no other worker's till the commit
            for n, (row, prepared) in enumerate(pending):
                if n and time.perf_counter() - started > self.budget:
                    rest = pending[n:]
                    break
                if row.id not in ours:  # its lease ran out and another worker took it
                    raise _MailFailed(n, None)
                if isinstance(prepared, _Failed):
                    raise _MailFailed(n, prepared.error)
                try:
                    done.append(self._decide_and_write(conn, row, prepared, now, later, batch))
                except Exception as exc:
                    if database_unavailable(exc):
                        raise  # the transaction is lost with its connection: every mail of it is tried again
                    if is_temporary(exc) and self._count_temporary(row.id) < MAX_TEMPORARY_FAILURES:
                        raise  # busy or a lost race: the batch is tried again after a backoff
                    raise _MailFailed(n, traceback.format_exc()) from None
            later.flush(conn)
        return done, rest

    def _decide_and_write(self, conn: Connection, row: InboundRow, p: Prepared, now: datetime, later: Later,
                          batch: snapshot.Batch) -> Result:
        known = snapshot.load(conn, p, self.desk, now, batch)
        outcome = process(p, known, self.desk, now)
        batch.changed(outcome, known)
        replied = queue_replies(conn, self.outgoing, outcome.replies, now) if outcome.replies else 0
        if outcome.disposition is Disposition.ANSWERED:  # a list by mail (`statut`, `file`): on no ticket
            self._finish(later, row, "processed", None, now)
            return Result(inbound_id=row.id, status="processed", detail=outcome.reason, queued=replied)
        if outcome.disposition in (Disposition.IGNORED, Disposition.QUARANTINED):
            self._finish(later, row, outcome.disposition.value, None, now, outcome.reason)
            return Result(inbound_id=row.id, status=outcome.disposition.value, detail=outcome.reason)
        mail = p.mail
        message = dict(
            direction="in", inbound_id=row.id, outbox_id=None, from_addr=p.sender_email,
            to_addrs=[a.email for a in mail.to], cc_addrs=[a.email for a in mail.cc], subject=mail.subject,
            message_id=mail.message_id, body=mail.text, created_at=now, text=p.text,
        )
        ticket_id, queued = write(conn, self.outgoing, outcome, now=now, views=dict(known.tickets),
                                  inbound=Inbound(row.id, message), later=later)
        self._finish(later, row, "processed", ticket_id, now)
        return Result(inbound_id=row.id, status="processed", ticket_id=ticket_id,
                      detail=outcome.disposition.value, queued=queued + replied)

    def _finish(self, later: Later, row: InboundRow, status: str, ticket_id: int | None, now: datetime,
                error: str | None = None) -> None:
        inbound.finish(later, row.id, status=status, ticket_id=ticket_id, now=now, error=error, me=self.me)

    def _shunt(self, conn: Connection, row: InboundRow, error: str, now: datetime) -> Result:
        self._temporary.pop(row.id, None)
        inbound.shunt(conn, row.id, error, now)
        last_line = error.strip().splitlines()[-1] if error.strip() else "error"
        logger.error("mail shunted: processing raised", inbound_id=row.id, error=last_line,
                     replay=f"mailgate replay {row.id}")
        return Result(inbound_id=row.id, status="shunted", detail=last_line)

    def _count_temporary(self, inbound_id: int) -> int:
        self._temporary[inbound_id] = self._temporary.get(inbound_id, 0) + 1
        return self._temporary[inbound_id]

    def _after_commit(self, done: list[Result]) -> None:
        for result in done:
            self._temporary.pop(result.inbound_id, None)
            if result.status != "skipped":
                logger.info("mail processed", inbound_id=result.inbound_id, status=result.status,
                            ticket=result.ticket_id, detail=result.detail or None)
        if any(r.queued for r in done):  # after the commit, so the sender finds the rows
            for queued in self.on_queued:
                queued()


async def replay(settings: Settings, inbound_id: int, *, release: bool = False) -> Result | None:
    """Process a shunted mail again with the rules; or (`release`) a quarantined one, without them."""
    renderer = Renderer(settings.templates_dir)
    problems = renderer.check()
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        rules = None if release else RulesHolder.of(settings)
    except RulesError as exc:
        raise ConfigError("\n".join(exc.errors)) from None
    db = await asyncio.to_thread(open_database, settings)
    try:
        worker = Worker(settings, db, Outgoing(settings, renderer), utcnow, rules)
        return await worker.replay(inbound_id, statuses=("quarantined",) if release else ("shunted", "received"))
    finally:
        await asyncio.to_thread(db.close)
