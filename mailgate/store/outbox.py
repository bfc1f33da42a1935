"""Store: the outbox table: queue a mail with its ticket change, lease it to the sender, record the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.store.tables import outbox


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    message_id: str
    envelope_from: str
    envelope_to: list[str]
    raw: bytes
    attempts: int
    created_at: datetime
    deadline: datetime


async def enqueue(
    conn: AsyncConnection, *, ticket_id: int | None, kind: str, message_id: str, envelope_from: str,
    envelope_to: list[str], raw: bytes, now: datetime, deadline: datetime,
) -> int:
    stmt = sa.insert(outbox).values(
        ticket_id=ticket_id, kind=kind, message_id=message_id, envelope_from=envelope_from,
        envelope_to=envelope_to, raw=raw, status="queued", attempts=0, created_at=now,
        next_attempt_at=now, deadline=deadline,
    ).returning(outbox.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def lease_due(conn: AsyncConnection, now: datetime, lease: timedelta, limit: int) -> list[OutboxRow]:
    """Take up to `limit` queued mails that are due, pushing their next attempt `lease` ahead: a
    sender that dies mid-send leaves them to be retried after the lease; two senders never share one."""
    due = (
        sa.select(outbox.c.id)
        .where(outbox.c.status == "queued", outbox.c.next_attempt_at <= now)
        .order_by(outbox.c.next_attempt_at, outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        sa.update(outbox)
        .where(outbox.c.id.in_(due.scalar_subquery()), outbox.c.status == "queued")
        .values(next_attempt_at=now + lease, attempts=outbox.c.attempts + 1)
        .returning(outbox.c.id, outbox.c.message_id, outbox.c.envelope_from, outbox.c.envelope_to,
                   outbox.c.raw, outbox.c.attempts, outbox.c.created_at, outbox.c.deadline)
    )
    rows = [OutboxRow(*r) for r in await conn.execute(stmt)]
    return sorted(rows, key=lambda r: r.id)


async def mark_sent(conn: AsyncConnection, outbox_id: int, now: datetime) -> None:
    await conn.execute(
        sa.update(outbox).where(outbox.c.id == outbox_id)
        .values(status="sent", sent_at=now, last_error=None)
    )


async def mark_retry(conn: AsyncConnection, outbox_id: int, at: datetime, error: str) -> None:
    await conn.execute(
        sa.update(outbox).where(outbox.c.id == outbox_id).values(next_attempt_at=at, last_error=error[:2000])
    )


async def mark_failed(conn: AsyncConnection, outbox_id: int, error: str) -> None:
    await conn.execute(
        sa.update(outbox).where(outbox.c.id == outbox_id).values(status="failed", last_error=error[:2000])
    )


async def next_due(conn: AsyncConnection) -> datetime | None:
    stmt = sa.select(sa.func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "queued")
    value = (await conn.execute(stmt)).scalar_one_or_none()
    return value if isinstance(value, datetime) else None  # min() keeps the column type: aware UTC


async def counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
    return {status: n for status, n in rows}
