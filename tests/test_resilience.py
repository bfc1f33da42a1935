"""The daemon stays up: a mail the SMTP client refuses, a sender address that is no mailbox, every real mail of
the corpus with its acknowledgement really sent, and PostgreSQL refusing or dropping connections."""

from __future__ import annotations

import asyncio
import re
import smtplib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP

from mailgate.clock import utcnow
from mailgate.config.settings import Settings
from mailgate.daemon import Daemon
from mailgate.store import outbox
from mailgate.store.tables import outbox as outbox_table
from tests.conftest import (
    SmartHostSink,
    all_tickets,
    cli,
    counts,
    eml,
    make_settings,
    pg_admin,
    read,
    running,
    settings_data,
    smtp_send,
    ticket,
    until,
    write,
    write_config,
)
from tests.test_corpus import CORPUS, corpus_mails


async def _outbox(settings: Settings) -> list[dict[str, Any]]:
    def q(conn: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id))]

    return await read(settings, q)  # type: ignore[no-any-return]


def _mail(sender: str, subject: str, mid: str) -> bytes:
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n\r\n"
            "Bonjour, rien ne marche.\r\n").encode()


async def test_an_outbox_mail_the_smtp_client_refuses_fails_alone(smart_host: SmartHostSink,
                                                                  settings: Settings) -> None:
    # a row queued before addresses were checked: aiosmtplib refuses it with ValueError before sending
    def queue(conn: Any) -> None:
        now = utcnow()
        for n, to in enumerate(["big bug bb@bug.com", "fabrice@client.example"]):
            outbox.enqueue(conn, ticket_id=None, kind="ack", message_id=f"m{n}@example.test",
                                 envelope_from="support@example.test", envelope_to=[to],
                                 raw=b"Subject: x\r\n\r\nx\r\n", now=now, deadline=now + timedelta(minutes=5))

    await write(settings, queue)
    async with running(settings) as daemon:
        await until(lambda: len(smart_host.received) == 1, what="the good mail")

        async def recorded() -> bool:
            return [r["status"] for r in await _outbox(settings)] == ["failed", "sent"]

        await until(recorded, what="both results recorded")
        refused, sent = await _outbox(settings)
        assert refused["status"] == "failed" and "not permitted in an SMTP mailbox" in refused["last_error"]
        assert sent["status"] == "sent"
        # the sender task lives on: a new mail still gets its acknowledgement
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: len(smart_host.received) == 2, what="the next acknowledgement")


async def test_a_sender_that_is_no_mailbox_gets_no_ack_and_the_ticket_says_why(
        smart_host: SmartHostSink, settings: Settings) -> None:
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, _mail("<eve@example.com\x0bX-Injected: 1>", "Panne", "bad-1@x.example"))
        await smtp_send(daemon.smtp_port, _mail("Big Bug bb@bug.com", "Imprimante", "bug-1@bug.com"))
        await until(lambda: _processed(settings, 2), what="both mails processed")
        await until(lambda: len(smart_host.received) == 1, what="the recovered sender's acknowledgement")
    first = await ticket(settings, 1)
    assert first is not None
    suppressed = [e["data"] for e in first["events"] if e["kind"] == "mail_suppressed"]
    assert suppressed and suppressed[0]["kind"] == "ack" and "control characters" in suppressed[0]["why"]
    (envelope,) = smart_host.received
    assert envelope.rcpt_tos == ["bb@bug.com"]
    assert [r["status"] for r in await _outbox(settings)] == ["sent"]


def _crlf(raw: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", raw)


async def _processed(settings: Settings, n: int) -> bool:
    return (await counts(settings))["inbound"].get("processed", 0) >= n


@pytest.mark.corpus
@pytest.mark.skipif(not (CORPUS / "INDEX.tsv").is_file(), reason=f"corpus absent at {CORPUS}")
async def test_every_corpus_mail_through_a_running_daemon_with_acks_sent(tmp_path: Path) -> None:
    smart_host = SmartHostSink()  # as Postfix (3.0 and later) does, it takes internationalised addresses
    smart_host.server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(smart_host, enable_SMTPUTF8=True), host="127.0.0.1", port=0)
    smart_host.port = smart_host.server.sockets[0].getsockname()[1]
    settings = make_settings(f"sqlite:///{tmp_path / 'corpus.sqlite3'}", smart_host.port, tmp_path,
                             smtp__max_message_size=30 * 1024 * 1024,
                             gateway__rules=str(Path(__file__).resolve().parent.parent / "rules"),
                             hygiene__auto_mail_per_recipient_per_hour=1000,
                             hygiene__auto_mail_per_ticket_per_hour=1000)
    mails = [(path, _crlf(raw)) for path, raw in corpus_mails()]  # as an MTA sends them: CRLF line ends

    def send_all(port: int) -> tuple[int, list[tuple[str, int]]]:
        accepted, refused = 0, []
        client = smtplib.SMTP("127.0.0.1", port, timeout=30)
        for path, raw in mails:
            try:
                client.sendmail("client@example.org", ["support@example.test"], raw)
                accepted += 1
            except smtplib.SMTPResponseException as exc:
                refused.append((path, exc.smtp_code))
                client.rset()
            except smtplib.SMTPServerDisconnected:
                refused.append((path, 0))
                client = smtplib.SMTP("127.0.0.1", port, timeout=30)
        client.quit()
        return accepted, refused

    daemon = Daemon(settings)
    await daemon.start()
    task = asyncio.create_task(daemon.run())
    try:
        accepted, refused = await asyncio.to_thread(send_all, daemon.smtp_port)
        assert refused == [] and accepted == len(mails)

        async def drained() -> bool:
            c = await counts(settings)
            return c["inbound"].get("received", 0) == 0 and c["outbox"].get("queued", 0) == 0

        await until(drained, timeout=240, what="every mail processed and every queued mail sent")
        assert not task.done(), "the daemon stopped"
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
        smart_host.server.close()
    c = await counts(settings)
    assert c["inbound"].get("shunted", 0) == 0
    assert c["outbox"].get("failed", 0) == 0, [r["last_error"] for r in await _outbox(settings)
                                               if r["status"] == "failed"]
    assert c["outbox"]["sent"] == len(smart_host.received) > 100
    assert len(await all_tickets(settings)) > 100


