"""The outbox sender against a real SMTP smart host: retries, permanent failures, no double sends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailgate.config.settings import Settings
from mailgate.core.delivery import Verdict, retry_delay
from mailgate.outbound.sender import UNRECORDED, Recorded, Sender
from mailgate.store import outbox
from mailgate.store.schema import database_for
from tests.conftest import SmartHostSink, counts, eml, make_settings, read, running, smtp_send, until, write


async def outbox_rows(settings: Settings) -> list[dict[str, object]]:
    import sqlalchemy as sa

    from mailgate.store.tables import outbox as table

    def q(conn):  # type: ignore[no-untyped-def]
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(table.c.id))]

    return await read(settings, q)  # type: ignore[no-any-return]


async def _queue_acks(settings: Settings, prefix: str, n: int) -> None:
    """n acknowledgements due now, to <prefix><i>@client.example."""
    def queue(conn):  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        for i in range(n):
            outbox.enqueue(conn, ticket_id=None, kind="ack", message_id=f"{prefix}{i}@x",
                           envelope_from="support@example.test", envelope_to=[f"{prefix}{i}@client.example"],
                           raw=f"Subject: {i}\r\n\r\nx\r\n".encode(), now=now, deadline=now + timedelta(hours=1))

    await write(settings, queue)


def _hold_commits(sender: Sender) -> asyncio.Event:
    """The sender's result commits wait until the returned event is set."""
    held, record = asyncio.Event(), sender.results.write

    async def slow_commit(item: Recorded) -> None:
        await held.wait()
        await record(item)

    sender.results.write = slow_commit  # type: ignore[method-assign]
    return held


async def test_4xx_then_recovery_is_sent_exactly_once(smart_host: SmartHostSink, settings: Settings) -> None:
    smart_host.answers = ["451 4.3.0 greylisted", "421 4.7.0 try later"]
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: len(smart_host.received) == 1, what="delivery after two refusals")
        await asyncio.sleep(0.5)  # more sender passes: nothing is sent again
    assert len(smart_host.received) == 1
    (row,) = await outbox_rows(settings)
    assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] is None


async def test_connection_refused_retries_until_smart_host_appears(db_url: str, tmp_path: Path) -> None:
    # nothing listens yet on the smart host port: the mail waits in the outbox
    sink = SmartHostSink()
    loop = asyncio.get_running_loop()
    from aiosmtpd.smtp import SMTP

    probe = await loop.create_server(lambda: SMTP(sink), host="127.0.0.1", port=0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    settings = make_settings(db_url, port, tmp_path)
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: _attempts(settings, 2), what="two failed attempts")
        sink.server = await loop.create_server(lambda: SMTP(sink), host="127.0.0.1", port=port)
        await until(lambda: len(sink.received) == 1, what="delivery once the smart host is up")
        sink.server.close()
    (row,) = await outbox_rows(settings)
    assert row["status"] == "sent"


async def test_5xx_is_recorded_failed_and_not_retried(smart_host: SmartHostSink, settings: Settings) -> None:
    smart_host.answers = ["550 5.1.1 no such user"]
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: _status(settings, "failed"), what="the failure")
        await asyncio.sleep(0.5)
    assert smart_host.received == []
    (row,) = await outbox_rows(settings)
    assert row["attempts"] == 1 and "550" in str(row["last_error"])


async def test_temporary_failures_give_up_at_deadline(smart_host: SmartHostSink, db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, smart_host.port, tmp_path, outbound__retry_deadline=0.4,
                             outbound__retry_initial_delay=0.1, outbound__retry_max_delay=0.1)
    smart_host.answers = ["451 4.3.0 later"] * 100
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: _status(settings, "failed"), what="the deadline")
    (row,) = await outbox_rows(settings)
    assert "gave up after" in str(row["last_error"]) and "451" in str(row["last_error"])
    assert smart_host.received == []


async def test_restart_never_resends_a_sent_mail(smart_host: SmartHostSink, settings: Settings) -> None:
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
    async with running(settings):
        await asyncio.sleep(0.6)
    assert len(smart_host.received) == 1
    assert (await counts(settings))["outbox"] == {"sent": 1}


