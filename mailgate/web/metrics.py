"""Shell, web: the Prometheus /metrics endpoint ([metrics]), its figures read from the database at each scrape, and
/healthz: each part of the gateway (database, listener, worker, outbox, IMAP mailboxes) ok or not, as JSON."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as NoAnswer
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from mailgate import log
from mailgate.clock import Clock, utcnow
from mailgate.config.settings import Settings
from mailgate.core.model import Status
from mailgate.store import imap_state, inbound, outbox, tickets
from mailgate.store.db import Database, make_engine, one_line, sqlite_path

logger = log.get("metrics")
PATH = "/metrics"
HEALTH_PATH = "/healthz"
HEALTH_DB_TIMEOUT = 2.0  # seconds the database has to answer a health check

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


def read_health(conn: Connection, timeout_ms: int) -> tuple[datetime | None, datetime | None, list[dict[str, Any]]]:
    """SELECT 1, then the oldest mail waiting for the worker, the oldest queued, each IMAP mailbox's state."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
    conn.execute(sa.text("SELECT 1"))
    return inbound.oldest_waiting(conn), outbox.oldest_queued(conn), imap_state.all_states(conn)


class Health:
    """/healthz: every part's state; ok when each part is. `listening` tells whether the SMTP listener serves
    (the daemon's; None: not known here). One database check at a time, on a thread of its own: one that hangs
    is answered `no answer within N s`, and the next request waits for it again rather than piling up."""

    def __init__(self, settings: Settings, db: Database, clock: Clock, listening: Callable[[], bool] | None) -> None:
        self.settings, self.db, self.clock, self.listening = settings, db, clock, listening
        self.sqlite_file = sqlite_path(settings.database_url)
        self._checks = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mailgate-health")
        self._pending: Future[Any] | None = None

    def check(self) -> tuple[bool, dict[str, Any]]:
        m, now, timeout = self.settings.metrics, self.clock(), HEALTH_DB_TIMEOUT
        parts: dict[str, dict[str, Any]] = {}
        try:
            if self.sqlite_file and not os.path.exists(self.sqlite_file):
                raise FileNotFoundError(f"the SQLite file {self.sqlite_file} is missing")
            pending = self._pending
            if pending is None or pending.done():
                pending = self._pending = self._checks.submit(self.db.read_now, read_health,
                                                              int(timeout * 1000))
            waiting, queued, mailboxes = pending.result(timeout=timeout)
        except NoAnswer:
            parts["database"] = {"ok": False, "state": f"no answer within {timeout:g} s"}
        except Exception as exc:
            parts["database"] = {"ok": False, "state": f"unreadable: {one_line(exc)}"}
        else:
            parts["database"] = {"ok": True, "state": "reachable"}
        if self.listening is not None:
            serving = not self.settings.smtp.enabled or self.listening()
            parts["listener"] = {"ok": serving, "state": "disabled ([smtp] enabled = false)" if
                                 not self.settings.smtp.enabled else "listening" if serving else "not listening"}
        if parts["database"]["ok"]:
            parts["worker"] = _age_part(waiting, now, m.health_inbound_max_age, "received mail waiting")
            parts["outbox"] = _age_part(queued, now, m.health_outbox_max_age, "mail queued")
            states = {box["mailbox"]: box for box in mailboxes}
            for mailbox in self.settings.imap:
                parts[f"imap:{mailbox.key}"] = _mailbox_part(states.get(mailbox.key))
        failing = [name for name, part in parts.items() if not part["ok"]]
        return not failing, {"ok": not failing, "failing": failing, "at": now.isoformat(timespec="seconds"),
                             "parts": parts}

    def close(self) -> None:
        self._checks.shutdown(wait=False, cancel_futures=True)


def _age_part(oldest: datetime | None, now: datetime, limit: float, what: str) -> dict[str, Any]:
    """Ok while the oldest mail in that state is younger than `limit` seconds (or there is none)."""
    if oldest is None:
        return {"ok": True, "state": f"no {what}", "oldest_at": None, "age_seconds": 0}
    age = max(0, int((now - oldest).total_seconds()))
    late = age > limit
    return {"ok": not late, "state": f"{what} for {age} s" + (f" (more than {limit:g} s)" if late else ""),
            "oldest_at": oldest.isoformat(timespec="seconds"), "age_seconds": age}


def _mailbox_part(state: dict[str, Any] | None) -> dict[str, Any]:
    """Ok unless its last poll failed (errors since the last success)."""
    if state is None:
        return {"ok": True, "state": "not polled yet", "last_poll_at": None}
    failed = state["errors"] > 0
    return {"ok": not failed, "state": f"failing: {state['last_error']}" if failed else
            "connected" if state["connected"] else "disconnected", "last_poll_at": state["last_poll_at"],
            "errors": state["errors"], "last_error_at": state["last_error_at"]}


def app(registry: CollectorRegistry, health: Health | None = None) -> WSGIApplication:
    """prometheus_client's WSGI app (content negotiation, gzip) at /metrics, the health JSON at /healthz (200 when
    every part is ok, else 503); 404 anywhere else."""
    metrics = cast(WSGIApplication, make_wsgi_app(registry))

    def route(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and health is not None:
            ok, report = health.check()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(report, ensure_ascii=False, indent=1).encode() + b"\n"]
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

    def __init__(self, settings: Settings, *, clock: Clock = utcnow,
                 listening: Callable[[], bool] | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.listening = listening  # whether the daemon's SMTP listener serves, for /healthz
        self.db: Database | None = None
        self.health: Health | None = None
        self.http: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self.http is not None
        return int(self.http.server_address[1])

    async def start(self) -> None:
        s = self.settings
        # two connections (PostgreSQL): a scrape does not wait for a health check that hangs
        self.db = Database(make_engine(s.database_url, busy_timeout_ms=s.database.busy_timeout_ms, pool_size=2))
        registry = CollectorRegistry()
        registry.register(StoreCollector(self.db, self.clock))
        self.health = Health(s, self.db, self.clock, self.listening)
        family = socket.AF_INET6 if ":" in s.metrics.host else socket.AF_INET
        try:
            self.http = await asyncio.to_thread(
                make_server, s.metrics.host, s.metrics.port, app(registry, self.health),
                server_class=_Server6 if family == socket.AF_INET6 else _Server, handler_class=_Handler)
        except BaseException:
            self.health.close()
            await asyncio.to_thread(self.db.close)
            raise
        self._thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="mailgate-metrics", daemon=True)
        self._thread.start()
        logger.info("metrics listening", host=s.metrics.host, port=self.port, path=PATH, health=HEALTH_PATH)

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
        health, self.health = self.health, None
        if health is not None:
            health.close()
        db, self.db = self.db, None
        if db is not None:
            db.close()


async def serve(settings: Settings, stop: asyncio.Event, *, clock: Clock = utcnow) -> None:
    """The endpoint as one task of the daemon: bind, serve until `stop`, close."""
    await MetricsServer(settings, clock=clock).run(stop)
