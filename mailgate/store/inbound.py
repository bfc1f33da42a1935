"""Store: the inbound_mail table: persist raw mail once, claim it for processing, record the result."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.store.tables import fit, inbound_mail


@dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    envelope_from: str | None
    raw: bytes
    status: str
    envelope_to: list[str]


def dedupe_key(message_id: str | None, sender: str | None, raw: bytes) -> str:
    """Same Message-ID from the same sender = the same mail; without a Message-ID, the same bytes."""
    if message_id:
        basis = f"mid\0{message_id.strip().lower()}\0{(sender or '').strip().lower()}".encode()
    else:
        basis = b"raw\0" + raw
    return hashlib.sha256(basis).hexdigest()


async def store(
    conn: AsyncConnection,
    *,
    raw: bytes,
    source: str,
    source_ref: str,
    envelope_from: str | None,
    envelope_to: list[str],
    message_id: str | None,
    sender: str | None,
    now: datetime,
) -> tuple[int | None, bool]:
    """Insert a received mail. Returns (id, True) when new, (None, False) for a duplicate delivery."""
    values = dict(
        received_at=now, source=source, source_ref=fit(inbound_mail.c.source_ref, source_ref),
        envelope_from=envelope_from,
        envelope_to=envelope_to, message_id=fit(inbound_mail.c.message_id, message_id or None),
        dedupe_key=dedupe_key(message_id, sender, raw), size=len(raw), raw=raw, status="received",
        attempts=0,
    )
    new_id = (await conn.execute(_INSERT[conn.dialect.name], values)).scalar_one_or_none()
    return new_id, new_id is not None


# Statements are built once: building and cache-keying them per mail cost more than running them.
_INSERT = {
    name: dialect.insert(inbound_mail)
    .on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(inbound_mail.c.id)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
_COLUMNS = (inbound_mail.c.id, inbound_mail.c.envelope_from, inbound_mail.c.raw, inbound_mail.c.status,
            inbound_mail.c.envelope_to)
_CLAIM_NEXT = (
    sa.update(inbound_mail)
    .where(
        inbound_mail.c.id == sa.select(inbound_mail.c.id)
        .where(inbound_mail.c.status == "received")
        .order_by(inbound_mail.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery(),
        inbound_mail.c.status == "received",
    )
    .values(attempts=inbound_mail.c.attempts + 1)
    .returning(*_COLUMNS)
)
_FINISH = (
    sa.update(inbound_mail)
    .where(inbound_mail.c.id == sa.bindparam("b_id"))
    .values(status=sa.bindparam("b_status"), ticket_id=sa.bindparam("b_ticket"),
            processed_at=sa.bindparam("b_now"), error=sa.bindparam("b_error"))
)


async def claim_next(conn: AsyncConnection) -> InboundRow | None:
    """Claim the oldest unprocessed mail inside the caller's transaction (SKIP LOCKED on PostgreSQL:
    two workers never take the same row; the claim is undone if the transaction rolls back)."""
    row = (await conn.execute(_CLAIM_NEXT)).first()
    return InboundRow(*row) if row else None


async def claim_for_replay(conn: AsyncConnection, inbound_id: int,
                           statuses: tuple[str, ...] = ("shunted", "received")) -> InboundRow | None:
    """Claim one shunted (or stuck received) mail by id, for `mailgate replay`; a quarantined one for
    `mailgate release`."""
    stmt = (
        sa.update(inbound_mail)
        .where(inbound_mail.c.id == inbound_id, inbound_mail.c.status.in_(statuses))
        .values(attempts=inbound_mail.c.attempts + 1)
        .returning(*_COLUMNS)
    )
    row = (await conn.execute(stmt)).first()
    return InboundRow(*row) if row else None


async def finish(
    conn: AsyncConnection, inbound_id: int, *, status: str, ticket_id: int | None, now: datetime,
    error: str | None = None,
) -> None:
    """Record the end of processing: processed, ignored (stored, no ticket) or shunted (with the error)."""
    await conn.execute(_FINISH, dict(b_id=inbound_id, b_status=status, b_ticket=ticket_id, b_now=now,
                                     b_error=error))


async def shunt(conn: AsyncConnection, inbound_id: int, error: str, now: datetime) -> None:
    """Mark a mail whose processing raised; its attempt count is kept for the record."""
    await conn.execute(
        sa.update(inbound_mail)
        .where(inbound_mail.c.id == inbound_id)
        .values(status="shunted", error=error[-20000:], processed_at=now,
                attempts=inbound_mail.c.attempts + 1)
    )


async def counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(
        sa.select(inbound_mail.c.status, sa.func.count()).group_by(inbound_mail.c.status)
    )
    return {status: n for status, n in rows}
