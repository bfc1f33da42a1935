"""End to end over SMTP: real smtplib client -> listener -> store -> worker -> outbox -> smart host."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from mailgate.clock import utcnow
from mailgate.config.settings import Settings
from mailgate.core.mail.signing import verify_message_id
from mailgate.daemon import Daemon
from mailgate.ingest import smtp as smtp_in
from mailgate.store import inbound, intake
from mailgate.store.group import GroupWriter
from mailgate.store.schema import database_for
from tests.conftest import (
    SECRET,
    SmartHostSink,
    all_tickets,
    counts,
    eml,
    make_settings,
    running,
    smtp_send,
    ticket,
    until,
)


def reply(to_message_id: str | None, subject: str, sender: str, body: str = "Merci.", mid: str = "r1") -> bytes:
    thread = f"In-Reply-To: <{to_message_id}>\r\nReferences: <{to_message_id}>\r\n" if to_message_id else ""
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{mid}@client.example>\r\n{thread}\r\n{body}\r\n").encode()


async def first_ticket_and_ack(daemon: Daemon, smart_host: SmartHostSink, settings: Settings) -> bytes:
    await smtp_send(daemon.smtp_port, eml("new_request.eml"), sender="fabrice@client.example")
    await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
    return smart_host.messages()[0]


async def test_new_mail_opens_ticket_and_sends_signed_ack(
    daemon: Daemon, smart_host: SmartHostSink, settings: Settings
) -> None:
    raw_ack = await first_ticket_and_ack(daemon, smart_host, settings)
    t = await ticket(settings, 1)
    assert t is not None
    assert (t["id"], t["status"], t["status_label"], t["type"], t["level"], t["priority"]) == (
        1, "open", "Ouvert", "assistance", 1, "normal")
    assert t["requester"] == "fabrice@client.example"
    assert t["title"] == "Création de l'utilisateur Fabrice"
    assert t["participants"] == [
        {"email": "fabrice@client.example", "name": "Fabrice Martin", "role": "requester"},
        {"email": "julie@client.example", "name": "Julie Petit", "role": "cc"},
    ]
    inbound, outbound = t["messages"]
    assert inbound["direction"] == "in" and "créer l'utilisateur Fabrice" in inbound["body"]
    assert inbound["message_id"] == "new-request-1@client.example"
    assert outbound["direction"] == "out" and outbound["to"] == ["fabrice@client.example"]
    assert [e["kind"] for e in t["events"]] == ["created", "mail_queued"]

    envelope = smart_host.received[0]
    assert envelope.mail_from == "support@example.test" and envelope.rcpt_tos == ["fabrice@client.example"]
    ack = message_from_bytes(raw_ack, policy=default)
    assert ack["Subject"] == "[#1] Création de l'utilisateur Fabrice"
    assert ack["In-Reply-To"] == "<new-request-1@client.example>"
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["X-Mailgate-Loop"] == settings.loop_token
    assert verify_message_id(ack["Message-ID"].strip("<>"), SECRET.encode()) == 1
    assert "enregistrée sous le numéro #1" in ack.get_content()
    assert outbound["message_id"] == ack["Message-ID"].strip("<>")
    # the smart host has the mail before mailgate records it as sent: wait for the record
    await until(lambda: _outbox_is(settings, {"sent": 1}), what="the outbox row marked sent")


async def test_english_ack_by_config(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    from tests.conftest import running

    settings = make_settings(db_url, smart_host.port, tmp_path, gateway__locale="en",
                             gateway__addresses=["support@example.test"],
                             gateway__from="Support <support@example.test>", gateway__secret=SECRET)
    async with running(settings) as d:
        await first_ticket_and_ack(d, smart_host, settings)
    ack = message_from_bytes(smart_host.messages()[0], policy=default)
    assert "recorded it as ticket #1" in ack.get_content()
    assert ack["Content-Language"] == "en"


async def test_reply_by_our_message_id_from_anyone(
    daemon: Daemon, smart_host: SmartHostSink, settings: Settings
) -> None:
    ack = message_from_bytes(await first_ticket_and_ack(daemon, smart_host, settings), policy=default)
    # a colleague the customer forwarded our mail to answers without the tag: still ticket #1
    await smtp_send(daemon.smtp_port, reply(ack["Message-ID"].strip("<>"), "Re: suite", "colleague@other.example"))
    await until(lambda: _processed(settings, 2), what="the reply")
    t = await ticket(settings, 1)
    assert t is not None and [m["direction"] for m in t["messages"]] == ["in", "out", "in"]
    assert t["events"][-1]["data"] == {"from": "colleague@other.example", "via": "message-id"}
    assert len(await all_tickets(settings)) == 1
    await asyncio.sleep(0.3)
    assert len(smart_host.received) == 1  # replies are not acknowledged


async def test_reply_by_tag_from_participant(daemon: Daemon, smart_host: SmartHostSink, settings: Settings) -> None:
    await first_ticket_and_ack(daemon, smart_host, settings)
    # Julie was in Cc of the first mail: a participant
    await smtp_send(daemon.smtp_port, reply(None, "RE: [#1] Création", "Julie <julie@client.example>"))
    await until(lambda: _processed(settings, 2), what="the reply")
    t = await ticket(settings, 1)
    assert t is not None and t["messages"][-1]["from"] == "julie@client.example"
    assert t["events"][-1]["data"]["via"] == "subject-tag"
    assert len(await all_tickets(settings)) == 1


async def test_forged_tag_from_stranger_opens_new_ticket(
    daemon: Daemon, smart_host: SmartHostSink, settings: Settings
) -> None:
    await first_ticket_and_ack(daemon, smart_host, settings)
    await smtp_send(daemon.smtp_port, reply(None, "Re: [#1] Création", "mallory@evil.example", mid="forged"))
    await until(lambda: len(smart_host.received) == 2, what="the second acknowledgement")
    first, second = await ticket(settings, 1), await ticket(settings, 2)
    assert first is not None and len(first["messages"]) == 2  # untouched
    assert second is not None and second["requester"] == "mallory@evil.example"
    assert {"kind": "reference_refused"}.items() <= second["events"][1].items()
    assert second["events"][1]["data"] == {
        "ticket": 1, "reason": "mallory@evil.example is not a participant of ticket #1"}


async def test_duplicate_delivery_is_stored_once(daemon: Daemon, smart_host: SmartHostSink, settings: Settings) -> None:
    raw = eml("new_request.eml")
    first = await smtp_send(daemon.smtp_port, raw, sender="fabrice@client.example")
    second = await smtp_send(daemon.smtp_port, raw, sender="fabrice@client.example")
    assert first == {} and second == {}  # both accepted: the sender must not retry
    await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
    await asyncio.sleep(0.3)
    assert (await counts(settings))["inbound"] == {"processed": 1}
    assert len(await all_tickets(settings)) == 1
    assert len(smart_host.received) == 1


async def test_unknown_recipient_refused_at_rcpt(daemon: Daemon, settings: Settings) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
        await smtp_send(daemon.smtp_port, eml("new_request.eml"), rcpts=("victim@elsewhere.example",))
    code, text = info.value.recipients["victim@elsewhere.example"]
    assert code == 550 and text.startswith(b"5.1.1")
    # a mail to one good and one bad recipient is taken for the good one only
    refused = await smtp_send(daemon.smtp_port, eml("new_request.eml"),
                              rcpts=("help@example.test", "victim@elsewhere.example"))
    assert refused == {"victim@elsewhere.example": (550, refused["victim@elsewhere.example"][1])}
    await until(lambda: _processed(settings, 1), what="processing")
    assert (await counts(settings))["inbound"] == {"processed": 1}


async def test_oversize_mail_refused_552(daemon: Daemon, settings: Settings) -> None:
    big = eml("new_request.eml") + (b"y" * 70 + b"\r\n") * (settings.smtp.max_message_size // 70)
    # a client that declares SIZE is refused at MAIL FROM
    with pytest.raises(smtplib.SMTPSenderRefused) as info:
        await smtp_send(daemon.smtp_port, big)
    assert info.value.smtp_code == 552

    def undeclared() -> tuple[int, bytes]:  # a client that does not: refused after DATA
        with smtplib.SMTP("127.0.0.1", daemon.smtp_port, timeout=10) as client:
            client.ehlo()
            assert client.mail("client@example.org")[0] == 250
            assert client.rcpt("support@example.test")[0] == 250
            return client.data(big)

    code, _ = await asyncio.to_thread(undeclared)
    assert code == 552
    assert (await counts(settings))["inbound"] == {}


async def test_sqlite_locked_answers_451_then_accepts(smart_host: SmartHostSink, tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    settings = make_settings(f"sqlite:///{path}", smart_host.port, tmp_path, database__busy_timeout_ms=200)
    daemon = Daemon(settings)
    await daemon.start()
    task = asyncio.create_task(daemon.run())
    try:
        blocker = sqlite3.connect(intake.path_of(str(path)), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the listener's file: its writes cannot commit
        with pytest.raises(smtplib.SMTPDataError) as info:
            await smtp_send(daemon.smtp_port, eml("new_request.eml"))
        assert info.value.smtp_code == 451 and info.value.smtp_error.startswith(b"4.3.0")
        blocker.execute("ROLLBACK")
        blocker.close()
        assert await smtp_send(daemon.smtp_port, eml("new_request.eml")) == {}  # the sender's retry works
        await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 15)


async def test_sqlite_the_250_does_not_wait_for_the_database(smart_host: SmartHostSink, tmp_path: Path) -> None:
    """The listener stores mail in its intake: a transaction holding the database (the worker's, a command's)
    does not hold the 250 back; the mail is processed once the database is free, once."""
    path = tmp_path / "held.sqlite3"
    settings = make_settings(f"sqlite:///{path}", smart_host.port, tmp_path, database__busy_timeout_ms=200)
    async with running(settings) as daemon:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            assert [await smtp_send(daemon.smtp_port, raw) for raw in _distinct(3)] == [{}, {}, {}]
            assert intake.peek(str(path))[0] == 3  # answered 250 from the intake, not yet moved
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        await until(lambda: _processed(settings, 3), what="the three mails in the intake")
        await until(lambda: intake.peek(str(path))[0] == 0, what="the intake emptied")
        await until(lambda: len(smart_host.received) == 3, what="three acknowledgements")
    assert (await counts(settings))["inbound"] == {"processed": 3}


@pytest.mark.postgres
async def test_postgresql_down_answers_451(smart_host: SmartHostSink, tmp_path: Path, pg_database: str) -> None:
    # a server that refuses connections: nothing listens on port 1
    settings = make_settings("postgresql://postgres@127.0.0.1:1/test", smart_host.port, tmp_path)
    db = database_for(settings)
    handler = smtp_in.InboundHandler(settings, GroupWriter(db, inbound.store_many, utcnow))
    server = await smtp_in.start(settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"port": 0})}),
                                 handler)
    try:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(smtplib.SMTPDataError) as info:
            await smtp_send(port, eml("new_request.eml"))
        assert info.value.smtp_code == 451
    finally:
        server.close()
        db.close()


async def _outbox_is(settings: Settings, expected: dict[str, int]) -> bool:
    return (await counts(settings))["outbox"] == expected


async def _processed(settings: Settings, n: int) -> bool:
    return (await counts(settings))["inbound"].get("processed", 0) >= n


def _distinct(n: int) -> list[bytes]:
    return [(f"From: client{i}@example.org\r\nTo: support@example.test\r\nSubject: Demande {i}\r\n"
             f"Message-ID: <group-{i}@example.org>\r\n\r\nBonjour {i}\r\n").encode() for i in range(n)]


async def test_sessions_that_finish_together_share_one_commit(smart_host: SmartHostSink, tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'group.sqlite3'}", smart_host.port, tmp_path)
    async with running(settings) as daemon:  # SQLite: one database thread, which the test keeps busy
        await _share_one_commit(daemon, settings)


async def _share_one_commit(daemon: Daemon, settings: Settings) -> None:
    import threading

    assert daemon.db is not None and daemon.commits is not None
    release = threading.Event()
    busy = asyncio.ensure_future(daemon.commits.db.call(release.wait, 10))  # the listener's store is busy meanwhile
    sends = [asyncio.ensure_future(smtp_send(daemon.smtp_port, raw)) for raw in _distinct(4)]
    before = daemon.commits.commits

    async def all_waiting() -> bool:
        return len(daemon.commits._pending) == 4  # every session finished DATA and waits for its commit

    await until(all_waiting, what="four sessions waiting for their commit")
    assert not any(s.done() for s in sends)  # no 250 before the commit
    release.set()
    await busy
    assert [await s for s in sends] == [{}, {}, {}, {}]
    assert daemon.commits.commits == before + 1  # one transaction, one fsync, for the four
    await until(lambda: _processed(settings, 4), what="the four mails")
    assert sum((await counts(settings))["inbound"].values()) == 4


async def test_a_failing_commit_answers_451_to_every_session_waiting_on_it_and_stores_none(
        smart_host: SmartHostSink, tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    settings = make_settings(f"sqlite:///{path}", smart_host.port, tmp_path, database__busy_timeout_ms=300)
    async with running(settings) as daemon:
        blocker = sqlite3.connect(intake.path_of(str(path)), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds the listener's file: no commit can happen
        try:
            results = await asyncio.gather(*(smtp_send(daemon.smtp_port, raw) for raw in _distinct(4)),
                                           return_exceptions=True)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert all(isinstance(r, smtplib.SMTPDataError) and r.smtp_code == 451 for r in results), results
        assert (await counts(settings))["inbound"] == {} and intake.peek(str(path))[0] == 0  # none stored, not half
        assert [await smtp_send(daemon.smtp_port, raw) for raw in _distinct(4)] == [{}, {}, {}, {}]  # the retries
        await until(lambda: _processed(settings, 4), what="the four retried mails")
    assert (await counts(settings))["inbound"] == {"processed": 4}