async def test_lease_keeps_two_senders_from_sharing_a_mail(smart_host: SmartHostSink, settings: Settings) -> None:
    def queue(conn):  # type: ignore[no-untyped-def]
        now = datetime.now(UTC)
        for i in range(20):
            outbox.enqueue(conn, ticket_id=None, kind="ack", message_id=f"m{i}@x",
                           envelope_from="support@example.test", envelope_to=[f"c{i}@client.example"],
                           raw=f"Subject: {i}\r\n\r\nx\r\n".encode(), now=now, deadline=now + timedelta(hours=1))

    await write(settings, queue)
    dbs = [database_for(settings), database_for(settings)]  # two processes' worth: each its own connection
    try:
        a = Sender(settings.outbound, dbs[0], lambda: datetime.now(UTC))
        b = Sender(settings.outbound, dbs[1], lambda: datetime.now(UTC))
        sent = await asyncio.gather(a.send_due(), b.send_due())
        assert sum(sent) == 20
    finally:
        for db in dbs:
            db.close()
    assert sorted(e.rcpt_tos[0] for e in smart_host.received) == sorted(f"c{i}@client.example" for i in range(20))


async def test_a_batch_starts_no_send_that_could_outlast_its_lease(smart_host: SmartHostSink,
                                                                   settings: Settings) -> None:
    """A slow batch stops before its lease could run out mid-send: another sender (another instance) takes the
    rest only after the lease, so no mail is sent twice, and every mail goes once."""
    await _queue_acks(settings, "s", 3)
    start = datetime.now(UTC)
    ticks = iter(range(1000))
    db = database_for(settings)
    try:  # each reading of the clock is half a lease later: after one send the batch must stop
        slow = Sender(settings.outbound, db, lambda: start)
        slow.clock = lambda: start + next(ticks) * (slow.lease / 2)
        assert await slow.send_due() == 3  # leased three, sent one
        assert [e.rcpt_tos[0] for e in smart_host.received] == ["s0@client.example"]
        other = Sender(settings.outbound, db, lambda: datetime.now(UTC))
        assert await other.send_due() == 0  # the rest is still under the slow sender's lease
        later = Sender(settings.outbound, db, lambda: datetime.now(UTC) + slow.lease * 2)
        assert await later.send_due() == 2
    finally:
        db.close()
    assert sorted(e.rcpt_tos[0] for e in smart_host.received) == [f"s{i}@client.example" for i in range(3)]


async def test_however_slow_the_commits_few_sent_mails_wait_for_theirs(smart_host: SmartHostSink,
                                                                      settings: Settings) -> None:
    """A crash between the smart host's 250 and the commit that records it sends that mail again: with every
    commit held, the sender hands over UNRECORDED mails and waits, then goes on once they are recorded."""
    await _queue_acks(settings, "h", 20)
    db = database_for(settings)
    try:
        sender = Sender(settings.outbound, db, lambda: datetime.now(UTC))
        held = _hold_commits(sender)
        sending = asyncio.create_task(sender.send_due())
        await until(lambda: len(smart_host.received) >= UNRECORDED, what="the first sends")
        await asyncio.sleep(0.3)  # time enough to send the other twelve, were it allowed
        assert len(smart_host.received) == UNRECORDED
        held.set()
        assert await sending == 20
    finally:
        db.close()
    assert sorted(e.rcpt_tos[0] for e in smart_host.received) == sorted(f"h{i}@client.example" for i in range(20))
    assert {row["status"] for row in await outbox_rows(settings)} == {"sent"}


async def test_a_send_waiting_for_a_commit_still_checks_the_lease_and_a_failed_record_stops_the_batch(
        smart_host: SmartHostSink, settings: Settings) -> None:
    """While the sender waits for a slow commit, its lease may run out: the next mail is not sent then (another
    sender may have it). And once a result could not be recorded, the batch stops: each mail sent after it
    could be sent again too."""
    await _queue_acks(settings, "l", 20)
    db = database_for(settings)
    try:
        start = datetime.now(UTC)
        moments = [start]
        sender = Sender(settings.outbound, db, lambda: moments[-1])
        held = _hold_commits(sender)
        sending = asyncio.create_task(sender.send_due())
        await until(lambda: len(smart_host.received) >= UNRECORDED, what="the first sends")
        moments.append(start + sender.lease)  # the commits took the whole lease
        held.set()
        assert await sending == 20
        assert len(smart_host.received) == UNRECORDED  # none sent past the lease

        async def failing(item: Recorded) -> None:
            raise OSError("disk I/O error")

        later = Sender(settings.outbound, db, lambda: start + sender.lease * 3)
        later.results.write = failing  # type: ignore[method-assign]
        with pytest.raises(OSError):
            await later.send_due()
        assert len(smart_host.received) <= UNRECORDED + 2  # the rest of the batch is not sent
    finally:
        db.close()


