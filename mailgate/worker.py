"""Shell: the worker claims stored inbound mail, runs the core once per mail, applies the Outcome
and its outgoing mail in the same transaction. A mail whose processing raises is shunted, never lost."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import Message

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mailgate import log, write
from mailgate.aio import wait_any
from mailgate.clock import Clock, utcnow
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings
from mailgate.core import process
from mailgate.core.mail import attachments, classify, quotes, signing, thread
from mailgate.core.mail.parse import attachment_names, mime_tree, parse
from mailgate.core.model import Agent, Due, ParsedMail
from mailgate.core.rules.engine import Decision, evaluate
from mailgate.core.rules.model import facts_from
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.rules.load import RulesError, RulesHolder
from mailgate.store import attachments as stored_attachments
from mailgate.store import inbound, outbox, tickets
from mailgate.store.db import repeat_while_up
from mailgate.store.faults import database_unavailable, is_temporary
from mailgate.store.inbound import InboundRow
from mailgate.store.schema import open_engine

logger = log.get("worker")
MAX_TEMPORARY_FAILURES = 5  # the same mail failing this often on "temporary" errors is shunted


@dataclass(frozen=True, slots=True)
class Result:
    inbound_id: int
    status: str  # processed | ignored | shunted
    ticket_id: int | None
    detail: str = ""
    queued: int = 0  # outgoing mails queued with it


class Worker:
    def __init__(self, settings: Settings, engine: AsyncEngine, outgoing: Outgoing, clock: Clock,
                 rules: RulesHolder | None = None) -> None:
        self.settings = settings
        self.engine = engine
        self.outgoing = outgoing
        self.clock = clock
        self.wake = asyncio.Event()  # set by the SMTP edge after a commit
        self.on_queued: list[asyncio.Event] = []  # set after a commit that queued outgoing mail
        self._temporary: dict[int, int] = {}
        # derived from the settings once, not per mail (the sender address is parsed, the token hashed)
        self._secret = settings.secret
        self._own_addresses = settings.own_addresses
        self._agents = settings.agent_emails
        self._loop_token = settings.loop_token
        self._agent_info = {a.email: Agent(a.email, a.name, a.level) for a in settings.agents}
        self._trusted = frozenset(settings.workflow.trusted_authserv_ids)
        self._customers = settings.customers_by_domain
        self._approvers = settings.approvers
        self._queues = {q.name: tuple(e.lower() for e in q.agents) for q in settings.queues}
        self._msgid_domain = settings.message_id_domain
        self.rules = rules  # None: no rules (the defaults of the config apply)

    async def run(self, stop: asyncio.Event) -> None:
        """Process mail until `stop` is set; the mail in hand is always finished first."""
        async def step() -> bool:
            return await self.process_next() is not None

        async def idle() -> None:
            await wait_any(stop, self.wake, timeout=self.settings.worker.poll_interval)
            self.wake.clear()

        await repeat_while_up(stop, step, idle, logger)

    async def process_next(self) -> Result | None:
        """Claim and process the oldest stored mail; None when there is none."""
        return await self._run_claimed(inbound.claim_next)

    async def replay(self, inbound_id: int, statuses: tuple[str, ...] = ("shunted", "received")) -> Result | None:
        """Process one shunted (or quarantined) mail again; None when no such mail has that id."""
        return await self._run_claimed(lambda conn: inbound.claim_for_replay(conn, inbound_id, statuses))

    async def _run_claimed(self, claim: Callable[[AsyncConnection], Awaitable[InboundRow | None]]) -> Result | None:
        claimed: InboundRow | None = None
        try:
            async with self.engine.begin() as conn:
                claimed = await claim(conn)
                if claimed is None:
                    return None
                result = await self._apply(conn, claimed)
        except Exception as exc:
            if claimed is None or database_unavailable(exc):
                raise  # nothing was claimed, or the claim rolled back with the connection: the mail waits
            if is_temporary(exc) and self._count_temporary(claimed.id) < MAX_TEMPORARY_FAILURES:
                raise  # busy (SQLite locked) or a lost race: tried again after a backoff
            return await self._shunt(claimed.id, traceback.format_exc())
        self._temporary.pop(claimed.id, None)
        if result.queued:  # after the commit, so the sender finds the rows
            for event in self.on_queued:
                event.set()
        logger.info("mail processed", inbound_id=claimed.id, status=result.status, ticket=result.ticket_id,
                    detail=result.detail or None)
        return result

    def _count_temporary(self, inbound_id: int) -> int:
        self._temporary[inbound_id] = self._temporary.get(inbound_id, 0) + 1
        return self._temporary[inbound_id]

    async def _shunt(self, inbound_id: int, error: str) -> Result:
        self._temporary.pop(inbound_id, None)
        async with self.engine.begin() as conn:
            await inbound.shunt(conn, inbound_id, error, self.clock())
        last_line = error.strip().splitlines()[-1]
        logger.error("mail shunted: processing raised", inbound_id=inbound_id, error=last_line,
                     replay=f"mailgate replay {inbound_id}")
        return Result(inbound_id, "shunted", None, last_line)

    async def _apply(self, conn: AsyncConnection, row: InboundRow) -> Result:
        tree = mime_tree(row.raw)  # parsed once; every reader below walks the same tree
        mime = None if isinstance(tree, Exception) else tree
        mail = parse(row.raw, tree)
        text = quotes.strip_reply(mail.text, subject=mail.subject)
        refs = thread.references(mail, self._secret)
        kind = classify.classify(mail, mime or row.raw, row.envelope_from, loop_token=self._loop_token,
                                 own_addresses=self._own_addresses, own_msgid_domain=self._msgid_domain)
        bounced = kind.bounce.original_message_id if kind.bounce else None
        bounce_ticket = signing.verify_message_id(bounced, self._secret) if bounced else None
        decision, alert_ticket = await self._route(conn, mail, row, kind.kind, mime)
        wanted = process.wanted_tickets(mail, refs, self._agents, text) + tuple(
            t for t in (alert_ticket, bounce_ticket) if t)
        views = await tickets.load_views(conn, wanted)
        sent = await outbox.sent_mails(conn, refs.signed_ids)
        now = self.clock()
        ctx = process.Context(
            support_addresses=self._own_addresses, agents=self._agents, refs=refs, tickets=views,
            locale=self.settings.gateway.locale, loop_token=self._loop_token, agent_info=self._agent_info,
            sent=sent, trusted_authserv_ids=self._trusted, customers_by_domain=self._customers,
            approvers=self._approvers, now=now, reopen_days=self.settings.workflow.reopen_days,
            decision=decision, alert_ticket=alert_ticket, queues=self._queues, kind=kind,
            bounce_ticket=bounce_ticket, text=text,
        )
        outcome = process.process(mail, row.envelope_from, ctx)
        if outcome.disposition in ("ignored", "quarantined"):
            await inbound.finish(conn, row.id, status=outcome.disposition, ticket_id=None, now=now,
                                 error=outcome.reason)
            return Result(row.id, outcome.disposition, None, outcome.reason)
        sender = mail.from_.email if mail.from_ else (row.envelope_from or "")
        message = dict(
            direction="in", inbound_id=row.id, outbox_id=None,
            from_addr=sender, to_addrs=[a.email for a in mail.to], cc_addrs=[a.email for a in mail.cc],
            subject=mail.subject, message_id=mail.message_id, body=mail.text,
            created_at=now, text=text,
        )
        due = self.settings.sla.due(outcome.new_ticket.priority, now) if outcome.new_ticket else Due()
        ticket_id, queued = await write.apply(conn, self.outgoing, outcome, now=now, views=views,
                                                inbound=write.Inbound(row.id, message), due=due,
                                                agents=self._agents)
        if kind.kind != "bounce":  # a bounce's returned copy of our own mail is not worth keeping twice
            extracted = attachments.extract(mime or row.raw, max_file_bytes=self.settings.hygiene.max_attachment_bytes,
                                            max_total_bytes=self.settings.hygiene.max_attachments_bytes_per_mail)
            refused = await stored_attachments.store(conn, extracted, ticket_id=ticket_id, inbound_id=row.id,
                                                      settings=self.settings)
            await tickets.add_events(conn, ticket_id, refused, now, row.id)
        await inbound.finish(conn, row.id, status="processed", ticket_id=ticket_id, now=now)
        return Result(row.id, "processed", ticket_id, outcome.disposition, queued=queued)

    async def _route(self, conn: AsyncConnection, mail: ParsedMail, row: InboundRow, kind: str,
                     mime: Message | None) -> tuple[Decision | None, int | None]:
        """The rules' decision for a mail that names no ticket, and the open ticket its alert key folds into."""
        if self.rules is None or not len(self.rules.rules):  # no rules: the config's defaults, nothing to record
            return None, None
        sender = mail.from_.email if mail.from_ else (row.envelope_from or "")
        facts = facts_from(mail, envelope_to=row.envelope_to, attachment_names=attachment_names(mime or row.raw),
                           is_agent=sender in self._agents,
                           customer=self._customers.get(sender.rpartition("@")[2]), kind=kind,
                           envelope_from=row.envelope_from)
        decision = evaluate(self.rules.rules, facts)
        if decision.dedupe_key is None:
            return decision, None
        return decision, await tickets.open_with_key(conn, decision.dedupe_key)


async def replay(settings: Settings, inbound_id: int, *, release: bool = False) -> Result | None:
    """Process a shunted mail again with the rules; or (`release`) a quarantined one, without them."""
    renderer = Renderer(settings.templates_dir)
    problems = renderer.check()
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        rules = None if release else RulesHolder.open(settings.rules_dir)
    except RulesError as exc:
        raise ConfigError("\n".join(exc.errors)) from None
    engine = await open_engine(settings)
    try:
        worker = Worker(settings, engine, Outgoing(settings, renderer), utcnow, rules)
        return await worker.replay(inbound_id, statuses=("quarantined",) if release else ("shunted", "received"))
    finally:
        await engine.dispose()
