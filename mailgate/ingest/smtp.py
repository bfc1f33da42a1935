"""Shell, ingest: the SMTP listener (aiosmtpd). RCPT refuses unknown recipients; DATA stores the raw mail,
commits (with the sessions that finished meanwhile), and only then answers 250; a failed commit answers
451 4.3.0 so the sender retries."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgate import log
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings
from mailgate.core.mail.parse import dedupe_fields
from mailgate.ingest.smtp_session import Session as SmtpSession
from mailgate.ingest.smtp_session import SessionLimits, Sessions, check_spool
from mailgate.store.db import one_line
from mailgate.store.group import GroupWriter
from mailgate.store.inbound import Arrival

logger = log.get("smtp_in")


class InboundHandler:
    """aiosmtpd handler: only RCPT and DATA, no parsing or rules inside the SMTP session."""

    def __init__(self, settings: Settings, commits: GroupWriter[Arrival, int | None],
                 on_stored: Callable[[], None] = lambda: None, *, intake: bool = False) -> None:
        self.accepted = frozenset(settings.gateway.addresses)
        self.commits = commits
        self.queue_id = "I{}" if intake else "{}"  # an intake id (store/intake.py) or the inbound_mail id
        self.on_stored = on_stored

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.strip().lower() not in self.accepted:
            logger.info("recipient refused", rcpt=address, peer=_peer(session))
            return f"550 5.1.1 <{address}>: recipient not accepted here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):  # only when decode_data is on; kept for safety
            raw = raw.encode("utf-8", "surrogateescape")
        message_id, sender = dedupe_fields(raw)
        arrival = Arrival(raw=raw, source="smtp", source_ref=_peer(session), envelope_from=envelope.mail_from or "",
                          envelope_to=list(envelope.rcpt_tos), message_id=message_id, sender=sender)
        try:
            new_id = await self.commits.write(arrival)  # committed with the mails that arrived meanwhile
        except Exception as exc:  # whatever went wrong, the mail is not stored: make the sender retry
            logger.error("could not store mail, answered 451", error=one_line(exc), peer=_peer(session))
            return "451 4.3.0 Temporary failure storing the message, please try again later"
        if new_id is None:
            logger.info("duplicate delivery ignored", message_id=message_id, peer=_peer(session))
            return "250 2.0.0 OK: already received"
        self.on_stored()
        queue_id = self.queue_id.format(new_id)
        logger.debug("mail stored", queue_id=queue_id, size=len(raw))
        return f"250 2.0.0 OK: queued as {queue_id}"


def _peer(session: Session) -> str:
    peer: Any = session.peer
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def limits_of(settings: Settings) -> SessionLimits:
    s = settings.smtp
    return SessionLimits(max_sessions=s.max_sessions, max_sessions_per_client=s.max_sessions_per_client,
                  hard_error_limit=s.hard_error_limit, pregreet_wait=s.pregreet_wait,
                  trusted=tuple(ipaddress.ip_network(n, strict=False) for n in s.trusted_networks),
                  spool_memory=s.spool_memory, spool_dir=settings.smtp_spool_dir)


async def start(settings: Settings, handler: InboundHandler) -> asyncio.Server:
    """Listen on [smtp] host/port in the running loop; oversize mail gets 552."""
    s = settings.smtp
    limits = limits_of(settings)
    try:
        check_spool(limits)
    except OSError as exc:
        folder = limits.spool_dir or "the temporary folder"
        raise ConfigError(f"{settings.source}: smtp.spool_dir: cannot write a file in {folder}: {exc}") from None
    sessions = Sessions(limits)
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: SmtpSession(handler, sessions=sessions, data_size_limit=s.max_message_size, enable_SMTPUTF8=True,
                            decode_data=False, hostname=s.hostname, ident="mailgate ESMTP"),
        host=s.host, port=s.port,
    )
