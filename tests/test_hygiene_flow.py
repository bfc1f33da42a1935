"""End to end over SMTP: machine mail never moves a ticket nor triggers mail; bounces land on the ticket
of the mail that bounced and flag the address; automatic mail is rate-limited; the stored text is the
person's own; attachments are stored safely."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mailgate.config.settings import from_dict
from mailgate.store.tables import address_flag, attachment, inbound_mail
from tests.conftest import FIXTURES, SmartHostSink, cli, eml, read, running, smtp_send, until, write_config
from tests.test_workflow_flow import CUSTOMER, Desk, FakeClock, _data, open_ticket

PDF = b"%PDF-1.4 not really a pdf\n" * 20


def hygiene_desk_data(db_url: str, port: int, tmp_path: Path, **hygiene: Any) -> dict[str, Any]:
    data = _data(db_url, port)
    data["hygiene"] = {"auto_mail_per_recipient_per_hour": 3, "auto_mail_per_ticket_per_hour": 3,
                       "acks_per_recipient_per_hour": 3, **hygiene}
    return data


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = from_dict(hygiene_desk_data(db_url, smart_host.port, tmp_path), str(tmp_path / "config.toml"))
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        yield Desk(daemon, smart_host, settings, clock)


async def test_an_out_of_office_reply_changes_nothing_and_sends_nothing(desk: Desk) -> None:
    number, notice = await open_ticket(desk, "Accès refusé")
    await desk.send("alice@example.test", "prendre\nrésolu\n\nC'est corrigé.", reply_to=notice)
    resolution = await desk.last("resolution", CUSTOMER)
    before = await desk.kinds()
    await desk.send(CUSTOMER, "Je suis absent jusqu'au 3 janvier.", subject="Réponse automatique : Accès refusé",
                    reply_to=resolution["message_id"], extra="Auto-Submitted: auto-replied\r\n")
    t = await desk.show(number)
    assert t["status"] == "answer_sent"  # not contested by the machine
    assert await desk.kinds() == before  # nobody told, nothing answered
    assert "machine_mail" in [e["kind"] for e in t["events"]]


def dsn(original_mid: str, recipient: str, status: str) -> str:
    return (
        "MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: support@example.test\r\nTo: {recipient}\r\n"
        f"Message-ID: <{original_mid}>\r\nSubject: [#1] x\r\n\r\n--B--\r\n"
    )


async def test_a_bounce_lands_on_its_ticket_and_a_permanent_one_stops_automatic_mail(desk: Desk) -> None:
    number, _ = await open_ticket(desk, "Demande de compte")
    ack = await desk.last("ack", CUSTOMER)
    raw = ("From: Mail Delivery System <MAILER-DAEMON@mx.client.example>\r\nTo: support@example.test\r\n"
           "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.client.example>\r\n"
           + dsn(ack["message_id"], CUSTOMER, "5.1.1")).encode()
    await smtp_send(desk.daemon.smtp_port, raw, sender="")
    await until(lambda: desk._processed("dsn1@mx.client.example"), what="the bounce")
    t = await desk.show(number)
    bounce, = [e for e in t["events"] if e["kind"] == "bounce"]
    assert bounce["data"]["permanent"] is True
    assert [r["email"] for r in bounce["data"]["recipients"]] == [CUSTOMER]
    assert len(await _ids(desk)) == 1 and t["status"] == "open"

    await desk.send(CUSTOMER, "Une autre demande", subject="Nouvelle demande")
    second = await desk.show(2)
    suppressed, = [e for e in second["events"] if e["kind"] == "mail_suppressed"]
    assert suppressed["data"]["kind"] == "ack" and "bounced permanently" in suppressed["data"]["why"]
    assert len([k for k in await desk.kinds() if k == ("ack", CUSTOMER)]) == 1


async def _ids(desk: Desk) -> list[int]:
    from mailgate.store import tickets

    return [t["id"] for t in await read(desk.settings, tickets.list_all)]


async def test_automatic_mail_to_one_address_is_rate_limited_and_list_mail_gets_none(desk: Desk) -> None:
    for i in range(4):
        await desk.send("loop@robot.example", f"demande {i}", subject=f"Demande {i}")
    acks = [k for k in await desk.kinds() if k == ("ack", "loop@robot.example")]
    assert len(acks) == 3  # the limit in this config
    fourth = await desk.show(4)
    why = [e for e in fourth["events"] if e["kind"] == "mail_suppressed"][0]["data"]["why"]
    assert why == ("acknowledgement of this new ticket withheld: 3 acknowledgements to loop@robot.example in the "
                   "last hour (limit 3, acks_per_recipient_per_hour)")
    await desk.send("news@list.example", "Newsletter", subject="Nouveautés", extra="List-Id: <news.list.example>\r\n")
    assert not [k for k in await desk.kinds() if k[1] == "news@list.example"]


def bounce_of(template: str, mid: str, rcpt: str, bounce_mid: str) -> bytes:
    """One of our bounce fixtures, returning our mail `mid` that failed for `rcpt`."""
    text = (FIXTURES / "hygiene_flow" / template).read_text()
    for key, value in (("{mid}", mid), ("{rcpt}", rcpt), ("{bounce_mid}", bounce_mid)):
        text = text.replace(key, value)
    return text.replace("\n", "\r\n").encode()


async def _bounce(desk: Desk, raw: bytes, mid: str) -> None:
    await smtp_send(desk.daemon.smtp_port, raw, sender="")
    await until(lambda: desk._processed(mid), what="the bounce")


async def _flags(desk: Desk) -> list[str]:
    def go(conn: Any) -> list[str]:
        return list((conn.execute(sa.select(address_flag.c.email))).scalars())

    flagged: list[str] = await read(desk.settings, go)
    return flagged


async def test_a_bounce_of_no_mail_of_ours_is_ignored_and_a_temporary_one_flags_nobody(desk: Desk) -> None:
    await _bounce(desk, eml("hygiene/dsn_postfix_permanent.eml").replace(b"\n", b"\r\n"),
                  "20250114090211.B1@mx.example.test")

    def row(conn: Any) -> Any:
        return (conn.execute(sa.select(inbound_mail.c.status, inbound_mail.c.error, inbound_mail.c.ticket_id)
                                   .where(inbound_mail.c.message_id == "20250114090211.B1@mx.example.test"))).one()

    stored = await read(desk.settings, row)
    assert (stored.status, stored.ticket_id) == ("ignored", None)
    assert stored.error.startswith("bounce of no mail of ours")
    assert await _ids(desk) == [] and await _flags(desk) == []  # anybody can write a bounce: it flags nobody

    number, _ = await open_ticket(desk, "Boîte pleine")
    ack = await desk.last("ack", CUSTOMER)
    await _bounce(desk, bounce_of("dsn_delayed.eml.tmpl", ack["message_id"], CUSTOMER, "delay1@relay.client.example"),
                  "delay1@relay.client.example")
    t = await desk.show(number)
    bounce, = [e for e in t["events"] if e["kind"] == "bounce"]
    assert (bounce["data"]["permanent"], bounce["data"]["recipients"][0]["status"]) == (False, "4.2.2")
    assert t["status"] == "open" and await _flags(desk) == []
    await desk.send(CUSTOMER, "Autre chose", subject="Autre demande")
    assert [k for k in await desk.kinds() if k == ("ack", CUSTOMER)] == [("ack", CUSTOMER)] * 2


async def test_a_cc_that_bounced_permanently_gets_no_automatic_mail_but_a_consultant_answer(desk: Desk) -> None:
    colleague = "colleague@client.example"
    await desk.send(CUSTOMER, "Le VPN ne marche plus.", subject="VPN", extra=f"Cc: {colleague}\r\n")
    ack = await desk.last("ack", CUSTOMER)
    notice = await desk.last("notify_new", "alice@example.test")
    await _bounce(desk, bounce_of("exim_failed.eml.tmpl", ack["message_id"], colleague, "exim1@relay.client.example"),
                  "exim1@relay.client.example")  # a text bounce, not a DSN
    assert await _flags(desk) == [colleague]

    await desk.send(CUSTOMER, "ACCEPTE", reply_to=ack["message_id"])  # a keyword that counts for nothing: help
    t = await desk.show(1)
    suppressed, = [e for e in t["events"] if e["kind"] == "mail_suppressed"]
    assert (suppressed["data"]["kind"], suppressed["data"]["to"]) == ("keyword_help", colleague)
    helped, = [r for r in await desk.outbox() if r["kind"] == "keyword_help"]
    assert helped["envelope_to"] == [CUSTOMER]
    assert colleague not in str((await desk.last("keyword_help", CUSTOMER))["msg"].get("Cc", ""))

    await desk.send("alice@example.test", "prendre\n\nLe VPN est relancé.", reply_to=notice["message_id"])
    relay, = [r for r in await desk.outbox() if r["kind"] == "relay"]
    assert relay["envelope_to"] == [CUSTOMER, colleague]  # a person chose to write: it goes


async def test_automatic_mail_on_one_ticket_is_rate_limited(desk: Desk) -> None:
    number, _ = await open_ticket(desk, "Devis")
    ack = await desk.last("ack", CUSTOMER)
    strangers = [f"s{i}@elsewhere.example" for i in range(3)]
    for who in strangers:  # each gets help for a keyword that does not count, until the ticket's limit (3)
        await desk.send(who, "ACCEPTE", reply_to=ack["message_id"])
    assert [k[1] for k in await desk.kinds() if k[0] in ("ack", "keyword_help")] == [CUSTOMER, *strangers[:2]]
    t = await desk.show(number)
    suppressed, = [e["data"] for e in t["events"] if e["kind"] == "mail_suppressed"]
    assert suppressed["to"] == strangers[2] and f"on ticket #{number} in the last hour (limit 3, " in suppressed["why"]
    assert len([k for k in await desk.kinds() if k[0] == "notify_reply"]) == 3  # consultants are not limited


async def test_stored_text_is_what_the_person_wrote_and_the_full_body_is_kept(desk: Desk) -> None:
    number, _ = await open_ticket(desk, "Imprimante")
    ack = await desk.last("ack", CUSTOMER)
    await desk.send(CUSTOMER, "Elle remarche, merci.\n\nLe 17/01/2022 à 09:00, Support a écrit :\n> Bonjour",
                    reply_to=ack["message_id"])
    replies = [m for m in (await desk.show(number))["messages"] if m["direction"] == "in"]
    assert replies[-1]["text"] == "Elle remarche, merci."
    assert "a écrit" in replies[-1]["body"]
    config = write_config(Path(desk.settings.source), hygiene_desk_data(desk.settings.database.url, desk.sink.port,
                                                                       Path(desk.settings.source).parent))
    shown = cli(config, "tickets", "show", str(number))
    assert shown.returncode == 0, shown.stderr
    assert "Elle remarche, merci." in shown.stdout.decode() and "a écrit" not in shown.stdout.decode()


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode().replace("\n", "\r\n")


def with_attachment(name: str) -> str:
    big = _b64(b"x" * 4096)  # over this config's max_attachment_bytes: refused
    return ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nVoici le fichier.\r\n--X\r\n"
            f"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + _b64(PDF) + "--X\r\n"
            "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=big.bin\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + big + "--X--\r\n")


@pytest.mark.parametrize("storage", ["database", "folder"])
async def test_attachments_are_stored_with_safe_names(db_url: str, smart_host: SmartHostSink, tmp_path: Path,
                                                      storage: str) -> None:
    data = hygiene_desk_data(db_url, smart_host.port, tmp_path, attachments=storage, attachments_folder="files",
                             max_attachment_bytes=2048)
    settings = from_dict(data, str(tmp_path / "config.toml"))
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        desk = Desk(daemon, smart_host, settings, clock)
        for mid in ("att1@client.example", "att2@client.example"):  # the same file twice: two tickets
            raw = (f"From: {CUSTOMER}\r\nTo: support@example.test\r\nSubject: Pièce jointe\r\n"
                   f"Message-ID: <{mid}>\r\n" + with_attachment("../../etc/passwd.pdf")).encode()
            await smtp_send(daemon.smtp_port, raw, sender=CUSTOMER)
            await until(lambda mid=mid: desk._processed(mid), what="the mail")
        refused = [e["data"] for e in (await desk.show(1))["events"] if e["kind"] == "attachment_refused"]
        assert [(r["name"], r["size"]) for r in refused] == [("big.bin", 4096)]

    def rows(conn: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in conn.execute(sa.select(attachment).order_by(attachment.c.id))]

    row, again = await read(settings, rows)
    assert (row["ticket_id"], again["ticket_id"]) == (1, 2)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (row["sha256"], row["size"], row["content_type"]) == (digest, len(PDF), "application/pdf")
    assert "/" not in row["filename"] and ".." not in row["filename"] and row["filename"].endswith(".pdf")
    assert row["original_name"] == "../../etc/passwd.pdf"
    if storage == "database":
        assert row["content"] == PDF and row["path"] is None
    else:
        assert row["content"] is None and row["path"] == again["path"] == f"{digest[:2]}/{digest}"
        assert (tmp_path / "files" / row["path"]).read_bytes() == PDF
        assert [p.name for p in (tmp_path / "files").rglob("*") if p.is_file()] == [digest]  # stored once
        assert not (tmp_path / "etc").exists()
    shown = cli(write_config(tmp_path / "config.toml", data), "tickets", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert (f"attachment {row['filename']} (application/pdf, {len(PDF)} bytes, sha256 {digest})"
            in shown.stdout.decode())


async def test_a_consultants_out_of_office_is_recorded_never_applied_relayed_nor_answered(desk: Desk) -> None:
    """Issue 15.4: a proper out-of-office answering our notification used to count as the consultant's
    authenticated answer: relayed to the customer, the ticket taken, En cours, assigned to the absent one."""
    number, notice = await open_ticket(desk, "Imprimante")
    before = await desk.kinds()
    await desk.send("alice@example.test", "Je suis absente jusqu'au 3 janvier.\r\nprendre",
                    subject="Réponse automatique : [#1] Imprimante", reply_to=notice,
                    extra="Auto-Submitted: auto-replied\r\n")
    t = await desk.show(number)
    assert t["status"] == "open" and t["assignee"] is None
    assert await desk.kinds() == before  # nothing relayed, no transcript, no refusal
    agent_mail, machine = [e for e in t["events"] if e["kind"] in ("agent_mail", "machine_mail")]
    assert agent_mail["data"]["authenticated"] is False and machine["data"]["why"].startswith("auto_reply")


async def test_a_consultants_naive_responder_gets_a_bounded_number_of_answers(
        db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    """A responder with no Auto-Submitted header, that does not thread (so it is not authenticated): each of
    its mails got an agent_refused notice, which it answered again, without end. Now at most the cap."""
    data = hygiene_desk_data(db_url, smart_host.port, tmp_path, auto_mail_per_consultant_per_ticket_per_hour=3)
    settings = from_dict(data, str(tmp_path / "config.toml"))
    async with running(settings, clock=FakeClock()) as daemon:
        d = Desk(daemon, smart_host, settings, FakeClock())
        number, _ = await open_ticket(d, "Imprimante")  # the notify_new to alice counts: 1 of 3
        for _ in range(5):
            await d.send("alice@example.test", "Absente. clore", subject=f"Re: [#{number}] Imprimante")
        refusals = [k for k in await d.kinds() if k == ("agent_refused", "alice@example.test")]
        assert len(refusals) == 2
        t = await d.show(number)
        suppressed = [e["data"] for e in t["events"] if e["kind"] == "mail_suppressed"]
        assert len(suppressed) == 3 and all("on ticket #1 in the last hour (limit 3)" in s["why"] for s in suppressed)
        assert t["status"] == "open"
