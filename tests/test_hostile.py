"""Hostile and unusual mail through a running daemon (issue 16): a Message-ID that would break our headers,
NUL bytes (PostgreSQL refuses them in text), a stranger answering a resolution."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

from mailgate.config.settings import Settings
from mailgate.daemon import Daemon
from tests.conftest import SmartHostSink, counts, smtp_send, ticket, until


def _mail(message_id: str, subject: str = "Panne", body: str = "Bonjour, rien ne marche.",
          sender: str = "Fabrice <fabrice@client.example>") -> bytes:
    return (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"\r\n{body}\r\n").encode()


async def _processed(settings: Settings, n: int) -> bool:
    c = (await counts(settings))["inbound"]
    return c.get("received", 0) == 0 and sum(c.values()) >= n


async def test_a_message_id_with_line_breaking_characters_never_reaches_our_headers(
        daemon: Daemon, smart_host: SmartHostSink, settings: Settings) -> None:
    for n, mid in enumerate(["<a\x0bb\x0cc\x1cX-Injected: 1@evil.example>", "<a\x0bX-Injected:1@evil.example>",
                             "bare\x0bX-Injected:1@evil.example"]):
        await smtp_send(daemon.smtp_port, _mail(mid, subject=f"Panne {n}", sender=f"p{n}@client.example"))
    await until(lambda: len(smart_host.received) == 3, what="three acknowledgements")
    for raw in smart_host.messages():
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert not any(c in head for c in b"\x00\x0b\x0c\x1c\x1d\x1e\x1f\x7f"), head
        msg = message_from_bytes(raw, policy=compat32)
        assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Mailgate-Loop"]  # nothing fell into the body
        assert msg["X-Injected"] is None and "In-Reply-To" not in msg  # an invalid msg-id is not reused
    assert (await counts(settings))["inbound"] == {"processed": 3}  # none shunted


async def test_nul_bytes_in_body_subject_and_name_are_kept_in_the_raw_mail_only(
        daemon: Daemon, smart_host: SmartHostSink, settings: Settings) -> None:
    await smtp_send(daemon.smtp_port, _mail("<nul-1@client.example>", subject="Pan\x00ne",
                                            body="Bon\x00jour", sender="Fab\x00rice <fabrice@client.example>"))
    await until(lambda: _processed(settings, 1), what="the mail processed")
    assert (await counts(settings))["inbound"] == {"processed": 1}  # PostgreSQL took it: no NUL in a text column
    t = await ticket(settings, 1)
    assert t is not None and t["title"] == "Panne" and "\x00" not in t["messages"][0]["text"]
    await until(lambda: len(smart_host.received) == 1, what="the acknowledgement")
