"""Store: the outbox table: queue a mail with its ticket change, lease it to the sender, record the result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.core.workflow.authn import SentMail
from mailgate.store.tables import SHORT_TEXT, fit, outbox


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
    envelope_to: list[str], raw: bytes, now: datetime, deadline: datetime, automatic: bool = False,
) -> int:
    values = dict(
        ticket_id=ticket_id, kind=kind, message_id=message_id, envelope_from=envelope_from,
        envelope_to=envelope_to, raw=raw, status="queued", attempts=0, created_at=now,
        next_attempt_at=now, deadline=deadline, automatic=automatic,
        recipient=fit(outbox.c.recipient, envelope_to[0]) if envelope_to else None,
    )
    return int((await conn.execute(_ENQUEUE, values)).scalar_one())


_ENQUEUE = sa.insert(outbox).returning(outbox.c.id)  # built once, like the other hot statements


_DUE = (
    sa.select(outbox.c.id)
    .where(outbox.c.status == "queued", outbox.c.next_attempt_at <= sa.bindparam("b_now"))
    .order_by(outbox.c.next_attempt_at, outbox.c.id)
    .limit(sa.bindparam("b_limit"))
    .with_for_update(skip_locked=True)
)
_LEASE = (
    sa.update(outbox)
    .where(outbox.c.id.in_(_DUE.scalar_subquery()), outbox.c.status == "queued")
    .values(next_attempt_at=sa.bindparam("b_until"), attempts=outbox.c.attempts + 1)
    .returning(outbox.c.id, outbox.c.message_id, outbox.c.envelope_from, outbox.c.envelope_to,
               outbox.c.raw, outbox.c.attempts, outbox.c.created_at, outbox.c.deadline)
)
_BY_ID = outbox.c.id == sa.bindparam("b_id")
_SENT = sa.update(outbox).where(_BY_ID).values(status="sent", sent_at=sa.bindparam("b_now"), last_error=None)
_RETRY = sa.update(outbox).where(_BY_ID).values(next_attempt_at=sa.bindparam("b_at"),
                                                last_error=sa.bindparam("b_error"))
_FAILED = sa.update(outbox).where(_BY_ID).values(status="failed", last_error=sa.bindparam("b_error"))


async def lease_due(conn: AsyncConnection, now: datetime, lease: timedelta, limit: int) -> list[OutboxRow]:
    """Take up to `limit` queued mails that are due, pushing their next attempt `lease` ahead: a
    sender that dies mid-send leaves them to be retried after the lease; two senders never share one."""
    result = await conn.execute(_LEASE, dict(b_now=now, b_limit=limit, b_until=now + lease))
    return sorted((OutboxRow(*r) for r in result), key=lambda r: r.id)


async def mark_sent(conn: AsyncConnection, outbox_id: int, now: datetime) -> None:
    await conn.execute(_SENT, dict(b_id=outbox_id, b_now=now))


async def mark_retry(conn: AsyncConnection, outbox_id: int, at: datetime, error: str) -> None:
    await conn.execute(_RETRY, dict(b_id=outbox_id, b_at=at, b_error=error[:SHORT_TEXT]))


async def mark_failed(conn: AsyncConnection, outbox_id: int, error: str) -> None:
    await conn.execute(_FAILED, dict(b_id=outbox_id, b_error=error[:SHORT_TEXT]))


async def next_due(conn: AsyncConnection) -> datetime | None:
    stmt = sa.select(sa.func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "queued")
    value = (await conn.execute(stmt)).scalar_one_or_none()
    return value if isinstance(value, datetime) else None  # min() keeps the column type: aware UTC


async def counts(conn: AsyncConnection) -> dict[str, int]:
    rows = await conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
    return {status: n for status, n in rows}


async def sent_mails(conn: AsyncConnection, message_ids: Iterable[str]) -> dict[str, SentMail]:
    """Our queued or sent mails with these Message-IDs: what an inbound reply answers, and to whom it went."""
    wanted = sorted(set(message_ids))
    if not wanted:
        return {}
    rows = await conn.execute(sa.select(outbox.c.message_id, outbox.c.kind, outbox.c.ticket_id,
                                        outbox.c.envelope_to).where(outbox.c.message_id.in_(wanted)))
    return {r.message_id: SentMail(r.message_id, r.kind, r.ticket_id, tuple(r.envelope_to)) for r in rows}
