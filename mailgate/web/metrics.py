"""Shell, web: the Prometheus /metrics endpoint ([metrics]), its figures read from the database at each scrape."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from mailgate import log
from mailgate.clock import Clock, utcnow
from mailgate.config.settings import Settings
from mailgate.core.model import Status
from mailgate.store import inbound, outbox, tickets
from mailgate.store.db import Database, make_engine, one_line

logger = log.get("metrics")
PATH = "/metrics"

# name -> help; every figure is a gauge: a state of the database, whichever process reads it
GAUGES = {
    "mailgate_database_up": "1 when this scrape could read the database, 0 when it could not (no other figure then)",
    "mailgate_inbound_mails": "Stored inbound mails by status (received = waiting for the worker)",
    "mailgate_outbox_mails": "Outgoing mails by status",
    "mailgate_tickets": "Tickets by status code",
    "mailgate_inbound_oldest_received_age_seconds": "Age of the oldest inbound mail waiting for the worker (0: none)",
    "mailgate_outbox_oldest_queued_age_seconds": "Age of the oldest outgoing mail still queued (0: none)",
}
_BY_STATUS = {"mailgate_inbound_mails": inbound.STATUSES, "mailgate_outbox_mails": outbox.STATUSES,
              "mailgate_tickets": tuple(s.value for s in Status)}


@dataclass(frozen=True, slots=True)
class Reading:
    """One scrape's figures, read in one transaction."""

    inbound: dict[str, int]
    outbox: dict[str, int]
    tickets: dict[str, int]
    oldest_received: datetime | None
    oldest_queued: datetime | None


def read(conn: Connection) -> Reading:
    """The queries `mailgate status` runs (store/inbound, store/outbox), and tickets per status."""
    return Reading(inbound.counts(conn), outbox.counts(conn), tickets.counts(conn),
                   inbound.oldest_waiting(conn), outbox.oldest_queued(conn))


class StoreCollector(Collector):
    """Reads the database when Prometheus scrapes (on the HTTP server's thread). The daemon may run as two
    processes, several daemons may share one PostgreSQL database: counters kept in one process's memory would
    show part of the picture, figures read from the database are the same whichever process serves them."""

    def __init__(self, db: Database, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock

    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name, doc in GAUGES.items():
            yield GaugeMetricFamily(name, doc, labels=["status"] if name in _BY_STATUS else None)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            reading = self.db.read_now(read)
        except Exception as exc:  # a scrape says the database is unreadable; it never fails
            logger.warning("metrics: cannot read the database", error=one_line(exc))
            yield GaugeMetricFamily("mailgate_database_up", GAUGES["mailgate_database_up"], value=0)
            return
        yield GaugeMetricFamily("mailgate_database_up", GAUGES["mailgate_database_up"], value=1)
        found = {"mailgate_inbound_mails": reading.inbound, "mailgate_outbox_mails": reading.outbox,
                 "mailgate_tickets": reading.tickets}
        for name, statuses in _BY_STATUS.items():
            family = GaugeMetricFamily(name, GAUGES[name], labels=["status"])
            counts = found[name]
            for status in (*statuses, *sorted(set(counts) - set(statuses))):  # every known status, 0 included
                family.add_metric([status], counts.get(status, 0))
            yield family
        now = self.clock()
        for name, at in (("mailgate_inbound_oldest_received_age_seconds", reading.oldest_received),
                         ("mailgate_outbox_oldest_queued_age_seconds", reading.oldest_queued)):
            age = 0.0 if at is None else max(0.0, (now - at).total_seconds())
            yield GaugeMetricFamily(name, GAUGES[name], value=age)


def app(registry: CollectorRegistry) -> WSGIApplication:
    """prometheus_client's WSGI app (content negotiation, gzip) at /metrics; 404 anywhere else."""
    metrics = cast(WSGIApplication, make_wsgi_app(registry))

    def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"not found: the metrics are at {PATH}\n".encode()]
        return metrics(environ, start_response)

    return route


class _Handler(WSGIRequestHandler):
    timeout = 10  # a client that says nothing does not hold the serving thread for long

    def log_message(self, format: str, *args: Any) -> None:
        """No line on stderr per scrape."""


class _Server(WSGIServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("metrics: request failed", client=str(client_address))


class _Server6(_Server):
    address_family = socket.AF_INET6


class MetricsServer:
    """`start()` binds the port (an error there is the daemon's start-up error); `run(stop)` serves until stop.
    It has a database connection of its own, used on its HTTP server's thread: a scrape neither waits for nor
    delays the daemon's transactions on its database thread (SQLite, WAL: a reader does not block the writer)."""

    def __init__(self, settings: Settings, *, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.db: Database | None = None
        self.http: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self.http is not None
        return int(self.http.server_address[1])

    async def start(self) -> None:
        s = self.settings
        self.db = Database(make_engine(s.database_url, busy_timeout_ms=s.database.busy_timeout_ms, pool_size=1))
        registry = CollectorRegistry()
        registry.register(StoreCollector(self.db, self.clock))
        family = socket.AF_INET6 if ":" in s.metrics.host else socket.AF_INET
        try:
            self.http = await asyncio.to_thread(
                make_server, s.metrics.host, s.metrics.port, app(registry),
                server_class=_Server6 if family == socket.AF_INET6 else _Server, handler_class=_Handler)
        except BaseException:
            await asyncio.to_thread(self.db.close)
            raise
        self._thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="mailgate-metrics", daemon=True)
        self._thread.start()
        logger.info("metrics listening", host=s.metrics.host, port=self.port, path=PATH)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` (start() first if it was not called), then close the port and the database."""
        if self.http is None:
            await self.start()
        try:
            await stop.wait()
        finally:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        http, self.http = self.http, None
        if http is not None:
            http.shutdown()  # waits for serve_forever, hence for a scrape in progress
            http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=15)
        db, self.db = self.db, None
        if db is not None:
            db.close()


async def serve(settings: Settings, stop: asyncio.Event, *, clock: Clock = utcnow) -> None:
    """The endpoint as one task of the daemon: bind, serve until `stop`, close."""
    await MetricsServer(settings, clock=clock).run(stop)
