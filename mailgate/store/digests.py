"""Store: the supervisors' digests: which periods' digests are queued (one row each, so a digest is queued once
whatever the instances), and the figures it reads that no other store query gives (time per consultant)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.core.digest import Logged, OpenTicket, Period
from mailgate.core.model import Status
from mailgate.store import tickets
from mailgate.store.tables import digest_sent, time_entry


def queued(conn: Connection, keys: list[str]) -> set[str]:
    """Which of these periods' digests are queued already."""
    return set(conn.execute(sa.select(digest_sent.c.period).where(digest_sent.c.period.in_(keys))).scalars())


def record(conn: Connection, key: str, now: datetime) -> bool:
    """Record the period's digest as queued; False when it was already (the row locked until this commits)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(digest_sent).values(period=key, queued_at=now).on_conflict_do_nothing()
    return conn.execute(stmt.returning(digest_sent.c.period)).first() is not None


def open_tickets(conn: Connection) -> list[OpenTicket]:
    """The open tickets (`mailgate queue`'s store query), as the digest sees them."""
    return [OpenTicket(r.id, r.title, Status(r.status), r.created_at, r.assignee,
                       tuple(name for name, told in (("response", r.response_breached_at),
                                                     ("resolution", r.resolution_breached_at)) if told))
            for r in tickets.open_work(conn)]


def logged(conn: Connection, period: Period) -> list[Logged]:
    """Minutes logged per consultant on the period's days."""
    total = sa.func.sum(time_entry.c.minutes)
    rows = conn.execute(sa.select(time_entry.c.agent, total).where(
        time_entry.c.day >= period.first_day, time_entry.c.day <= period.last_day).group_by(time_entry.c.agent))
    return [Logged(agent, int(minutes or 0)) for agent, minutes in rows]
