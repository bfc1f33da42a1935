"""Shell, web: the metrics port ([metrics]): the Prometheus /metrics endpoint, its figures read from the database
at each scrape (web/figures.py), and /healthz (web/health.py), served on a thread of their own."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import CollectorRegistry, make_wsgi_app

from mailgate import log
from mailgate.clock import Clock, utcnow
from mailgate.config.settings import Settings
from mailgate.store.db import Database, make_engine
from mailgate.web.figures import StoreCollector
from mailgate.web.health import PATH as HEALTH_PATH
from mailgate.web.health import Health

logger = log.get("metrics")
PATH = "/metrics"


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
        registry.register(StoreCollector(self.db, self.clock, tuple(dict.fromkeys(m.key for m in s.imap))))
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
