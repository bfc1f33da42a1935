"""Shell: the daemon: SMTP listener, IMAP pollers, worker, outbox sender and sweeper as tasks of one asyncio
TaskGroup, in one process or split over two (`[daemon] processes`, see processes.py): each process runs
the roles it is given and wakes the other through its Peer.

Every task contains its own failures (store/db.repeat_while_up); SIGTERM/SIGINT stop taking mail, finish
the mail in hand and return. Several daemons may share one database: the sweeper and each IMAP mailbox run
in one of them at a time, the holder of its lease (store/leases.py); the others stand by to take over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from mailgate import digest, log
from mailgate.aio import wait_any
from mailgate.clock import Clock, utcnow
from mailgate.config import checks
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings
from mailgate.ingest import smtp as smtp_in
from mailgate.ingest.imap import MailboxPoller
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.outbound.sender import Sender
from mailgate.peer import Peer
from mailgate.rules.load import RulesError, RulesHolder
from mailgate.rules.record import RulesRecord, daemon_name
from mailgate.store import inbound, intake, leases
from mailgate.store.db import Database, one_line, sqlite_path
from mailgate.store.faults import is_configuration, is_temporary
from mailgate.store.group import GroupWriter
from mailgate.store.inbound import Arrival
from mailgate.store.schema import SchemaError, open_database

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from mailgate.sweeper import Sweeper
    from mailgate.web.metrics import MetricsServer
    from mailgate.web.status import StatusServer
    from mailgate.worker import Worker

logger = log.get("daemon")
sweeper_log, imap_log = log.get("sweeper"), log.get("imap_in")


class Role(StrEnum):
    INGEST = "ingest"  # SMTP listener and IMAP pollers: mail in, stored before it is acknowledged
    WORK = "work"  # the per-mail path
    SEND = "send"  # the outbox sender
    SWEEP = "sweep"  # auto-close, service-target breaches and the supervisors' digests


ALL_ROLES = frozenset(Role)
LISTENER_ROLES = frozenset({Role.INGEST, Role.SEND})  # with two processes: the first ...
WORKER_ROLES = frozenset({Role.WORK, Role.SWEEP})  # ... and the second


class Stopped(Exception):
    """stop() came before the daemon could start (it was waiting for the database)."""


class Daemon:
    def __init__(self, settings: Settings, *, clock: Clock = utcnow, roles: frozenset[Role] = ALL_ROLES,
                 peer: Peer | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.roles = roles
        self.peer = peer  # the other process, when the roles are split
        self.stop_event = asyncio.Event()
        self.db: Database | None = None
        self.intake: Database | None = None  # SQLite: the file the SMTP listener stores mail in (store/intake.py)
        self.commits: GroupWriter[Arrival, int | None] | None = None  # the SMTP listener's group commit
        self.server: asyncio.Server | None = None
        self.worker: Worker | None = None  # (type names only: imported when the role is this process's)
        self.sender: Sender | None = None
        self.sweeper: Sweeper | None = None
        self.rules: RulesHolder | None = None
        self.rules_record: RulesRecord | None = None  # the rules in use and each reload, for /metrics
        self.pollers: list[MailboxPoller] = []
        self.leases: leases.Leases | None = None
        self.metrics: MetricsServer | None = None
        self.status_pages: StatusServer | None = None  # [web]: the requesters' status pages
        self.lease_every = leases.TRY_EVERY  # seconds between tries of a lease another daemon holds

    @property
    def smtp_port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Check templates and rules, open the store, bind the SMTP port. Raises before taking any mail."""
        problems = checks.problems(self.settings)
        if problems:
            raise ConfigError("\n".join(problems))
        for advice in checks.advice(self.settings):
            logger.warning("configuration to change before real use", problem=advice)
        for warning in checks.warnings(self.settings):
            logger.warning("configuration to look at", problem=warning)
        renderer = Renderer(self.settings.templates_dir)
        problems = renderer.check() + digest.problems(self.settings.templates_dir)  # (digest: its HTML part)
        if problems:
            raise ConfigError("\n".join(problems))
        try:  # checked by every process, so that the listener refuses to start on rules its worker refuses
            rules = RulesHolder.of(self.settings)
        except RulesError as exc:
            raise ConfigError("\n".join(exc.errors)) from None
        if Role.WORK in self.roles:
            self.rules = rules
        self.db = db = await self._open_store()
        if (path := sqlite_path(self.settings.database_url)) and self.roles & {Role.INGEST, Role.WORK}:
            try:
                self.intake = await asyncio.to_thread(intake.open_intake, path,
                                                     busy_timeout_ms=self.settings.database.busy_timeout_ms)
            except intake.IntakeError as exc:
                raise ConfigError(str(exc)) from None
            except Exception as exc:  # not writable, not a database, a folder in its place
                raise ConfigError(f"{intake.path_of(path)}: cannot use the SMTP listener's intake: "
                                  f"{one_line(exc)}") from exc
        self.leases = leases.leases_for(db.engine)
        if self.rules is not None:
            self.rules_record = RulesRecord(self.rules, db, daemon_name(self.settings), self.clock)
        outgoing = Outgoing(self.settings, renderer)
        if Role.SEND in self.roles:
            self.sender = Sender(self.settings.outbound, db, self.clock)
        if Role.WORK in self.roles:
            from mailgate.worker import Worker  # the listener process of two does without the core's worker

            self.worker = Worker(self.settings, db, outgoing, self.clock, self.rules, intake=self.intake)
            self.worker.on_queued.append(self._mail_queued)
        if Role.SWEEP in self.roles:
            from mailgate.sweeper import Sweeper

            self.sweeper = Sweeper(self.settings, db, outgoing, self.clock)
            self.sweeper.on_queued.append(self._mail_queued)
        if Role.INGEST in self.roles:
            stored = GroupWriter(db, inbound.store_many, self.clock)  # IMAP: its count of new mail is kept
            self.commits = GroupWriter(self.intake, intake.store_many, self.clock) if self.intake else stored
            self.pollers = [MailboxPoller(self.settings, mailbox, stored, self.clock, on_stored=self._mail_stored)
                            for mailbox in self.settings.imap]
            if self.settings.smtp.enabled:
                handler = smtp_in.InboundHandler(self.settings, self.commits, on_stored=self._mail_stored,
                                                 intake=self.intake is not None)
                self.server = await smtp_in.start(self.settings, handler)
                logger.info("smtp listening", host=self.settings.smtp.host, port=self.smtp_port)
            if self.settings.metrics.enabled:
                from mailgate.web.metrics import MetricsServer  # prometheus_client only when asked for

                self.metrics = MetricsServer(self.settings, clock=self.clock, listening=self._listening)
                await self.metrics.start()  # binds its port: a port in use is a start-up error
            if self.settings.web.enabled:
                from mailgate.web.status import StatusServer  # aiohttp only when asked for

                self.status_pages = StatusServer(self.settings, self.clock)
                await self.status_pages.start()

    def _listening(self) -> bool:
        """Whether the SMTP listener is bound and serving (/healthz asks, from the metrics server's thread)."""
        server = self.server
        return server is not None and server.is_serving()

    def _mail_stored(self) -> None:
        """New mail is in the store: the worker, here or in the other process, takes it."""
        if self.worker is not None:
            self.worker.wake.set()
        elif self.peer is not None:
            self.peer.signal()

    def _mail_queued(self) -> None:
        """Outgoing mail is in the outbox: the sender, here or in the other process, sends it."""
        if self.sender is not None:
            self.sender.wake.set()
        elif self.peer is not None:
            self.peer.signal()

    def _from_peer(self) -> None:
        for event in (self.worker.wake if self.worker else None, self.sender.wake if self.sender else None):
            if event is not None:
                event.set()

    async def _open_store(self) -> Database:
        """The database, once it answers. A PostgreSQL server that is down, starting or refusing
        connections is waited for (0.5 s doubling to 30 s) until stop(); a database refusing us for good
        (no such database, bad credentials) or a SQLite file that cannot be opened is a configuration error."""
        delay = 0.5
        while True:
            try:
                return await asyncio.to_thread(open_database, self.settings)
            except SchemaError:
                raise
            except Exception as exc:
                sqlite = self.settings.database_url.startswith("sqlite")
                if sqlite or not is_temporary(exc) or is_configuration(exc):
                    raise ConfigError(f"{self.settings.source}: [database] url: cannot use the database: "
                                      f"{one_line(exc)}") from exc
                logger.warning("database unavailable at start-up, waiting for it", error=one_line(exc),
                               retry_in=delay)
            await wait_any(self.stop_event, timeout=delay)
            if self.stop_event.is_set():
                raise Stopped("stopped while waiting for the database")
            delay = min(delay * 2, 30.0)

    def stop(self) -> None:
        self.stop_event.set()

    async def run(self) -> None:
        """Serve until stop(); start() first if it was not called."""
        if self.db is None:
            await self.start()
        assert self.db is not None
        if self.peer is not None:
            self.peer.watch(self._from_peer, self._peer_gone)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._serve_smtp(), name="smtp")
                if self.worker is not None:
                    tasks.create_task(self.worker.run(self.stop_event), name="worker")
                if self.sender is not None:
                    tasks.create_task(self.sender.run(self.stop_event), name="sender")
                if self.sweeper is not None:
                    tasks.create_task(self._held(leases.SWEEPER, self.sweeper.run, sweeper_log,
                                                 "another instance runs the sweeper: standing by"), name="sweeper")
                if self.rules is not None:
                    tasks.create_task(self.rules.watch(self.stop_event), name="rules")
                if self.rules_record is not None:
                    tasks.create_task(self.rules_record.run(self.stop_event), name="rules state")
                if self.metrics is not None:
                    tasks.create_task(self.metrics.run(self.stop_event), name="metrics")
                if self.status_pages is not None:
                    tasks.create_task(self.status_pages.run(self.stop_event), name="status pages")
                tasks.create_task(self._watch_stop(), name="stop")
                for lease, pollers in self._pollers_by_lease().items():
                    keys = ", ".join(p.key for p in pollers)
                    tasks.create_task(self._held(lease, _together(pollers), imap_log,
                                                 "another instance polls this mailbox: standing by",
                                                 mailbox=keys), name=f"imap {keys}")
        finally:
            if self.leases is not None:
                await asyncio.to_thread(self.leases.close)
            for db in (self.db, self.intake):
                if db is not None:
                    await asyncio.to_thread(db.close)
            logger.info("stopped", roles=sorted(r.value for r in self.roles))

    async def _held(self, name: str, role: Callable[[asyncio.Event], Awaitable[None]],
                    logger: FilteringBoundLogger, waiting: str, **fields: object) -> None:
        """A role only one daemon on the database runs at a time: here while this one holds its lease."""
        assert self.leases is not None
        await leases.run_held(self.leases, name, role, self.stop_event, logger, waiting=waiting,
                              every=self.lease_every, **fields)

    def _pollers_by_lease(self) -> dict[str, list[MailboxPoller]]:
        """The pollers under each mailbox's lease (two [[imap]] entries may name one mailbox: they share it)."""
        found: dict[str, list[MailboxPoller]] = {}
        for poller in self.pollers:
            found.setdefault(poller.lease, []).append(poller)
        return found

    def _peer_gone(self) -> None:
        if Role.INGEST not in self.roles:  # the worker process outlives nothing: its listener went away
            logger.warning("the listener process is gone: stopping")
            self.stop()

    async def _serve_smtp(self) -> None:
        if self.server is None:
            return
        await self.stop_event.wait()
        self.server.close()  # no new sessions; a DATA in progress commits before its 250
        await asyncio.wait_for(self.server.wait_closed(), timeout=30)

    async def _watch_stop(self) -> None:
        await self.stop_event.wait()
        logger.info("stopping: finishing the mail in hand")


def _together(pollers: list[MailboxPoller]) -> Callable[[asyncio.Event], Awaitable[None]]:
    """One role of the pollers of one mailbox."""
    async def run(until: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tasks:
            for poller in pollers:
                tasks.create_task(poller.run(until), name=f"imap {poller.key}")
    return run
