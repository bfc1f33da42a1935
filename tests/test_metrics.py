"""The /metrics endpoint: started on a free port, scraped with a plain HTTP client, figures from the database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import smtplib
import sqlite3
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.config.settings import Settings, from_dict
from mailgate.core.model import Address, NewTicket, Priority, RequestType
from mailgate.store import imap_state, inbound, outbox, tickets
from mailgate.store.inbound import Arrival
from mailgate.store.later import Later
from mailgate.store.tables import event, ticket
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
    assert inbound.mine(conn, [1, 2, 3], "test") == {1, 2, 3}
    ended = Later()
    inbound.finish(ended, 1, status="processed", ticket_id=first, now=T0, me="test")
    inbound.finish(ended, 2, status="quarantined", ticket_id=None, now=T0, me="test")
    ended.flush(conn)
    inbound.shunt(conn, 3, "Traceback: boom", T0)
    ids = [outbox.enqueue(conn, ticket_id=first, kind="ack", message_id=f"<o{ago}@example.test>",
                          envelope_from="support@example.test", envelope_to=["c1@client.example"], raw=b"x",
                          now=T0 - timedelta(seconds=ago), deadline=T0 + timedelta(days=2))
           for ago in (300, 200, 30)]
    outbox.mark_sent(conn, ids[0], T0)
    outbox.mark_failed(conn, ids[1], "550 5.1.1 no such user")
    conn.execute(sa.insert(event), [dict(ticket_id=first, at=T0, kind=kind, data=data) for kind, data in (
        ("sla_breached", {"target": "response", "due": "x"}), ("sla_breached", {"target": "response", "due": "y"}),
        ("sla_breached", {"target": "resolution", "due": "z"}), ("created", {"target": "response"}))])


def _latency(samples: dict[str, float]) -> dict[str, float]:
    """Some buckets of the latency histogram, by bound."""
    return {le: samples[f'mailgate_processing_latency_seconds_bucket{{le="{le}"}}']
            for le in ("0.1", "60", "300", "900", "3600", "+Inf")}


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
        assert samples["mailgate_mails_received_total"] == 5
        assert samples["mailgate_mails_processed_total"] == 1 and samples["mailgate_mails_ignored_total"] == 0
        assert samples["mailgate_outbox_sent_total"] == 1
        # the processed mail, stored 600 s before T0, processed at T0; quarantined and shunted are not done
        assert _latency(samples) == {"0.1": 0, "60": 0, "300": 0, "900": 1, "3600": 1, "+Inf": 1}
        assert samples["mailgate_processing_latency_seconds_count"] == 1
        assert samples["mailgate_processing_latency_seconds_sum"] == pytest.approx(600, abs=0.01)
        assert samples['mailgate_service_target_breaches_total{target="response"}'] == 2
        assert samples['mailgate_service_target_breaches_total{target="resolution"}'] == 1

        # the next scrape reads again: what another process changed shows at once
        def drain(conn: Connection) -> None:
            ended = Later()
            for row in inbound.claim(conn, "other", T0, T0 + timedelta(minutes=1), 10):
                inbound.finish(ended, row.id, status="ignored", ticket_id=None, now=T0, me="other")
            ended.flush(conn)

        await write(settings, drain)
        _, _, samples = await asyncio.to_thread(_scrape, url)
        assert samples['mailgate_inbound_mails{status="received"}'] == 0
        assert samples['mailgate_inbound_mails{status="ignored"}'] == 2
        assert samples["mailgate_inbound_oldest_received_age_seconds"] == 0
        assert samples["mailgate_mails_ignored_total"] == 2
        # and 120 s, 60 s: the buckets count up to each bound
        assert _latency(samples) == {"0.1": 0, "60": 1, "300": 2, "900": 3, "3600": 3, "+Inf": 3}
        assert samples["mailgate_processing_latency_seconds_sum"] == pytest.approx(780, abs=0.01)

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
            ended = Later()
            for row in inbound.claim(conn, "w", T0, T0 + timedelta(minutes=1), 10):
                inbound.finish(ended, row.id, status="processed", ticket_id=None, now=T0, me="w")
            ended.flush(conn)

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


# ---------------------------------------------------------------- IMAP, scrape cost, rules, check, alerts

async def test_each_configured_mailbox_tells_its_state_and_last_poll(tmp_path: Path) -> None:
    data = settings_data(f"sqlite:///{tmp_path / 'i.sqlite3'}", 0, metrics__enabled=True, metrics__port=0)
    data["imap"] = [{"name": name, "host": "127.0.0.1", "username": "u", "password_env": "NOPE"}
                    for name in ("good", "bad", "new")]
    settings = from_dict(data, str(tmp_path / "config.toml"))

    def polled(conn: Connection) -> None:
        imap_state.update(conn, "good", connected=True, last_poll_at=T0)
        imap_state.add_stored(conn, "good", 7)
        imap_state.update(conn, "bad", connected=True, last_poll_at=T0 - timedelta(hours=1))
        for _ in range(2):
            imap_state.record_error(conn, "bad", "OSError: connection refused", T0)
        imap_state.update(conn, "removed", connected=True, last_poll_at=T0)  # no longer in the config

    await write(settings, polled)
    async with _serving(settings, clock=lambda: T0) as server:
        _, _, samples = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{server.port}/metrics")
    imap = {k: v for k, v in samples.items() if k.startswith("mailgate_imap_")}
    assert imap == {
        'mailgate_imap_connected{mailbox="good"}': 1, 'mailgate_imap_connected{mailbox="bad"}': 0,
        'mailgate_imap_connected{mailbox="new"}': 0,
        'mailgate_imap_last_poll_timestamp_seconds{mailbox="good"}': T0.timestamp(),
        'mailgate_imap_last_poll_timestamp_seconds{mailbox="bad"}': T0.timestamp() - 3600,
        'mailgate_imap_last_poll_timestamp_seconds{mailbox="new"}': 0,
        'mailgate_imap_failures{mailbox="good"}': 0, 'mailgate_imap_failures{mailbox="bad"}': 2,
        'mailgate_imap_failures{mailbox="new"}': 0,
        'mailgate_imap_stored_mails_total{mailbox="good"}': 7, 'mailgate_imap_stored_mails_total{mailbox="bad"}': 0,
        'mailgate_imap_stored_mails_total{mailbox="new"}': 0}


async def test_a_scrape_is_a_handful_of_statements_each_on_an_index(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 0, tmp_path, metrics__enabled=True, metrics__port=0)
    await write(settings, _populate)
    seen: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    async with _serving(settings, clock=lambda: T0) as server:
        assert server.db is not None
        engine = server.db.engine
        sa.event.listen(engine, "before_cursor_execute", keep)
        _, _, samples = await asyncio.to_thread(_scrape, f"http://127.0.0.1:{server.port}/metrics")
        sa.event.remove(engine, "before_cursor_execute", keep)
        queries = [(s, p) for s, p in seen if s.lstrip().upper().startswith(("SELECT", "WITH"))]
        assert samples["mailgate_database_up"] == 1 and len(queries) == 9
        if engine.dialect.name == "sqlite":  # the two statements added for the metrics read an index alone
            with engine.connect() as conn:
                plans = [" ".join(str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p))
                         for s, p in queries]
            assert any("COVERING INDEX ix_inbound_mail_status_processed_at_received_at" in p and "julianday" in s
                       for p, (s, _) in zip(plans, queries, strict=True))
            assert any("INDEX ix_event_sla_breached" in p for p in plans)
            assert not any(f"SCAN {table}" in p and "INDEX" not in p for p in plans for table in ("inbound_mail",
                                                                                                     "event"))


def _rules(folder: Path, *names: str) -> None:
    for name in names:
        (folder / f"{name}.yaml").write_text(f"rules:\n  - name: {name}\n    when:\n      subject: {{contains: "
                                             f"{name}}}\n    then:\n      priority: high\n", encoding="utf-8")


async def test_rule_reloads_in_the_worker_process_show_on_the_listeners_endpoint(
        smart_host: SmartHostSink, tmp_path: Path) -> None:
    """`mailgate run` in two processes: the worker process reloads the rules (SIGHUP, forwarded by the listener),
    the listener serves /metrics: reloads, refusals and the mail's latency all show there."""
    from mailgate.instance import HOST
    from tests.conftest import write_config
    from tests.test_processes import _children, _free_port, _kill_all, _start, _terminated

    folder = tmp_path / "rules"
    folder.mkdir()
    _rules(folder, "one", "two")
    smtp_port, metrics_port = _free_port(), _free_port()
    data = settings_data(f"sqlite:///{tmp_path / 'r.sqlite3'}", smart_host.port, smtp__port=smtp_port,
                         daemon__processes=2, metrics__enabled=True, metrics__port=metrics_port,
                         gateway__rules=str(folder))
    config = write_config(tmp_path / "config.toml", data)
    daemon = f'daemon="{HOST}:{config}"'
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    proc = _start(config)

    async def scrape() -> dict[str, float]:
        try:
            return (await asyncio.to_thread(_scrape, url))[2]
        except OSError:
            return {}

    async def showing(name: str, value: float) -> bool:
        return (await scrape()).get(name) == value

    try:
        await until(lambda: showing(f"mailgate_rules_active{{{daemon}}}", 2), timeout=30, what="the rules' state")
        assert len(_children(proc.pid)) == 1  # the worker is the other process
        samples = await scrape()
        assert samples[f'mailgate_rules_reloads_total{{{daemon},result="loaded"}}'] == 0
        assert samples[f"mailgate_rules_errors{{{daemon}}}"] == 0
        (folder / "three.yaml").write_text("rules:\n  - name: three\n    when: {nope: 1}\n    then: {}\n")
        proc.send_signal(signal.SIGHUP)
        await until(lambda: showing(f'mailgate_rules_reloads_total{{{daemon},result="refused"}}', 1), timeout=20,
                    what="the refused reload")
        samples = await scrape()
        assert samples[f"mailgate_rules_errors{{{daemon}}}"] >= 1 and samples[f"mailgate_rules_active{{{daemon}}}"] == 2
        (folder / "three.yaml").unlink()
        _rules(folder, "three")
        proc.send_signal(signal.SIGHUP)
        await until(lambda: showing(f'mailgate_rules_reloads_total{{{daemon},result="loaded"}}', 1), timeout=20,
                    what="the reload")
        samples = await scrape()
        assert samples[f"mailgate_rules_active{{{daemon}}}"] == 3 and samples[f"mailgate_rules_errors{{{daemon}}}"] == 0
        raw = b"From: c@client.example\r\nSubject: hello\r\nMessage-ID: <lat@client.example>\r\n\r\nBonjour\r\n"
        await asyncio.to_thread(smtplib.SMTP("127.0.0.1", smtp_port).sendmail, "c@client.example",
                                ["support@example.test"], raw)
        await until(lambda: showing("mailgate_processing_latency_seconds_count", 1), timeout=20,
                    what="the mail processed by the worker process")
        assert (await scrape())['mailgate_processing_latency_seconds_bucket{le="+Inf"}'] == 1
        err = await _terminated(proc)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    assert proc.returncode == 0, err


