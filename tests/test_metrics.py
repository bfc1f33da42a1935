"""The /metrics endpoint: started on a free port, scraped with a plain HTTP client, figures from the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.config.settings import Settings, from_dict
from mailgate.core.model import Address, NewTicket, Priority, RequestType
from mailgate.store import imap_state, inbound, outbox, tickets
from mailgate.store.inbound import Arrival
from mailgate.store.tables import ticket
from mailgate.web.metrics import MetricsServer
from tests.conftest import SmartHostSink, make_settings, running, settings_data, until, write

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def _populate(conn: Connection) -> None:
    """Five stored mails (2 waiting, the oldest for 120 s; processed, quarantined, shunted), three outgoing
    (sent, failed, and one queued for 30 s), two tickets (open, in_progress)."""
    for n, ago in enumerate((600, 500, 400, 120, 60), start=1):
        raw = f"From: c{n}@client.example\r\nMessage-ID: <m{n}@client.example>\r\nSubject: s{n}\r\n\r\nbody\r\n"
        inbound.store(conn, Arrival(raw=raw.encode(), source="smtp", source_ref="127.0.0.1", envelope_from=None,
                                    envelope_to=["support@example.test"], message_id=f"<m{n}@client.example>",
                                    sender=f"c{n}@client.example"), T0 - timedelta(seconds=ago))
    spec = NewTicket(title="Imprimante", requester=Address("c1@client.example"), cc=(), type=RequestType.ASSISTANCE,
                     level=1, priority=Priority.NORMAL, locale="fr")
    first = tickets.create(conn, spec, T0)
    second = tickets.create(conn, spec, T0)
    conn.execute(sa.update(ticket).where(ticket.c.id == second).values(status="in_progress"))
    claimed = inbound.claim(conn, "test", T0, T0 + timedelta(minutes=1), 3)
    assert [r.id for r in claimed] == [1, 2, 3]
    assert inbound.finish(conn, 1, status="processed", ticket_id=first, now=T0, me="test")
    assert inbound.finish(conn, 2, status="quarantined", ticket_id=None, now=T0, me="test")
    inbound.shunt(conn, 3, "Traceback: boom", T0)
    ids = [outbox.enqueue(conn, ticket_id=first, kind="ack", message_id=f"<o{ago}@example.test>",
                          envelope_from="support@example.test", envelope_to=["c1@client.example"], raw=b"x",
                          now=T0 - timedelta(seconds=ago), deadline=T0 + timedelta(days=2))
           for ago in (300, 200, 30)]
    outbox.mark_sent(conn, ids[0], T0)
    outbox.mark_failed(conn, ids[1], "550 5.1.1 no such user")


def _scrape(url: str) -> tuple[int, str, dict[str, float]]:
    """GET with the stdlib's HTTP client: status, content type, and each sample line as `name{labels}` -> value."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body, status, kind = response.read().decode(), response.status, response.headers["Content-Type"]
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], {}
    samples = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return status, kind, samples


async def test_metrics_are_read_from_the_database_at_each_scrape(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 0, tmp_path, metrics__enabled=True, metrics__port=0)
    await write(settings, _populate)
    server = MetricsServer(settings, clock=lambda: T0)
    stop = asyncio.Event()
    await server.start()
    task = asyncio.create_task(server.run(stop))
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        status, kind, samples = await asyncio.to_thread(_scrape, url)
        assert status == 200 and kind.startswith("text/plain")
        assert samples["mailgate_database_up"] == 1
        assert {k: v for k, v in samples.items() if k.startswith("mailgate_inbound_mails")} == {
            'mailgate_inbound_mails{status="received"}': 2, 'mailgate_inbound_mails{status="processed"}': 1,
            'mailgate_inbound_mails{status="ignored"}': 0, 'mailgate_inbound_mails{status="quarantined"}': 1,
            'mailgate_inbound_mails{status="shunted"}': 1}
        assert {k: v for k, v in samples.items() if k.startswith("mailgate_outbox_mails")} == {
            'mailgate_outbox_mails{status="queued"}': 1, 'mailgate_outbox_mails{status="sent"}': 1,
            'mailgate_outbox_mails{status="failed"}': 1}
        assert samples['mailgate_tickets{status="open"}'] == 1
        assert samples['mailgate_tickets{status="in_progress"}'] == 1
        assert samples['mailgate_tickets{status="closed"}'] == 0
        assert samples["mailgate_inbound_oldest_received_age_seconds"] == 120
        assert samples["mailgate_outbox_oldest_queued_age_seconds"] == 30

        # the next scrape reads again: what another process changed shows at once
        def drain(conn: Connection) -> None:
            for row in inbound.claim(conn, "other", T0, T0 + timedelta(minutes=1), 10):
                inbound.finish(conn, row.id, status="ignored", ticket_id=None, now=T0, me="other")

        await write(settings, drain)
        _, _, samples = await asyncio.to_thread(_scrape, url)
        assert samples['mailgate_inbound_mails{status="received"}'] == 0
        assert samples['mailgate_inbound_mails{status="ignored"}'] == 2
        assert samples["mailgate_inbound_oldest_received_age_seconds"] == 0

        status, _, _ = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{server.port}/other")
        assert status == 404
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)
    assert server.http is None and server.db is None  # port and database closed


