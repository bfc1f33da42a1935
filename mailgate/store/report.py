"""Store: what `mailgate report` reads of a period (mailgate/core/report.py): the tickets that may matter to it,
their workflow events and the time logged in it, in three statements (billing reads through store/imputation).

The tickets that may matter to [start, end) are those open now and those closed since `start`: a ticket closed
before `start` and never moved since was neither open, created, escalated, reopened nor closed in the period.
Both halves go through the (status, status_changed_at) index, their events through the event's ticket index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core import report as core
from mailgate.core.model import RequestType, Status
from mailgate.store.tables import event, ticket, time_entry
from mailgate.store.tickets import OPEN_STATUSES

_T = ticket.c
_START = sa.bindparam("b_start", type_=ticket.c.created_at.type)
_END = sa.bindparam("b_end", type_=ticket.c.created_at.type)
_OPEN_NOW = sa.and_(_T.status.in_(OPEN_STATUSES), _T.created_at < _END)
_CLOSED_SINCE = sa.and_(_T.status == Status.CLOSED.value, _T.status_changed_at >= _START, _T.created_at < _END)
_COLUMNS = (_T.id, _T.created_at, _T.status, _T.status_changed_at, _T.updated_at, _T.level, _T.type, _T.queue,
            _T.merged_into, _T.first_response_at, _T.resolved_at, _T.response_breached_at, _T.resolution_breached_at)
TICKETS = sa.union_all(sa.select(*_COLUMNS).where(_OPEN_NOW), sa.select(*_COLUMNS).where(_CLOSED_SINCE))
EVENTS = (sa.select(event.c.id, event.c.ticket_id, event.c.at, event.c.kind, event.c.data)
          .where(event.c.ticket_id.in_(sa.union_all(sa.select(_T.id).where(_OPEN_NOW),
                                                    sa.select(_T.id).where(_CLOSED_SINCE))),
                 event.c.kind.in_(sorted(core.EVENT_KINDS)))
          .order_by(event.c.ticket_id, event.c.id))
LOGGED = (sa.select(time_entry.c.agent, _T.customer, sa.func.sum(time_entry.c.minutes).label("minutes"))
          .join_from(time_entry, ticket, _T.id == time_entry.c.ticket_id)
          .where(time_entry.c.day >= sa.bindparam("b_first"), time_entry.c.day < sa.bindparam("b_after"))
          .group_by(time_entry.c.agent, _T.customer).order_by(time_entry.c.agent, _T.customer))


def history(conn: Connection, start: datetime, end: datetime) -> core.History:
    """The tickets that may matter to [start, end) (whole UTC days), their events of core.EVENT_KINDS, and the
    minutes logged on the days of the period per consultant and customer. Billing is left to the caller."""
    bounds = dict(b_start=start, b_end=end)
    tickets = tuple(_facts(r) for r in conn.execute(TICKETS, bounds))
    events = tuple(core.Event(ticket_id=r.ticket_id, at=r.at, kind=r.kind, data=r.data if isinstance(r.data, dict)
                              else {}, order=r.id) for r in conn.execute(EVENTS, bounds))
    logged = tuple(core.Logged(agent=r.agent, customer=r.customer, minutes=int(r.minutes or 0))
                   for r in conn.execute(LOGGED, dict(b_first=start.date(), b_after=end.date())))
    return core.History(tickets=tuple(sorted(tickets, key=lambda t: t.id)), events=events, logged=logged)


def _facts(r: Any) -> core.TicketFacts:
    return core.TicketFacts(
        id=r.id, created_at=r.created_at, status=Status(r.status),
        status_changed_at=r.status_changed_at or r.updated_at,
        level=r.level, type=RequestType(r.type), queue=r.queue, merged=r.merged_into is not None,
        first_response_at=r.first_response_at, resolved_at=r.resolved_at,
        response_breached_at=r.response_breached_at, resolution_breached_at=r.resolution_breached_at)