def test_check_warns_of_a_metrics_host_off_loopback(tmp_path: Path) -> None:
    from mailgate.config.checks import warnings
    from tests.conftest import cli, write_config

    for host, warned in (("0.0.0.0", True), ("127.0.0.1", False)):  # the command: a warning, not a refusal
        data = settings_data(f"sqlite:///{tmp_path / 'c.sqlite3'}", 25, metrics__enabled=True, metrics__host=host)
        result = cli(write_config(tmp_path / "config.toml", data), "check")
        assert result.returncode == 0, result.stderr
        assert (b"metrics.host: 0.0.0.0 is not a loopback address" in result.stderr) is warned, host
    for host, warned in (("192.0.2.10", True), ("metrics.example", True), ("", True), ("::1", False),
                         ("127.0.0.2", False), ("localhost", False)):
        settings = make_settings(f"sqlite:///{tmp_path / 'c.sqlite3'}", 25, tmp_path, metrics__enabled=True,
                                 metrics__host=host)
        assert [w.split(": ")[1] for w in warnings(settings)] == (["metrics.host"] if warned else []), host
    assert warnings(make_settings("sqlite://", 25, tmp_path, metrics__enabled=False, metrics__host="0.0.0.0")) == []


DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_the_alert_rules_are_valid_yaml_and_name_real_metrics() -> None:
    import re

    import yaml

    from mailgate.web.figures import SPECS, Kind

    loaded = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    (group,) = loaded["groups"]
    names = [rule["alert"] for rule in group["rules"]]
    assert len(names) == len(set(names)) >= 8
    series = {n for n, s in SPECS.items() for n in ((n,) if s.kind is not Kind.HISTOGRAM else
                                                    (f"{n}_bucket", f"{n}_count", f"{n}_sum"))}
    for rule in group["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"} and rule["annotations"]["summary"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        used = set(re.findall(r"\bmailgate_[a-z_]+", rule["expr"]))
        assert used and used <= series, (rule["alert"], used - series)
    for needed in ("WorkerDown", "OutboxStuck", "ShuntedMail", "ImapNotPolled", "ServiceTargetBreached"):
        assert f"Mailgate{needed}" in names


def test_the_docs_list_every_metric_with_its_type() -> None:
    from mailgate.web.figures import SPECS

    text = (DOCS / "operations.md").read_text(encoding="utf-8")
    for name, spec in SPECS.items():
        labels = f"{{{','.join(spec.labels)}}}" if spec.labels else ""
        assert f"| `{name}{labels}` | {spec.kind.value} |" in text, name