@pytest.mark.parametrize("ehlo_name", ["mailgate.example.test", None])
async def test_smart_host_sees_the_configured_ehlo_name(smart_host: SmartHostSink, tmp_path: Path,
                                                        ehlo_name: str | None) -> None:
    import socket

    from mailgate.outbound.smarthost import SmartHost

    extra = {"outbound__ehlo_name": ehlo_name} if ehlo_name else {}
    settings = make_settings("sqlite://", smart_host.port, tmp_path, **extra)  # no database: only the client
    async with SmartHost(settings.outbound) as host:
        attempt = await host.send("support@example.test", ["c@client.example"], b"Subject: x\r\n\r\nx\r\n")
    assert attempt.verdict is Verdict.SENT, attempt.detail
    # unset: aiosmtplib's default, the machine's FQDN
    assert smart_host.ehlo_names == [ehlo_name or await asyncio.to_thread(socket.getfqdn)]


def test_retry_delay_doubles_and_caps() -> None:
    s = make_settings("sqlite://", 25, Path("/tmp"), outbound__retry_initial_delay=30,
                      outbound__retry_max_delay=100).outbound
    delays = [retry_delay(n, initial=s.retry_initial_delay, maximum=s.retry_max_delay) for n in (1, 2, 3, 4)]
    assert [d.total_seconds() for d in delays] == [30, 60, 100, 100]


async def _status(settings: Settings, status: str) -> bool:
    return (await counts(settings))["outbox"].get(status, 0) >= 1


async def _attempts(settings: Settings, n: int) -> bool:
    rows = await outbox_rows(settings)
    return bool(rows) and int(rows[0]["attempts"]) >= n  # type: ignore[call-overload]


async def test_internationalised_address_without_smtputf8_fails_cleanly(
    smart_host: SmartHostSink, settings: Settings
) -> None:
    raw = ("From: Jöhn <jdöe@mächine.example>\r\nTo: support@example.test\r\nSubject: x\r\n"
           "Message-ID: <u1@mächine.example>\r\n\r\nbody\r\n").encode()
    async with running(settings) as daemon:
        await smtp_send(daemon.smtp_port, raw)  # smtplib sends 8-bit headers as they are
        await until(lambda: _status(settings, "failed"), what="the refusal")
    (row,) = await outbox_rows(settings)
    assert "SMTPUTF8" in str(row["last_error"]) or "does not support" in str(row["last_error"])
    assert smart_host.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_smart_host_auth(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiosmtpd.smtp import SMTP, AuthResult

    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        login, password = (x.decode() if isinstance(x, bytes) else x
                           for x in (auth_data.login, auth_data.password))
        logins.append((login, password))
        return AuthResult(success=password == "right-password", handled=False)  # aiosmtpd sends 535

    sink = SmartHostSink()
    loop = asyncio.get_running_loop()
    sink.server = await loop.create_server(
        lambda: SMTP(sink, authenticator=authenticator, auth_required=True,
                     auth_require_tls=False),  # loopback test: no TLS
        host="127.0.0.1", port=0)
    sink.port = sink.server.sockets[0].getsockname()[1]
    monkeypatch.setenv("MG_TEST_SMTP_PASSWORD", "wrong-password")
    settings = make_settings(db_url, sink.port, tmp_path, outbound__username="mailgate",
                             outbound__password_env="MG_TEST_SMTP_PASSWORD")
    try:
        async with running(settings) as daemon:
            await smtp_send(daemon.smtp_port, eml("new_request.eml"))
            await until(lambda: _attempts(settings, 2), what="refused logins")
            (row,) = await outbox_rows(settings)
            assert row["status"] == "queued" and "refused our login" in str(row["last_error"])
            monkeypatch.setenv("MG_TEST_SMTP_PASSWORD", "right-password")  # the admin fixes it
            await until(lambda: len(sink.received) == 1, what="delivery with the right password")
    finally:
        sink.server.close()
    assert logins[0] == ("mailgate", "wrong-password") and logins[-1] == ("mailgate", "right-password")