async def test_an_unreadable_database_is_reported_not_raised(tmp_path: Path) -> None:
    # a SQLite file without mailgate's tables: every query fails
    settings: Settings = make_settings(f"sqlite:///{tmp_path / 'empty.sqlite3'}", 0, tmp_path,
                                       metrics__enabled=True, metrics__port=0)
    server = MetricsServer(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    try:
        await until(lambda: server.http is not None or task.done(), what="the port bound")
        status, _, samples = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{server.port}/metrics")
        assert status == 200
        assert samples["mailgate_database_up"] == 0
        assert not any(name.startswith(("mailgate_inbound", "mailgate_tickets")) for name in samples)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def test_the_daemon_serves_metrics_when_enabled(smart_host: SmartHostSink, tmp_path: Path) -> None:
    """[metrics] enabled: the daemon's listener binds the endpoint at start and serves it while it runs."""
    url = f"sqlite:///{tmp_path / 'm.sqlite3'}"
    settings = make_settings(url, smart_host.port, tmp_path, metrics__enabled=True, metrics__port=0)
    async with running(settings) as daemon:
        assert daemon.metrics is not None
        status, _, samples = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{daemon.metrics.port}/metrics")
        assert status == 200 and samples["mailgate_database_up"] == 1.0
        assert samples['mailgate_inbound_mails{status="received"}'] == 0.0


# ---------------------------------------------------------------- /healthz

def _health(port: int) -> tuple[int, dict[str, Any]]:
    """GET /healthz: the status and the JSON report (a 503 has one too)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.headers["Content-Type"] == "application/json"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        assert exc.headers["Content-Type"] == "application/json"
        return exc.code, json.loads(exc.read())


@asynccontextmanager
async def _serving(settings: Settings, **options: Any) -> AsyncIterator[MetricsServer]:
    server = MetricsServer(settings, **options)
    stop = asyncio.Event()
    await server.start()
    task = asyncio.create_task(server.run(stop))
    try:
        yield server
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


async def test_a_healthy_daemon_answers_200_with_every_part_ok(smart_host: SmartHostSink, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'h.sqlite3'}"
    settings = make_settings(url, smart_host.port, tmp_path, metrics__enabled=True, metrics__port=0)
    async with running(settings) as daemon:
        assert daemon.metrics is not None
        status, report = await asyncio.to_thread(_health, daemon.metrics.port)
    assert status == 200 and report["ok"] is True and report["failing"] == []
    assert set(report["parts"]) == {"database", "listener", "worker", "outbox"}
    assert all(part["ok"] for part in report["parts"].values())
    assert report["parts"]["listener"]["state"] == "listening"
    assert report["parts"]["worker"]["state"] == "no received mail waiting"


def _store_waiting(conn: Connection, ago: float) -> None:
    raw = b"From: c@client.example\r\nMessage-ID: <late@client.example>\r\nSubject: s\r\n\r\nbody\r\n"
    inbound.store(conn, Arrival(raw=raw, source="smtp", source_ref="127.0.0.1", envelope_from=None,
                                envelope_to=["support@example.test"], message_id="<late@client.example>",
                                sender="c@client.example"), T0 - timedelta(seconds=ago))


def _queue_mail(conn: Connection, ago: float) -> int:
    return outbox.enqueue(conn, ticket_id=None, kind="ack", message_id=f"<q{ago}@example.test>",
                          envelope_from="support@example.test", envelope_to=["c@client.example"], raw=b"x",
                          now=T0 - timedelta(seconds=ago), deadline=T0 + timedelta(days=2))


async def test_mail_waiting_or_queued_too_long_fails_its_part(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 0, tmp_path, metrics__enabled=True, metrics__port=0)
    await write(settings, _store_waiting, 600)  # 10 min waiting for the worker (more than 5)
    stuck = await write(settings, _queue_mail, 1200)  # queued 20 min ago (more than 15)
    await write(settings, _queue_mail, 60)  # a fresh one: fine
    async with _serving(settings, clock=lambda: T0, listening=lambda: True) as server:
        status, report = await asyncio.to_thread(_health, server.port)
        assert status == 503 and report["ok"] is False
        assert report["failing"] == ["worker", "outbox"]
        assert report["parts"]["worker"]["age_seconds"] == 600
        assert report["parts"]["outbox"] == {"ok": False, "state": "mail queued for 1200 s (more than 900 s)",
                                             "oldest_at": (T0 - timedelta(seconds=1200)).isoformat(),
                                             "age_seconds": 1200}
        assert report["parts"]["database"]["ok"] and report["parts"]["listener"]["ok"]

        def drain(conn: Connection) -> None:
            for row in inbound.claim(conn, "w", T0, T0 + timedelta(minutes=1), 10):
                inbound.finish(conn, row.id, status="processed", ticket_id=None, now=T0, me="w")

        await write(settings, drain)
        status, report = await asyncio.to_thread(_health, server.port)
        assert status == 503 and report["failing"] == ["outbox"]
        await write(settings, outbox.mark_sent, stuck, T0)
        status, report = await asyncio.to_thread(_health, server.port)
        assert status == 200 and report["failing"] == [] and report["parts"]["outbox"]["age_seconds"] == 60


async def test_a_listener_down_and_a_failing_mailbox_are_named(tmp_path: Path) -> None:
    data = settings_data(f"sqlite:///{tmp_path / 'l.sqlite3'}", 0, metrics__enabled=True, metrics__port=0)
    data["imap"] = [{"name": name, "host": "127.0.0.1", "username": "u", "password_env": "NOPE"}
                    for name in ("good", "bad", "new")]
    settings = from_dict(data, str(tmp_path / "config.toml"))

    def polled(conn: Connection) -> None:
        imap_state.update(conn, "good", connected=True, last_poll_at=T0)
        imap_state.record_error(conn, "bad", "OSError: connection refused", T0)

    await write(settings, polled)
    async with _serving(settings, clock=lambda: T0, listening=lambda: False) as server:
        status, report = await asyncio.to_thread(_health, server.port)
    assert status == 503 and report["failing"] == ["listener", "imap:bad"]
    parts = report["parts"]
    assert parts["listener"] == {"ok": False, "state": "not listening"}
    assert parts["imap:good"]["ok"] and parts["imap:good"]["state"] == "connected"
    assert parts["imap:bad"]["state"] == "failing: OSError: connection refused"
    assert parts["imap:new"] == {"ok": True, "state": "not polled yet", "last_poll_at": None}


async def test_a_database_gone_fails_the_database_part(tmp_path: Path) -> None:
    path = tmp_path / "gone.sqlite3"
    settings = make_settings(f"sqlite:///{path}", 0, tmp_path, metrics__enabled=True, metrics__port=0)
    await write(settings, _store_waiting, 10)
    async with _serving(settings, clock=lambda: T0) as server:
        status, report = await asyncio.to_thread(_health, server.port)
        assert status == 200, report
        for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
            (tmp_path / name).unlink(missing_ok=True)
        status, report = await asyncio.to_thread(_health, server.port)
    assert status == 503 and report["failing"] == ["database"]
    assert report["parts"] == {"database": {"ok": False, "state": f"unreadable: FileNotFoundError: the SQLite "
                                                                  f"file {path} is missing"}}


async def test_a_corrupt_or_wrong_database_fails_the_database_part(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database, whatever its name says\n" * 100)
    empty = tmp_path / "empty.sqlite3"  # a wrong URL: another database, without mailgate's tables
    with contextlib.closing(sqlite3.connect(empty)) as other:
        other.execute("CREATE TABLE other (x INTEGER)")
    for path, error in ((corrupt, "file is not a database"), (empty, "no such table")):
        settings = make_settings(f"sqlite:///{path}", 0, tmp_path, metrics__enabled=True, metrics__port=0)
        async with _serving(settings) as server:
            status, report = await asyncio.to_thread(_health, server.port)
        assert status == 503 and report["failing"] == ["database"], report
        assert error in report["parts"]["database"]["state"]
