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

from mailgate.config import from_dict
from mailgate.store.tables import attachment
from tests.conftest import SmartHostSink, read, running, smtp_send, until
from tests.test_workflow_flow import CUSTOMER, Desk, FakeClock, _data, open_ticket

PDF = b"%PDF-1.4 not really a pdf\n" * 20


def hygiene_desk_data(db_url: str, port: int, tmp_path: Path, **hygiene: Any) -> dict[str, Any]:
    data = _data(db_url, port)
    data["hygiene"] = {"auto_mail_per_recipient_per_hour": 3, **hygiene}
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
    assert "in the last hour (limit 3)" in [e for e in fourth["events"] if e["kind"] == "mail_suppressed"][0][
        "data"]["why"]
    await desk.send("news@list.example", "Newsletter", subject="Nouveautés", extra="List-Id: <news.list.example>\r\n")
    assert not [k for k in await desk.kinds() if k[1] == "news@list.example"]


async def test_stored_text_is_what_the_person_wrote_and_the_full_body_is_kept(desk: Desk) -> None:
    number, _ = await open_ticket(desk, "Imprimante")
    ack = await desk.last("ack", CUSTOMER)
    await desk.send(CUSTOMER, "Elle remarche, merci.\n\nLe 17/01/2022 à 09:00, Support a écrit :\n> Bonjour",
                    reply_to=ack["message_id"])
    replies = [m for m in (await desk.show(number))["messages"] if m["direction"] == "in"]
    assert replies[-1]["text"] == "Elle remarche, merci."
    assert "a écrit" in replies[-1]["body"]


def with_attachment(name: str) -> str:
    return ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nVoici le fichier.\r\n--X\r\n"
            f"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(PDF).decode() + "--X--\r\n")


@pytest.mark.parametrize("storage", ["database", "folder"])
async def test_attachments_are_stored_with_safe_names(db_url: str, smart_host: SmartHostSink, tmp_path: Path,
                                                      storage: str) -> None:
    settings = from_dict(hygiene_desk_data(db_url, smart_host.port, tmp_path, attachments=storage,
                                           attachments_folder="files"), str(tmp_path / "config.toml"))
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        desk = Desk(daemon, smart_host, settings, clock)
        body = with_attachment("../../etc/passwd.pdf")
        mid = "att1@client.example"
        raw = (f"From: {CUSTOMER}\r\nTo: support@example.test\r\nSubject: Pièce jointe\r\nMessage-ID: <{mid}>\r\n"
               + body).encode()
        await smtp_send(daemon.smtp_port, raw, sender=CUSTOMER)
        await until(lambda: desk._processed(mid), what="the mail")

    async def rows(conn: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) for r in await conn.execute(sa.select(attachment))]

    row, = await read(settings, rows)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (row["sha256"], row["size"], row["content_type"]) == (digest, len(PDF), "application/pdf")
    assert "/" not in row["filename"] and ".." not in row["filename"] and row["filename"].endswith(".pdf")
    if storage == "database":
        assert row["content"] == PDF and row["path"] is None
    else:
        assert row["content"] is None and row["path"] == f"{digest[:2]}/{digest}"
        assert (tmp_path / "files" / row["path"]).read_bytes() == PDF
        assert not (tmp_path / "etc").exists()
