"""Shell, outbound: hand outbox mail to the smart host over one reused session; classify each try as sent,
temporary or permanent."""

from __future__ import annotations

from types import TracebackType

import aiosmtplib
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from mailgate.config.sections import Outbound
from mailgate.core.delivery import Attempt, Verdict

# Connection-level trouble: worth a few quick reconnects inside one attempt.
_CONNECTION_ERRORS = (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected,
                      aiosmtplib.SMTPTimeoutError, ConnectionError, TimeoutError, OSError)


class SmartHost:
    """One SMTP session to the smart host, reused for a batch; reconnects when it drops."""

    def __init__(self, settings: Outbound, *, quick_retries: int = 3) -> None:
        self.settings = settings
        self.quick_retries = quick_retries
        self._client: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> SmartHost:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except Exception:
                client.close()

    async def _connect(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        s = self.settings
        client = aiosmtplib.SMTP(
            hostname=s.host, port=s.port, timeout=s.timeout, use_tls=s.tls == "implicit",
            start_tls=True if s.tls == "starttls" else False,
            username=s.username, password=s.resolved_password() if s.username else None,
            local_hostname=s.ehlo_name,  # None: aiosmtplib says EHLO with the machine's FQDN
        )
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(_CONNECTION_ERRORS), stop=stop_after_attempt(self.quick_retries),
            wait=wait_exponential(multiplier=0.2, max=2.0), reraise=True,
        ):
            with attempt:
                await client.connect()
        self._client = client
        return client

    async def send(self, envelope_from: str, envelope_to: list[str], raw: bytes) -> Attempt:
        """Send one mail. Never raises for SMTP or network trouble: the result says what happened."""
        try:
            client = await self._connect()
            refused, response = await _transaction(client, envelope_from, envelope_to, raw)
        except aiosmtplib.SMTPAuthenticationError as exc:  # our config, not the mail: keep it and retry
            await self.drop()
            return Attempt(verdict=Verdict.TEMPORARY,
                           detail=f"the smart host refused our login: {exc.code} {exc.message}")
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. SMTPUTF8 for an internationalised address
            return Attempt(verdict=Verdict.PERMANENT, detail=f"smart host does not support it: {exc}")
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            verdict = Verdict.TEMPORARY if any(400 <= c < 500 for c in codes) else Verdict.PERMANENT
            return Attempt(verdict=verdict, detail=detail)
        except aiosmtplib.SMTPResponseException as exc:
            await self.drop()
            verdict = Verdict.PERMANENT if 500 <= exc.code < 600 else Verdict.TEMPORARY
            return Attempt(verdict=verdict, detail=f"{exc.code} {exc.message}")
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS) as exc:
            await self.drop()
            return Attempt(verdict=Verdict.TEMPORARY, detail=f"{type(exc).__name__}: {exc}")
        except (ValueError, UnicodeError) as exc:  # the client refuses an address or the bytes before sending
            return Attempt(verdict=Verdict.PERMANENT, detail=f"refused by the SMTP client before sending: {exc}")
        if refused:
            detail = "; ".join(f"{rcpt}: {r.code} {r.message}" for rcpt, r in refused.items())
            return Attempt(verdict=Verdict.SENT, detail=f"accepted with some recipients refused: {detail}")
        return Attempt(verdict=Verdict.SENT, detail=response)

    async def drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


async def _transaction(client: aiosmtplib.SMTP, envelope_from: str, envelope_to: list[str],
                       raw: bytes) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    """aiosmtplib's sendmail through its public commands (MAIL, RCPT, DATA, RSET), with the same answers and
    errors: sendmail parsed each address twice and normalised the line ends of the mail twice (once to count
    its SIZE), 50 us a mail; this parses each once, as MAIL and RCPT quote it, and counts without a copy."""
    if client.is_ehlo_or_helo_needed:
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()
    international = not all(a.isascii() for a in (envelope_from, *envelope_to))
    if international and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    options = ["SMTPUTF8"] if international else []
    if client.supports_extension("size"):  # RFC 1870: octets as sent, each line end a CRLF
        options.insert(0, f"size={wire_size(raw)}")
    encoding = "utf-8" if international else "ascii"
    errors: list[aiosmtplib.SMTPRecipientRefused] = []
    try:
        await client.mail(envelope_from, options=options, encoding=encoding)
        for recipient in envelope_to:
            try:
                await client.rcpt(recipient, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                errors.append(exc)
        if len(errors) == len(envelope_to):  # counted as sendmail does: a recipient named twice, twice
            raise aiosmtplib.SMTPRecipientsRefused(errors)
        response = await client.data(raw)
    except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused, ValueError, UnicodeError):
        try:  # the envelope begun is dropped, so the session can carry the next mail
            await client.rset()
        except (ConnectionError, aiosmtplib.SMTPResponseException):  # as sendmail: a timeout goes up
            pass
        raise
    return {e.recipient: aiosmtplib.SMTPResponse(e.code, e.message) for e in errors}, response.message


def wire_size(raw: bytes) -> int:
    """The mail's size as DATA sends it (RFC 1870): each bare CR or LF becomes a CRLF, one more octet, and a
    mail that does not end with a line end gets one (aiosmtplib's normalize_message_line_endings)."""
    crlf = raw.count(b"\r\n")
    size = len(raw) + (raw.count(b"\n") - crlf) + (raw.count(b"\r") - crlf)
    return size if raw.endswith((b"\r", b"\n")) else size + 2
