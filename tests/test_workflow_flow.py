"""End to end over SMTP: the life of tickets worked by mail, every outgoing mail captured at the smart host.

Consultants answer the notifications they receive; customers answer the mails asking them for a keyword.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mailgate.config.settings import Settings
from mailgate.daemon import Daemon
from mailgate.store.tables import outbox
from tests.conftest import (
    SmartHostSink,
    cli,
    read,
    running,
    settings_data,
    smtp_send,
    ticket,
    until,
    write_config,
)

CUSTOMER = "fabrice@client.example"
BOSS = "boss@client.example"


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime(2022, 1, 17, 9, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now


def _data(db_url: str, port: int) -> dict[str, Any]:
    data = settings_data(db_url, port)
    data["agents"] = [{"email": "alice@example.test", "name": "Alice", "level": 1},
                      {"email": "bruno@example.test", "name": "Bruno", "level": 2},
                      {"email": "chloe@example.test", "name": "Chloé", "level": 3}]
    data["customers"] = [{"name": "Client SA", "domains": ["client.example"], "approvers": [BOSS],
                          "hourly_rate": 90}]
    data["workflow"] = {"auto_close_days": 7, "trusted_authserv_ids": ["mx.example.test"]}
    return data


def _settings(db_url: str, port: int, tmp_path: Path) -> Settings:
    from mailgate.config.settings import from_dict

    return from_dict(_data(db_url, port), str(tmp_path / "config.toml"))


@dataclass
class Desk:
    """The daemon plus what the test needs to play customers and consultants."""

    daemon: Daemon
    sink: SmartHostSink
    settings: Settings
    clock: FakeClock
    sent_count: int = 0
    counter: int = 0

    async def send(self, sender: str, body: str, *, subject: str = "Re: demande", reply_to: str | None = None,
                   extra: str = "") -> str:
        """Mail from `sender`, answering our mail `reply_to` (a Message-ID) if given; returns its Message-ID."""
        self.counter += 1
        mid = f"m{self.counter}.{sender.replace('@', '.')}@test"
        thread = f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n" if reply_to else ""
        raw = (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
               f"{thread}{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
        await smtp_send(self.daemon.smtp_port, raw, sender=sender)
        await until(lambda: self._processed(mid), what=f"mail {mid} processed")
        return mid

    async def _processed(self, mid: str) -> bool:
        from mailgate.store.tables import inbound_mail

        def go(conn: Any) -> bool:
            row = (conn.execute(sa.select(inbound_mail.c.status).where(inbound_mail.c.message_id == mid))).first()
            return row is not None and row.status != "received"

        return bool(await read(self.settings, go))

    async def outbox(self) -> list[dict[str, Any]]:
        def go(conn: Any) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(outbox).order_by(outbox.c.id))
            return [dict(r._mapping) for r in rows]

        rows: list[dict[str, Any]] = await read(self.settings, go)
        await until(lambda: len(self.sink.received) >= len(rows), what="every queued mail at the smart host")
        return rows

    async def last(self, kind: str, to: str) -> dict[str, Any]:
        """Our latest mail of `kind` to `to`, as the smart host received it: message_id, text, headers."""
        rows = [r for r in await self.outbox() if r["kind"] == kind and to in r["envelope_to"]]
        assert rows, f"no {kind} mail to {to}; sent: {[(r['kind'], r['envelope_to']) for r in await self.outbox()]}"
        row = rows[-1]
        captured = [m for m in self.sink.messages() if f"<{row['message_id']}>".encode() in m]
        assert len(captured) == 1, "the smart host got the mail exactly once"
        msg = message_from_bytes(captured[0], policy=default)
        body = msg.get_body(("plain",))
        assert body is not None
        return {"message_id": row["message_id"], "text": body.get_content(), "msg": msg}

    async def kinds(self) -> list[tuple[str, str]]:
        return [(r["kind"], r["envelope_to"][0]) for r in await self.outbox()]

    async def show(self, number: int) -> dict[str, Any]:
        t = await ticket(self.settings, number)
        assert t is not None
        return t


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    settings = _settings(db_url, smart_host.port, tmp_path)
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        yield Desk(daemon, smart_host, settings, clock)


async def open_ticket(desk: Desk, title: str, body: str = "Bonjour, pouvez-vous m'aider ?") -> tuple[int, str]:
    await desk.send(CUSTOMER, body, subject=title)
    t = (await desk.show(max(await _ids(desk))))
    return t["id"], (await desk.last("notify_new", "alice@example.test"))["message_id"]


async def _ids(desk: Desk) -> list[int]:
    from mailgate.store import tickets

    return [t["id"] for t in await read(desk.settings, tickets.list_all)]


def event_kinds(t: dict[str, Any]) -> list[str]:
    return [e["kind"] for e in t["events"]]


async def test_assistance_escalated_n1_n2_n3_then_resolution_confirmed(desk: Desk) -> None:
    number, notice = await open_ticket(desk, "Création de l'utilisateur Fabrice")
    t = await desk.show(number)
    assert (t["status"], t["level"], t["customer"]) == ("open", 1, "Client SA")
    new = await desk.last("notify_new", "alice@example.test")
    assert new["msg"]["Subject"].startswith(f"[#{number}]") and "pouvez-vous m'aider" in new["text"]

    # N1 takes it, logs time and answers the customer; the quoted history is not relayed
    await desk.send("alice@example.test", "prendre\ntemps 30m premier diagnostic\n\nBonjour Fabrice, je regarde.\n\n"
                    "Le 17/01/2022, Support a écrit :\n> Nouveau ticket", reply_to=notice)
    t = await desk.show(number)
    assert (t["status"], t["assignee"]) == ("in_progress", "alice@example.test")
    relay = await desk.last("relay", CUSTOMER)
    assert "je regarde" in relay["text"] and "prendre" not in relay["text"] and "a écrit" not in relay["text"]
    assert "alice@example.test" not in relay["msg"]["From"] and relay["msg"]["Auto-Submitted"] is None
    assert relay["msg"]["In-Reply-To"] == f"<m1.{CUSTOMER.replace('@', '.')}@test>"
    transcript = await desk.last("transcript", "alice@example.test")
    assert "> prendre" in transcript["text"] and "appliquée" in transcript["text"]

    # N1 -> N2 -> N3; each level is told, the text goes to the colleagues, not to the customer
    await desk.send("alice@example.test", "escalader\n\nBruno, peux-tu regarder l'annuaire ?",
                    reply_to=transcript["message_id"])
    t = await desk.show(number)
    assert (t["level"], t["assignee"]) == (2, None)
    to_bruno = await desk.last("notify_escalated", "bruno@example.test")
    assert "annuaire" in to_bruno["text"]
    await desk.send("bruno@example.test", "escalate N3", reply_to=to_bruno["message_id"])
    to_chloe = await desk.last("notify_escalated", "chloe@example.test")
    assert (await desk.show(number))["level"] == 3
    assert len([k for k in await desk.kinds() if k[0] == "relay"]) == 1

    # N3 takes, logs time and resolves: the customer is asked to confirm
    await desk.send("chloe@example.test", "take\ntime 1h15 correction\nrésolu\n\nLe compte est créé.",
                    reply_to=to_chloe["message_id"])
    t = await desk.show(number)
    assert (t["status"], t["status_label"], t["assignee"]) == ("answer_sent", "Réponse envoyée", "chloe@example.test")
    resolution = await desk.last("resolution", CUSTOMER)
    assert "Le compte est créé." in resolution["text"] and "RESOLU" in resolution["text"]

    await desk.send(CUSTOMER, "RESOLU\n\nMerci !", reply_to=resolution["message_id"])
    t = await desk.show(number)
    assert (t["status"], t["status_label"]) == ("closed", "Fermé")
    told = await desk.last("notify_reply", "chloe@example.test")
    assert "confirme la résolution" in told["text"]

    result = cli(write_config(Path(desk.settings.source), _data(desk.settings.database.url, desk.sink.port)),
                 "tickets", "show", str(number), "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["status_label"], shown["level"], shown["assignee"]) == ("Fermé", 3, "chloe@example.test")
    task, = shown["tasks"]
    assert task["title"] == f"#{number} - Création de l'utilisateur Fabrice - Janvier 2022"
    assert [(e["agent"], e["minutes"], e["comment"]) for e in task["entries"]] == [
        ("alice@example.test", 30, "premier diagnostic"), ("chloe@example.test", 75, "correction")]
    assert {"taken", "escalated", "resolved", "customer_answer", "commands_applied"} <= set(event_kinds(shown))

    # time logged in a later month goes to that month's task; billing is per month, time x rate
    desk.clock.now = datetime(2022, 2, 3, 10, 0, tzinfo=UTC)
    await desk.send("chloe@example.test", "temps 30m suivi", reply_to=told["message_id"])
    shown = json.loads(cli(Path(desk.settings.source), "tickets", "show", str(number), "--json").stdout)
    assert [(t["title"], t["minutes"]) for t in shown["tasks"]] == [
        (f"#{number} - Création de l'utilisateur Fabrice - Janvier 2022", 105),
        (f"#{number} - Création de l'utilisateur Fabrice - Février 2022", 30)]
    billed = json.loads(cli(Path(desk.settings.source), "billing", "--month", "2022-01", "--json").stdout)
    assert billed["customers"] == [{"customer": "Client SA", "total": "157.50", "tickets": [
        {"ticket": number, "title": "Création de l'utilisateur Fabrice", "type": "assistance", "basis": "time",
         "minutes": 105, "rate": "90", "amount": "157.50"}]}]


async def test_evolution_estimate_refused_then_approved_by_an_approver(desk: Desk) -> None:
    number, notice = await open_ticket(desk, "Nouveau champ dans l'export")
    await desk.send("alice@example.test", "type évolution", reply_to=notice)
    t = await desk.show(number)
    assert (t["type"], t["level"]) == ("evolution", 2)
    to_bruno = await desk.last("notify_escalated", "bruno@example.test")
    await desk.send("bruno@example.test", "prendre\nchiffrage 1500 € 3j\n\nVoici notre proposition.",
                    reply_to=to_bruno["message_id"])
    t = await desk.show(number)
    assert t["status"] == "awaiting_estimate_approval"
    first = await desk.last("estimate_request", CUSTOMER)
    assert "1\u00a0500 EUR HT" in first["text"] and "3 jours" in first["text"]  # numbers as French writes them
    assert "ACCEPTE" in first["text"] and "REFUSE" in first["text"]
    assert BOSS in str(first["msg"]["Cc"])  # the customer's approvers see the estimate without being Cc'd by anyone

    await desk.send(CUSTOMER, "REFUSE\nTrop cher pour nous.", reply_to=first["message_id"])
    t = await desk.show(number)
    assert t["status"] == "in_progress"
    told = await desk.last("notify_reply", "bruno@example.test")
    assert "REFUSÉ" in told["text"] and "Trop cher" in told["text"]

    await desk.send("bruno@example.test", "chiffrage 1200 €\n\nNouvelle proposition.", reply_to=told["message_id"])
    second = await desk.last("estimate_request", CUSTOMER)
    assert second["message_id"] != first["message_id"]

    # an old estimate mail and a stranger cannot approve; the state does not move
    await desk.send(CUSTOMER, "ACCEPTE", reply_to=first["message_id"])
    mallory = await desk.send("mallory@evil.example", "ACCEPTE", reply_to=second["message_id"])
    t = await desk.show(number)
    assert t["status"] == "awaiting_estimate_approval"
    assert [e["data"]["reason"] for e in t["events"] if e["kind"] == "keyword_refused"] == [
        "the keyword counts only in a reply to the mail that asked for it",
        "mallory@evil.example is neither the requester nor an approver for this customer"]
    help_mail = await desk.last("keyword_help", "mallory@evil.example")
    assert "ACCEPTE" in help_mail["text"]
    # one language: the reason is French like the rest of the mail, and the help answers mallory's own mail
    assert "mallory@evil.example n'est ni le demandeur ni un valideur de ce client" in help_mail["text"]
    assert "neither" not in help_mail["text"]
    assert help_mail["msg"]["In-Reply-To"] == f"<{mallory}>"

    # the customer's approver accepts the current estimate
    await desk.send(BOSS, "Accepté.\nAllez-y.", reply_to=second["message_id"])
    t = await desk.show(number)
    assert (t["status"], t["status_label"]) == ("in_realization", "En cours de réalisation")
    receipt = await desk.last("answer_received", BOSS)  # the approver's decision confirmed, the requester told
    assert CUSTOMER in str(receipt["msg"]["Cc"]) and f"accepté par {BOSS}" in receipt["text"]

    await desk.send("bruno@example.test", "resolve\n\nLe champ est livré.",
                    reply_to=(await desk.last("notify_reply", "bruno@example.test"))["message_id"])
    resolution = await desk.last("resolution", CUSTOMER)
    await desk.send(CUSTOMER, "NON RESOLU\nLe champ est vide.", reply_to=resolution["message_id"])
    t = await desk.show(number)
    assert t["status"] == "in_progress"
    assert "N'EST PAS résolue" in (await desk.last("notify_reply", "bruno@example.test"))["text"]

    config = write_config(Path(desk.settings.source), _data(desk.settings.database.url, desk.sink.port))
    result = cli(config, "billing", "--month", "2022-01", "--csv")
    assert result.returncode == 0, result.stderr
    assert f"2022-01,Client SA,{number},Nouveau champ dans l'export,evolution,estimate,0,0.00,90,1200.00,EUR" \
        in result.stdout.decode()
    shown = json.loads(cli(config, "tickets", "show", str(number), "--json").stdout)
    assert [(e["amount"], e["state"]) for e in shown["estimates"]] == [("1500.00", "refused"),
                                                                       ("1200.00", "approved")]


async def test_contested_by_free_text_then_auto_closed_after_the_delay(desk: Desk) -> None:
    number, notice = await open_ticket(desk, "Imprimante en panne")
    await desk.send("alice@example.test", "prendre\ntemps 20m\nrésolu\n\nLe pilote est réinstallé.",
                    reply_to=notice)
    resolution = await desk.last("resolution", CUSTOMER)
    # a stranger answering the signed resolution mail: recorded and forwarded, the state stays
    await desk.send("someone@elsewhere.example", "Chez moi non plus ça ne marche pas.",
                    reply_to=resolution["message_id"])
    t = await desk.show(number)
    assert t["status"] == "answer_sent"
    kept = [e for e in t["events"] if e["kind"] == "state_kept"][-1]["data"]
    assert kept["from"] == "someone@elsewhere.example" and "not a participant" in kept["why"]
    forwarded = await desk.last("notify_reply", "alice@example.test")
    assert "non plus" in forwarded["text"] and "N'EST PAS" not in forwarded["text"]

    await desk.send(CUSTOMER, "Ça ne marche toujours pas.", reply_to=resolution["message_id"])
    t = await desk.show(number)
    assert t["status"] == "in_progress"
    told = await desk.last("notify_reply", "alice@example.test")
    assert "N'EST PAS" in told["text"] and "toujours pas" in told["text"]

    await desk.send("alice@example.test", "résolu\n\nLe bac était mal fermé.", reply_to=told["message_id"])
    assert (await desk.show(number))["status"] == "answer_sent"
    desk.clock.now += timedelta(days=6, hours=23)
    assert desk.daemon.sweeper is not None
    assert await desk.daemon.sweeper.sweep_once() == 0  # not yet
    desk.clock.now += timedelta(hours=2)
    desk.daemon.sweeper.wake.set()
    await until(lambda: _status(desk, number, "closed"), what="the auto-close")
    notice_closed = await desk.last("auto_closed", CUSTOMER)
    assert "7 jours" in notice_closed["text"] and notice_closed["msg"]["Auto-Submitted"] == "auto-replied"
    assert "auto_closed" in event_kinds(await desk.show(number))


async def _status(desk: Desk, number: int, status: str) -> bool:
    return (await desk.show(number))["status"] == status


async def test_merge_and_forged_or_refused_commands(desk: Desk) -> None:
    first, _ = await open_ticket(desk, "Accès VPN")
    second, notice = await open_ticket(desk, "VPN toujours bloqué")
    ack = await desk.last("ack", CUSTOMER)

    # a stranger forging a consultant's address, answering the customer's acknowledgement: refused
    await desk.send("alice@example.test", "fermer", reply_to=ack["message_id"])
    t = await desk.show(second)
    assert t["status"] == "open"
    refused = [e for e in t["events"] if e["kind"] == "agent_mail"][-1]["data"]
    assert refused["authenticated"] is False
    warned = await desk.last("agent_refused", "alice@example.test")
    assert "authentifié" in warned["text"] and "> fermer" in warned["text"]
    assert "il ne répond à aucune notification qui vous a été envoyée" in warned["text"]
    assert "does not answer" not in warned["text"]  # one language per mail
    assert not [k for k in await desk.kinds() if k[0] == "relay"]

    # a refused command: nothing applies, the transcript says which and why
    await desk.send("alice@example.test", "prendre\n/temps demain\n\nBonjour", reply_to=notice)
    t = await desk.show(second)
    assert (t["status"], t["assignee"]) == ("open", None)
    transcript = await desk.last("transcript", "alice@example.test")
    assert "REFUSÉE : durée illisible dans « demain »" in transcript["text"]
    assert "Aucune de vos commandes" in transcript["text"]
    assert not [k for k in await desk.kinds() if k[0] == "relay"]

    # a spoofed consultant: the border says dkim=fail on top, a forged pass below it, then a bare suffix
    for forged in ("mx.example.test; dkim=fail header.d=example.test\r\n"
                   "Authentication-Results: mx.example.test; dkim=pass header.d=example.test",
                   "mx.example.test; dkim=pass header.d=test"):
        await desk.send("alice@example.test", f"fusionner #{first}", subject=f"Re: [#{second}] VPN",
                        extra=f"Authentication-Results: {forged}\r\n")
        t = await desk.show(second)
        assert (t["status"], t["merged_into"]) == ("open", None)
        assert [e for e in t["events"] if e["kind"] == "agent_mail"][-1]["data"]["authenticated"] is False

    # a consultant's mail with a trusted DKIM result, by subject tag: authenticated
    await desk.send("alice@example.test", f"fusionner #{first}", subject=f"Re: [#{second}] VPN",
                    extra="Authentication-Results: mx.example.test; dkim=pass header.d=example.test\r\n")
    t = await desk.show(second)
    assert (t["status"], t["merged_into"]) == ("closed", first)
    assert "merged_from" in event_kinds(await desk.show(first))
    moved = await desk.last("merged", CUSTOMER)  # the customer learns where the request now lives
    assert f"sous le numéro #{first}" in moved["text"] and f"[#{first}]" in moved["text"]

    # the customer's next reply on the merged ticket lands on the surviving one
    await desk.send(CUSTOMER, "Toujours bloqué ce matin.", reply_to=ack["message_id"])
    assert any("Toujours bloqué" in m["body"] for m in (await desk.show(first))["messages"])


async def test_waiting_ticket_goes_back_where_it_was_when_the_customer_answers(desk: Desk) -> None:
    number, notice = await open_ticket(desk, "Export comptable")
    await desk.send("alice@example.test", "prendre\nstatut en cours\nattente client\n\nPouvez-vous m'envoyer le "
                    "fichier ?", reply_to=notice)
    t = await desk.show(number)
    assert (t["status"], t["status_label"], t["waiting_on"]) == ("waiting", "Un instant", "customer")
    relay = await desk.last("relay", CUSTOMER)
    await desk.send(CUSTOMER, "Le voici.", reply_to=relay["message_id"])
    t = await desk.show(number)
    assert (t["status"], t["waiting_on"]) == ("in_progress", None)
    assert "Le voici." in (await desk.last("notify_reply", "alice@example.test"))["text"]


async def test_the_requester_hears_the_ticket_taken_then_asks_statut_and_gets_their_open_tickets(desk: Desk) -> None:
    number, notice = await open_ticket(desk, "Badge perdu")
    other, _ = await open_ticket(desk, "Imprimante du 2e étage")
    await desk.send("someone@elsewhere.example", "Bonjour, mon écran clignote.", subject="Écran")  # not theirs

    # a consultant takes it without writing to the customer: one short notice, the first name only
    await desk.send("alice@example.test", "prendre\ntemps 10m", reply_to=notice)
    taken = await desk.last("status_notice", CUSTOMER)
    assert taken["msg"]["Subject"].startswith(f"[#{number}]") and taken["msg"]["Auto-Submitted"] == "auto-replied"
    assert f"Votre demande #{number} est prise en charge par Alice." in taken["text"]
    assert "Statut : Pris en charge" in taken["text"] and "alice@example.test" not in taken["text"]
    events = (await desk.show(number))["events"]
    assert [e["data"]["notice"] for e in events if e["kind"] == "status_notice"] == ["taken"]
    assert [k for k in await desk.kinds() if k[0] == "status_notice"] == [("status_notice", CUSTOMER)]

    # `statut` to the support address: the customer's own open tickets, and no ticket opened
    before = await _ids(desk)
    await desk.send(CUSTOMER, "Statut", subject="où en est-on ?")
    assert await _ids(desk) == before
    listed = await desk.last("my_tickets", CUSTOMER)
    assert listed["msg"]["Subject"] == "Vos demandes en cours" and listed["msg"]["Auto-Submitted"] == "auto-replied"
    text = listed["text"].replace("\r\n", "\n")
    assert f"#{number}  Badge perdu\n      Pris en charge, depuis le 17/01/2022 09:00 UTC" in text
    assert f"#{other}  Imprimante du 2e étage\n      Ouvert" in text
    assert "écran" not in text.lower()  # never anyone else's

    # and a consultant's `file`: the tickets assigned to them, at their own address
    await desk.send("alice@example.test", "ma file", subject="file")
    assert await _ids(desk) == before
    queue = await desk.last("my_queue", "alice@example.test")
    assert f"#{number}  normale" in queue["text"] and "Badge perdu" in queue["text"]
    assert "Imprimante" not in queue["text"]
