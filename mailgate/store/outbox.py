"""Store: the outbox table: queue a mail with its ticket change, lease it to the sender, record the result."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.outcome import MailKind
from mailgate.core.workflow.authn import SentMail
from mailgate.store.columns import SHORT_TEXT, fit
from mailgate.store.driver_sql import Statement
from mailgate.store.tables import outbox

STATUSES = ("queued", "sent", "failed")


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


def enqueue(
    conn: Connection, *, ticket_id: int | None, kind: str, message_id: str, envelope_from: str,
    envelope_to: list[str], raw: bytes, now: datetime, deadline: datetime, automatic: bool = False,
) -> int:
    values = dict(
        ticket_id=ticket_id, kind=kind, message_id=message_id, envelope_from=envelope_from,
        envelope_to=envelope_to, raw=raw, status="queued", attempts=0, created_at=now,
        next_attempt_at=now, deadline=deadline, automatic=automatic,
        recipient=fit(outbox.c.recipient, envelope_to[0]) if envelope_to else None,
    )
    return _ENQUEUE.new_id(conn, values)


_ENQUEUE = Statement(sa.insert(outbox), returning=True)  # built once, like the other hot statements


# chosen once, in a materialised CTE (see inbound._TAKEN: a plain IN-subquery with LIMIT can take far more)
_DUE = (
    sa.select(outbox.c.id)
    .where(outbox.c.status == "queued", outbox.c.next_attempt_at <= sa.bindparam("b_now"))
    .order_by(outbox.c.next_attempt_at, outbox.c.id)
    .limit(sa.bindparam("b_limit"))
    .with_for_update(skip_locked=True)
    .cte("due").prefix_with("MATERIALIZED")
)
_LEASE = (
    sa.update(outbox)
    .where(outbox.c.id.in_(sa.select(_DUE.c.id)), outbox.c.status == "queued")
    .values(next_attempt_at=sa.bindparam("b_until"), attempts=outbox.c.attempts + 1, leased_by=sa.bindparam("b_me"))
    .returning(outbox.c.id, outbox.c.message_id, outbox.c.envelope_from, outbox.c.envelope_to,
               outbox.c.raw, outbox.c.attempts, outbox.c.created_at, outbox.c.deadline)
)
_BY_ID = outbox.c.id == sa.bindparam("b_id")
_SENT = Statement(sa.update(outbox).where(_BY_ID).values(status="sent", sent_at=sa.bindparam("b_now"),
                                                         last_error=None, leased_by=None))  # one a mail sent
_RETRY = sa.update(outbox).where(_BY_ID).values(next_attempt_at=sa.bindparam("b_at"),
                                                last_error=sa.bindparam("b_error"), leased_by=None)
_FAILED = sa.update(outbox).where(_BY_ID).values(status="failed", last_error=sa.bindparam("b_error"), leased_by=None)


def lease_due(conn: Connection, now: datetime, lease: timedelta, limit: int, me: str) -> list[OutboxRow]:
    """Take up to `limit` queued mails that are due, pushing their next attempt `lease` ahead: a
    sender that dies mid-send leaves them to be retried after the lease; two senders never share one."""
    result = conn.execute(_LEASE, dict(b_now=now, b_limit=limit, b_until=now + lease, b_me=me))
    return sorted((OutboxRow(*r) for r in result), key=lambda r: r.id)


def holders(conn: Connection) -> list[str]:
    """The senders holding queued mail now."""
    return [h for h in conn.execute(sa.select(outbox.c.leased_by).distinct().where(
        outbox.c.status == "queued", outbox.c.leased_by.is_not(None))).scalars()]


def release(conn: Connection, holder: str, now: datetime) -> int:
    """The mails a dead sender held are due again now (each may have gone out before it died: then it goes
    twice, with the same Message-ID, as docs/delivery.md says)."""
    return conn.execute(sa.update(outbox).where(outbox.c.status == "queued", outbox.c.leased_by == holder)
                        .values(next_attempt_at=now, leased_by=None)).rowcount


def mark_sent(conn: Connection, outbox_id: int, now: datetime) -> None:
    mark_all_sent(conn, [outbox_id], now)


def mark_all_sent(conn: Connection, outbox_ids: list[int], now: datetime) -> None:
    """These mails were taken by the smart host: one statement for all."""
    if outbox_ids:
        _SENT.many(conn, [dict(b_id=i, b_now=now) for i in outbox_ids])


def mark_retry(conn: Connection, outbox_id: int, at: datetime, error: str) -> None:
    conn.execute(_RETRY, dict(b_id=outbox_id, b_at=at, b_error=error[:SHORT_TEXT]))


def mark_failed(conn: Connection, outbox_id: int, error: str) -> None:
    conn.execute(_FAILED, dict(b_id=outbox_id, b_error=error[:SHORT_TEXT]))


def next_due(conn: Connection) -> datetime | None:
    stmt = sa.select(sa.func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "queued")
    value = (conn.execute(stmt)).scalar_one_or_none()
    return value if isinstance(value, datetime) else None  # min() keeps the column type: aware UTC


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(sa.select(outbox.c.status, sa.func.count()).group_by(outbox.c.status))
    return {status: n for status, n in rows}


_SENT_MAILS = sa.select(outbox.c.message_id, outbox.c.kind, outbox.c.ticket_id, outbox.c.envelope_to).where(
    outbox.c.message_id.in_(sa.bindparam("b_ids", expanding=True)))


def sent_mails(conn: Connection, message_ids: Iterable[str]) -> dict[str, SentMail]:
    """Our queued or sent mails with these Message-IDs: what an inbound reply answers, and to whom it went."""
    wanted = sorted(set(message_ids))
    if not wanted:
        return {}
    rows = conn.execute(_SENT_MAILS, dict(b_ids=wanted))
    return {r.message_id: SentMail(r.message_id, MailKind(r.kind), r.ticket_id, tuple(r.envelope_to)) for r in rows}


def oldest_queued(conn: Connection) -> datetime | None:
    """When the oldest mail still queued (not yet sent nor failed) was queued; None when none is."""
    return conn.execute(sa.select(sa.func.min(outbox.c.created_at)).where(outbox.c.status == "queued")).scalar()


def listing(conn: Connection, status: str, limit: int) -> list[dict[str, Any]]:
    """Outgoing mails in one status, oldest first, with their last error."""
    c = outbox.c
    rows = conn.execute(sa.select(c.id, c.created_at, c.kind, c.recipient, c.ticket_id, c.attempts, c.last_error,
                                  c.next_attempt_at).where(c.status == status).order_by(c.id).limit(limit))
    return [{"id": r.id, "queued_at": r.created_at.isoformat(timespec="seconds"), "kind": r.kind, "to": r.recipient,
             "ticket": r.ticket_id, "attempts": r.attempts, "next_attempt_at": r.next_attempt_at.isoformat(
                 timespec="seconds") if status == "queued" else None,
             "last_error": (r.last_error or "")[:300] or None} for r in rows]


def retry(conn: Connection, outbox_id: int, now: datetime, deadline: datetime) -> bool:
    """Queue a failed mail again, to be sent at once and retried until `deadline`; False if no such failed mail."""
    done = conn.execute(sa.update(outbox).where(outbox.c.id == outbox_id, outbox.c.status == "failed").values(
        status="queued", next_attempt_at=now, deadline=deadline, leased_by=None))
    return bool(done.rowcount)
