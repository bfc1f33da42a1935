"""Shell, ingest: a mail from an MTA pipe (`mailgate ingest`), stored before the exit status says so."""

from __future__ import annotations

from mailgate.clock import utcnow
from mailgate.config.settings import Settings
from mailgate.core.mail.parse import dedupe_fields
from mailgate.store import inbound
from mailgate.store.db import reason, shown_url, without_password
from mailgate.store.inbound import Arrival
from mailgate.store.schema import SchemaError, open_database


class IngestError(Exception):
    """The input itself is unacceptable (empty, too large): retrying will not help."""


class StoreFailed(Exception):
    """The mail could not be stored (the database unreachable, locked, not writable, not at the code's schema):
    the message says what failed and where, without SQL, parameters or password. The MTA keeps the mail."""


def ingest_bytes(
    settings: Settings, raw: bytes, *, envelope_from: str | None, recipients: list[str]
) -> int | None:
    """Store a mail read from an MTA pipe; returns its id, or None for a duplicate delivery."""
    if not raw.strip():
        raise IngestError("empty input: no mail on standard input")
    if len(raw) > settings.smtp.max_message_size:
        raise IngestError(f"mail of {len(raw)} bytes exceeds max_message_size {settings.smtp.max_message_size}")
    message_id, sender = dedupe_fields(raw)
    arrival = Arrival(raw=raw, source="pipe", source_ref="stdin", envelope_from=envelope_from,
                      envelope_to=recipients or list(settings.gateway.addresses[:1]), message_id=message_id,
                      sender=sender)
    url = settings.database_url
    try:
        db = open_database(settings)
        try:
            return db.write_now(inbound.store, arrival, utcnow())
        finally:
            db.close()
    except SchemaError as exc:
        raise StoreFailed(f"database {shown_url(url)} not ready: {without_password(str(exc), url)}") from exc
    except Exception as exc:
        raise StoreFailed(f"database {shown_url(url)} unavailable: {without_password(reason(exc), url)}") from exc
