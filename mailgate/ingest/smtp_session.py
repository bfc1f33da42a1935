"""Shell, ingest: one SMTP session (aiosmtpd's, narrowed): sessions capped overall and per client, clients
that talk before the greeting refused, a session ended after too many errors, and DATA spooled to disk as
it arrives, so that unfinished mail holds at most `spool_memory` bytes of memory a session."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import IO, Any

from aiosmtpd.smtp import MISSING, SMTP

from mailgate import log
from mailgate.ingest.smtp_data import DOT_END, Data, Receiving

logger = log.get("smtp_in")

# RFC 5321 allows 1,000 octets a line, but monitoring tools send alerts with one long JSON line: Postfix
# accepts and folds such lines, we accept them as they are (the raw bytes are kept) up to this length.
MAX_LINE_BYTES = 1024 * 1024
_PLAIN_PATH = re.compile(r"[ \t]*<([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+)>[ \t]*(.*)", re.S)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionLimits:
    """[smtp] limits, as Postfix has them (`default_process_limit`, `smtpd_client_connection_count_limit`,
    `smtpd_hard_error_limit`, postscreen's pregreet test); trusted networks are exempt from the per-client
    cap and the pregreet wait, as `smtpd_client_event_limit_exceptions` exempts `mynetworks`."""

    max_sessions: int = 100
    max_sessions_per_client: int = 20
    hard_error_limit: int = 20
    pregreet_wait: float = 1.0
    trusted: tuple[Network, ...] = ()
    spool_memory: int = 1024 * 1024
    spool_dir: str | None = None

    def is_trusted(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # a Unix socket or a name: not an address of a trusted network
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)


@dataclass(slots=True)
class Sessions:
    """The sessions open now, in all and per client address: shared by every session of one listener."""

    limits: SessionLimits
    total: int = 0
    per_client: Counter[str] = field(default_factory=Counter)

    def admit(self, host: str) -> str | None:
        """Count a new session in, or say why it is refused (it is then not counted)."""
        if self.total >= self.limits.max_sessions:
            return f"too many sessions ({self.limits.max_sessions})"
        if self.per_client[host] >= self.limits.max_sessions_per_client and not self.limits.is_trusted(host):
            return f"too many sessions from {host} ({self.limits.max_sessions_per_client})"
        self.total += 1
        self.per_client[host] += 1
        return None

    def release(self, host: str) -> None:
        self.total -= 1
        self.per_client[host] -= 1
        if self.per_client[host] <= 0:
            del self.per_client[host]


_REFUSALS = {
    Data.TOO_LONG: "500 Line too long (see RFC5321 4.5.3.1.6)",
    Data.TOO_MUCH: "552 Error: Too much mail data",
    Data.NO_SPACE: "451 4.3.1 Temporary failure spooling the message, please try again later",
}


def check_spool(limits: SessionLimits) -> None:
    """Raise OSError when the spool folder cannot take a file: found at start, not with the first big mail."""
    with tempfile.TemporaryFile(dir=limits.spool_dir) as probe:
        probe.write(b"x")


class Session(SMTP):
    """aiosmtpd's SMTP with long lines accepted (its line limit is also its stream reader's buffer limit), the
    common MAIL FROM / RCPT TO path `<local@domain>` read directly (aiosmtpd's own reading, through the email
    package's header parser, took 83 us a call, twice a mail; anything else still goes through it), and the
    limits above."""

    line_length_limit = MAX_LINE_BYTES

    def __init__(self, handler: Any, *, sessions: Sessions, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sessions = sessions
        self._host: str | None = None  # counted in `sessions` under this address
        self._refusal: str | None = None
        self._errors = 0

    # ------------------------------------------------------------------ sessions
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            host = self._peer_host()
            self._refusal = self._sessions.admit(host)
            if self._refusal is None:
                self._host = host

    def connection_lost(self, error: Exception | None) -> None:
        if self._host is not None:
            self._sessions.release(self._host)
            self._host = None
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._refusal is not None:
            logger.info("session refused", reason=self._refusal, peer=self._peer_host())
            await self._close_with(f"421 4.7.0 {self.hostname} Error: {self._refusal}, try again later")
            return
        limits = self._sessions.limits
        if limits.pregreet_wait > 0 and self._host is not None and not limits.is_trusted(self._host):
            await asyncio.sleep(limits.pregreet_wait)
            if self._reader._buffer:  # type: ignore[attr-defined]  # bytes sent before we greeted
                logger.info("client talked before the greeting, session refused", peer=self._host)
                await self._close_with(f"554 5.5.1 {self.hostname} Error: talked before the greeting")
                return
        await super()._handle_client()

    async def push(self, status: str) -> None:  # type: ignore[override]  # aiosmtpd only pushes str
        await super().push(status)
        if status[:1] in ("4", "5", b"4", b"5") and self.transport is not None:
            self._errors += 1
            if self._errors >= self._sessions.limits.hard_error_limit:
                logger.info("too many errors, session ended", errors=self._errors, peer=self._host)
                await self._close_with(f"421 4.7.0 {self.hostname} Error: too many errors")

    async def _close_with(self, status: str) -> None:
        transport = self.transport
        if transport is None:
            return
        self.transport = None  # ends aiosmtpd's command loop; written below without counting as an error
        self._writer.write(status.encode("ascii") + b"\r\n")
        transport.close()

    def _peer_host(self) -> str:
        peer = self.session.peer if self.session is not None else None
        return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)

    # ------------------------------------------------------------------ commands
    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        plain = _PLAIN_PATH.fullmatch(arg)
        if plain is None:
            return super()._getaddr(arg)
        address, rest = plain.group(1), plain.group(2)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA, with the lines written to a spool file (in memory up to `spool_memory` bytes, then
        on disk) instead of a list of lines in memory; the same replies and limits."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        limits = self._sessions.limits
        with tempfile.SpooledTemporaryFile(max_size=limits.spool_memory, dir=limits.spool_dir) as spool:
            state = await self._receive(spool)
            if state is not Data.NOMINAL:
                self._set_post_data_state()  # type: ignore[no-untyped-call]
                await self.push(_REFUSALS[state])
                return
            spool.seek(0)
            content = spool.read()
        self.envelope.content = self.envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        reply = "250 OK" if status is MISSING else status
        if reply.startswith("250"):
            self._errors = 0  # Postfix's limit counts errors "without delivering mail"
        await self.push(reply)

    async def _receive(self, spool: IO[bytes]) -> Data:
        """Read DATA up to the lone dot, undoing dot-stuffing (RFC 5321 section 4.5.2); past a limit, the rest is
        read and dropped so that the reply comes after the dot, as aiosmtpd does.

        Read up to each ".<CRLF>" (the lone dot's line ends so), or as much as the stream's buffer holds, not a
        line at a time: a line at a time cost about 2 us a line, 500 us for a mail with a 20 kB attachment."""
        data = Receiving(self.data_size_limit, self.line_length_limit)
        while True:
            try:
                piece = await self._reader.readuntil(DOT_END)
            except asyncio.CancelledError:  # the connection went away during DATA (aiosmtpd does the same)
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as exc:  # no ".<CRLF>" within the buffer: what it holds
                piece = await self._reader.read(exc.consumed)
            text, ended = data.add(piece)
            if data.state is Data.NOMINAL and text:
                try:
                    spool.write(text)
                except OSError as exc:  # disk full, spool_dir gone: the sender keeps the mail and retries
                    logger.error("could not spool mail, answered 451", error=str(exc), peer=self._host)
                    data.state = Data.NO_SPACE
            if ended:
                return data.state