# ------------------------------------------------------------------ PostgreSQL refusing connections

async def _admin(sql: str) -> None:
    await asyncio.to_thread(pg_admin, sql)


@pytest.fixture
async def own_pg_database(pg_database: str) -> Any:
    """A database of this test's own (copied from the migrated one), so that refusing its connections
    touches no other test."""
    name = f"{pg_database.rpartition('/')[2]}_faults"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_database.rpartition("/")[2]}"')
    try:
        yield name, f"{pg_database.rpartition('/')[0]}/{name}"
    finally:
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _refuse(name: str, refuse: bool) -> None:
    await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if refuse else "true"}')
    if refuse:
        await _terminate(name)


async def _terminate(name: str) -> None:
    await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")


async def _try_send(port: int, raw: bytes) -> int:
    try:
        await smtp_send(port, raw)
        return 250
    except smtplib.SMTPResponseException as exc:
        return exc.smtp_code


@pytest.mark.postgres
async def test_postgresql_refusing_connections_never_stops_the_daemon(
        smart_host: SmartHostSink, tmp_path: Path, own_pg_database: tuple[str, str],
        caplog: pytest.LogCaptureFixture) -> None:
    name, url = own_pg_database
    settings = make_settings(url, smart_host.port, tmp_path)
    daemon = Daemon(settings)
    await daemon.start()
    task = asyncio.create_task(daemon.run())
    try:
        assert await _try_send(daemon.smtp_port, _mail("a@client.example", "avant", "before@x")) == 250
        await until(lambda: len(smart_host.received) == 1, what="the first acknowledgement")
        await _refuse(name, True)
        codes = [await _try_send(daemon.smtp_port, _mail("b@client.example", f"pendant {n}", f"during-{n}@x"))
                 for n in range(3)]
        assert codes == [451, 451, 451]  # not stored: the sending MTA keeps them
        await asyncio.sleep(2)  # the worker, the sender and the sweeper meet the refusal too
        assert not task.done(), "the daemon stopped while the database refused connections"
        await _refuse(name, False)
        assert await _try_send(daemon.smtp_port, _mail("c@client.example", "après", "after@x")) == 250
        await until(lambda: len(smart_host.received) == 2, timeout=40, what="the acknowledgement after recovery")
        accepted = 2
        for n in range(20):  # connections dropped under load, mid-transaction: retried, never shunted
            code = await _try_send(daemon.smtp_port, _mail("d@client.example", f"charge {n}", f"load-{n}@x"))
            accepted += code == 250
            if n % 3 == 0:
                await _terminate(name)
        assert accepted >= 15

        async def settled() -> bool:
            c = (await counts(settings))["inbound"]
            return c.get("received", 0) == 0 and sum(c.values()) >= accepted

        await until(settled, timeout=60, what="every stored mail processed")
        assert not task.done(), "the daemon stopped while connections were dropped"
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)
    # none shunted for the database's fault; a commit whose answer the dropped connection lost may have stored
    # a mail that got 451: the sending MTA's retry is then a duplicate, stored once
    (status,) = (await counts(settings))["inbound"]
    assert status == "processed"
    assert "Future exception was never retrieved" not in caplog.text


@pytest.mark.postgres
async def test_a_daemon_started_while_postgresql_refuses_waits_for_it(
        smart_host: SmartHostSink, tmp_path: Path, own_pg_database: tuple[str, str]) -> None:
    name, url = own_pg_database
    await _refuse(name, True)
    settings = make_settings(url, smart_host.port, tmp_path)
    daemon = Daemon(settings)
    task = asyncio.create_task(daemon.run())
    try:
        await asyncio.sleep(1.5)
        assert not task.done()  # waiting, not dead
        await _refuse(name, False)
        await until(lambda: daemon.server is not None, timeout=40, what="the daemon up once the database is")
        assert await _try_send(daemon.smtp_port, eml("new_request.eml")) == 250
        await until(lambda: len(smart_host.received) == 1, timeout=20, what="the acknowledgement")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 30)


@pytest.mark.postgres
def test_a_database_that_does_not_exist_is_a_configuration_error(tmp_path: Path, pg_database: str) -> None:
    url = f"{pg_database.rpartition('/')[0]}/no_such_database_here"
    config = write_config(tmp_path / "config.toml", settings_data(url, 1))
    done = cli(config, "run", timeout=30)
    assert done.returncode == 78, done.stderr
    message = done.stderr.decode()
    assert "[database] url" in message and "no_such_database_here" in message and "Traceback" not in message
