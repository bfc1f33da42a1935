"""The smart host's SMTP transaction (outbound/smarthost.py) against a real server scripted at MAIL, RCPT and
DATA: the verdict of each refusal, the SIZE announced, and the session still good for the next mail after
any of them (the envelope dropped by RSET)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from aiosmtplib.protocol import normalize_message_line_endings

from mailgate.config.sections import Outbound
from mailgate.core.delivery import Verdict
from mailgate.outbound.smarthost import SmartHost, wire_size

MAIL = b"From: support@example.test\r\nSubject: x\r\n\r\nline one\r\n.leading dot\r\n"


@dataclass
class Scripted:
    mail_from: dict[str, str] = field(default_factory=dict)  # sender -> answer to MAIL
    rcpt_to: dict[str, str] = field(default_factory=dict)  # recipient -> answer to RCPT
    data: dict[str, str] = field(default_factory=dict)  # sender -> answer to DATA
    received: list[Envelope] = field(default_factory=list)
    sizes: list[str] = field(default_factory=list)  # the SIZE= of each MAIL

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        self.sizes += [o.split("=", 1)[1] for o in options if o.upper().startswith("SIZE=")]
        answer = self.mail_from.get(address, "250 OK")
        if answer.startswith("250"):
            envelope.mail_from = address
        return answer

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:
        answer = self.rcpt_to.get(address, "250 OK")
        if answer.startswith("250"):
            envelope.rcpt_tos.append(address)
        return answer

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self.data.get(str(envelope.mail_from), "250 OK: queued")
        if answer.startswith("250"):
            self.received.append(envelope)
        return answer


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Scripted, int]]:
    handler = Scripted()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), host="127.0.0.1", port=0)
    yield handler, server.sockets[0].getsockname()[1]
    server.close()


async def test_each_refusal_has_its_verdict_and_the_session_carries_the_next_mail(
        scripted: tuple[Scripted, int]) -> None:
    handler, port = scripted
    handler.mail_from["blocked@example.test"] = "553 5.7.1 sender refused"
    handler.rcpt_to.update({"gone@client.example": "550 5.1.1 no such user", "full@client.example": "452 4.2.2 full"})
    handler.data["later@example.test"] = "451 4.3.0 try later"
    async with SmartHost(Outbound(host="127.0.0.1", port=port, timeout=5)) as host:
        attempts = [
            await host.send("support@example.test", ["a@client.example", "gone@client.example"], MAIL),
            await host.send("support@example.test", ["gone@client.example"], MAIL),
            await host.send("support@example.test", ["full@client.example"], MAIL),
            await host.send("support@example.test", ["full@client.example", "full@client.example"], MAIL),
            await host.send("blocked@example.test", ["a@client.example"], MAIL),
            await host.send("later@example.test", ["a@client.example"], MAIL),
            await host.send("support@example.test", ["a b@client.example"], MAIL),  # refused before sending
            await host.send("support@example.test", ["b@client.example"], MAIL),
        ]
    verdicts = [a.verdict for a in attempts]
    assert verdicts == [Verdict.SENT, Verdict.PERMANENT, Verdict.TEMPORARY, Verdict.TEMPORARY, Verdict.PERMANENT,
                        Verdict.TEMPORARY, Verdict.PERMANENT, Verdict.SENT]
    assert "gone@client.example: 550" in attempts[0].detail and "553" in attempts[4].detail
    assert [e.rcpt_tos for e in handler.received] == [["a@client.example"], ["b@client.example"]]
    assert handler.received[1].original_content == MAIL  # dot-stuffing undone by the server: the bytes sent


async def test_the_size_announced_is_the_size_sent(scripted: tuple[Scripted, int]) -> None:
    handler, port = scripted
    bare = b"Subject: x\r\n\r\nbare LF\nbare CR\rend\r\n"
    async with SmartHost(Outbound(host="127.0.0.1", port=port, timeout=5)) as host:
        for raw in (MAIL, bare):
            assert (await host.send("support@example.test", ["a@client.example"], raw)).verdict is Verdict.SENT
    assert handler.sizes == [str(len(MAIL)), str(len(bare) + 2)] == [str(wire_size(MAIL)), str(wire_size(bare))]


def test_the_size_counts_the_line_ends_as_the_client_sends_them() -> None:
    for parts in itertools.product([b"a", b"\r", b"\n", b"\r\n", b""], repeat=5):
        raw = b"".join(parts)
        assert wire_size(raw) == len(normalize_message_line_endings(raw)), raw
