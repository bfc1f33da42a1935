"""Shell: the daemon: SMTP listener, IMAP pollers, worker, outbox sender and auto-close sweeper in one
asyncio TaskGroup.

A task that dies stops the daemon loudly; SIGTERM/SIGINT stop taking mail, finish the mail in hand
and return.
"""

from __future__ import annotations

import asyncio
import signal

from mailgate import log
from mailgate.aio import wait_any
from mailgate.clock import Clock, utcnow
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings
from mailgate.ingest import smtp as smtp_in
from mailgate.ingest.imap import MailboxPoller
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.outbound.sender import Sender
from mailgate.rules.load import RulesError, RulesHolder
from mailgate.store import inbound
from mailgate.store.db import Database, one_line
from mailgate.store.faults import is_configuration, is_temporary
from mailgate.store.group import GroupWriter
from mailgate.store.inbound import Arrival
from mailgate.store.schema import SchemaError, open_database
from mailgate.sweeper import Sweeper
from mailgate.worker import Worker

logger = log.get("daemon")


class Stopped(Exception):
    """stop() came before the daemon could start (it was waiting for the database)."""


class Daemon:
    def __init__(self, settings: Settings, *, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.stop_event = asyncio.Event()
        self.db: Database | None = None
        self.commits: GroupWriter[Arrival, int | None] | None = None
        self.server: asyncio.Server | None = None
        self.worker: Worker | None = None
        self.sender: Sender | None = None
        self.sweeper: Sweeper | None = None
        self.rules: RulesHolder | None = None
        self.pollers: list[MailboxPoller] = []

    @property
    def smtp_port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Check templates, open the store, bind the SMTP port. Raises before taking any mail."""
        renderer = Renderer(self.settings.templates_dir)
        problems = renderer.check()
        if problems:
            raise ConfigError("\n".join(problems))
        try:
            self.rules = RulesHolder.open(self.settings.rules_dir)
        except RulesError as exc:
            raise ConfigError("\n".join(exc.errors)) from None
        self.db = db = await self._open_store()
        outgoing = Outgoing(self.settings, renderer)
        self.commits = GroupWriter(db, inbound.store_many, self.clock)
        self.worker = Worker(self.settings, db, outgoing, self.clock, self.rules)
        self.sender = Sender(self.settings.outbound, db, self.clock)
        self.sweeper = Sweeper(self.settings, db, outgoing, self.clock)
        self.worker.on_queued.append(self.sender.wake)
        self.sweeper.on_queued.append(self.sender.wake)
        self.pollers = [
            MailboxPoller(self.settings, mailbox, self.commits, self.clock, on_stored=self.worker.wake.set)
            for mailbox in self.settings.imap
        ]
        if self.settings.smtp.enabled:
            handler = smtp_in.InboundHandler(self.settings, self.commits, on_stored=self.worker.wake.set)
            self.server = await smtp_in.start(self.settings, handler)
            logger.info("smtp listening", host=self.settings.smtp.host, port=self.smtp_port)

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
        assert self.worker is not None and self.sender is not None and self.db is not None
        assert self.sweeper is not None
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._serve_smtp(), name="smtp")
                tasks.create_task(self.worker.run(self.stop_event), name="worker")
                tasks.create_task(self.sender.run(self.stop_event), name="sender")
                tasks.create_task(self.sweeper.run(self.stop_event), name="sweeper")
                if self.rules is not None:
                    tasks.create_task(self.rules.watch(self.stop_event), name="rules")
                tasks.create_task(self._watch_stop(), name="stop")
                for poller in self.pollers:
                    tasks.create_task(poller.run(self.stop_event), name=f"imap {poller.key}")
        finally:
            await asyncio.to_thread(self.db.close)
            logger.info("stopped")

    async def _serve_smtp(self) -> None:
        if self.server is None:
            return
        await self.stop_event.wait()
        self.server.close()  # no new sessions; a DATA in progress commits before its 250
        await asyncio.wait_for(self.server.wait_closed(), timeout=30)

    async def _watch_stop(self) -> None:
        await self.stop_event.wait()
        logger.info("stopping: finishing the mail in hand")


async def serve(settings: Settings) -> None:
    """`mailgate run`: the daemon with signal handlers (SIGTERM works while it waits for the database too)."""
    daemon = Daemon(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stop)
    try:
        await daemon.start()
    except Stopped:
        logger.info("stopped before start-up completed")
        return
    if daemon.rules is not None:
        loop.add_signal_handler(signal.SIGHUP, daemon.rules.reload)
    logger.info("mailgate running", database=settings.database_url.split("@")[-1])
    await daemon.run()
