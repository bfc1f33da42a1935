"""Store: imputation tasks (one per ticket and month) and the time entries logged on them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.model import RequestType
from mailgate.core.outcome import TimeEntry
from mailgate.core.workflow.billing import TicketMonth, task_title
from mailgate.store.columns import SHORT_TEXT, fit
from mailgate.store.tables import estimate, task, ticket, time_entry


def ensure_task(conn: Connection, ticket_id: int, title: str, day: date, now: datetime) -> int:
    """The ticket's task for `day`'s month, created when missing; its id."""
    found = (conn.execute(
        sa.select(task.c.id).where(task.c.ticket_id == ticket_id, task.c.year == day.year,
                                   task.c.month == day.month)
    )).scalar()
    if found is not None:
        return int(found)
    values = dict(ticket_id=ticket_id, year=day.year, month=day.month,
                  title=fit(task.c.title, task_title(ticket_id, title, day.year, day.month)), created_at=now)
    return int((conn.execute(sa.insert(task).returning(task.c.id), values)).scalar_one())


def log_time(conn: Connection, ticket_id: int, task_id: int, entries: tuple[TimeEntry, ...],
                   day: date, inbound_id: int | None) -> None:
    rows = [dict(task_id=task_id, ticket_id=ticket_id, agent=e.agent, minutes=e.minutes, day=day,
                 comment=e.comment[:SHORT_TEXT], inbound_id=inbound_id) for e in entries]
    if rows:
        conn.execute(sa.insert(time_entry), rows)


def tasks_of(conn: Connection, ticket_id: int) -> list[dict[str, Any]]:
    """The ticket's tasks, each with its time entries and total, oldest first."""
    result: list[dict[str, Any]] = []
    by_id: dict[int, dict[str, Any]] = {}
    for t in conn.execute(sa.select(task).where(task.c.ticket_id == ticket_id)
                                .order_by(task.c.year, task.c.month)):
        entry = dict(id=t.id, title=t.title, month=f"{t.year:04d}-{t.month:02d}", minutes=0, entries=[])
        by_id[t.id] = entry
        result.append(entry)
    for e in conn.execute(sa.select(time_entry).where(time_entry.c.ticket_id == ticket_id)
                                .order_by(time_entry.c.id)):
        owner = by_id[e.task_id]
        owner["entries"].append(dict(agent=e.agent, minutes=e.minutes, day=e.day.isoformat(), comment=e.comment))
        owner["minutes"] += e.minutes
    return result


def month_basis(conn: Connection, year: int, month: int) -> list[TicketMonth]:
    """Per ticket: the minutes logged in the month, and the amount of an estimate approved in it (UTC)."""
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    minutes: dict[int, int] = {
        r.ticket_id: int(r.total) for r in conn.execute(
            sa.select(task.c.ticket_id, sa.func.sum(time_entry.c.minutes).label("total"))
            .join(time_entry, time_entry.c.task_id == task.c.id)
            .where(task.c.year == year, task.c.month == month).group_by(task.c.ticket_id))
    }
    approved: dict[int, Decimal] = {}
    for r in conn.execute(
        sa.select(estimate.c.ticket_id, estimate.c.amount_cents)
        .where(estimate.c.state == "approved", estimate.c.decided_at >= start, estimate.c.decided_at < end)
        .order_by(estimate.c.id)
    ):
        approved[r.ticket_id] = Decimal(r.amount_cents or 0) / 100
    ids = sorted(minutes.keys() | approved.keys())
    if not ids:
        return []
    rows = conn.execute(sa.select(ticket.c.id, ticket.c.title, ticket.c.type, ticket.c.customer)
                              .where(ticket.c.id.in_(ids)).order_by(ticket.c.id))
    return [TicketMonth(r.id, r.title, RequestType(r.type), r.customer, minutes.get(r.id, 0), approved.get(r.id))
            for r in rows]
