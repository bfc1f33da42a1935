"""Store, the second step of the per-mail path: what the core needs to decide on a prepared mail, read inside
its transaction: the tickets it names (locked), our mails it answers, the open alert ticket, for the
people who may get mail their bounce flags and the hour's automatic-mail counts, and, only for a mail whose
first line asks for a list (`statut`, `file`), the sender's open tickets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.model import Priority, Status, TicketLine, TicketView
from mailgate.core.prepare import Prepared
from mailgate.core.workflow import lookups
from mailgate.core.workflow.authn import SentMail
from mailgate.store import flags, outbox, tickets
from mailgate.store.columns import fit
from mailgate.store.tables import ticket

HOUR = timedelta(hours=1)


def load(conn: Connection, p: Prepared, desk: Desk, now: datetime) -> Snapshot:
    key = p.decision.dedupe_key if p.decision is not None else None
    alert = tickets.open_with_key(conn, key) if key else None
    views = tickets.load_views(conn, (*p.wanted, *((alert,) if alert else ())))
    people = {p.sender_email, *(a.email for a in (*p.mail.to, *p.mail.cc))}
    known = _with_people(conn, views, people, desk, now, sent=outbox.sent_mails(conn, p.refs.signed_ids),
                         alert=alert)
    if p.asks is None or not p.sender_email:  # every other mail: no extra statement
        return known
    if p.asks == lookups.QUEUE:
        return replace(known, sender_queue=open_lines(conn, assignee=p.sender_email))
    return replace(known, sender_tickets=open_lines(conn, requester=p.sender_email))


def for_ticket(conn: Connection, ticket_id: int, desk: Desk, now: datetime) -> Snapshot:
    """For the sweeper: one ticket (locked), and its people's flags and counts."""
    return _with_people(conn, tickets.load_views(conn, [ticket_id]), set(), desk, now)


def _with_people(conn: Connection, views: dict[int, TicketView], people: set[str], desk: Desk, now: datetime, *,
                 sent: Mapping[str, SentMail] | None = None, alert: int | None = None) -> Snapshot:
    for view in views.values():
        people |= set(_people(view))
    people -= desk.agent_emails | desk.support_addresses | {""}
    since = now - HOUR
    on_tickets, to_consultants = flags.recent_on(conn, set(views), since, desk.agent_emails)
    to_people, acks_to = flags.recent_to(conn, people, since)
    return Snapshot(tickets=views, sent=sent or {}, alert_ticket=alert, flags=flags.flagged(conn, people, now),
                    recent_to=to_people, recent_acks_to=acks_to, recent_on=on_tickets,
                    recent_to_consultant=to_consultants)


def _people(view: TicketView) -> Iterable[str]:
    if view.requester is not None:
        yield view.requester.email
    yield from (a.email for a in view.cc)


def open_lines(conn: Connection, *, requester: str | None = None, assignee: str | None = None,
               limit: int = 500) -> tuple[TicketLine, ...]:
    """The open tickets (not closed, not merged) one person requested, or assigned to one consultant, as the
    lists by mail show them (core/workflow/lookups.py), in ticket order: one statement, through the status
    index; run only for a mail that asks for such a list."""
    c = ticket.c
    stmt = _LINES
    if requester is not None:
        stmt = stmt.where(c.requester == fit(c.requester, requester.strip().lower()))
    if assignee is not None:
        stmt = stmt.where(c.assignee == fit(c.assignee, assignee.strip().lower()))
    return tuple(TicketLine(id=r.id, title=r.title, status=Status(r.status), priority=Priority(r.priority),
                            level=r.level, since=r.status_changed_at or r.updated_at)
                 for r in conn.execute(stmt.limit(limit)))


_LINES = (sa.select(ticket.c.id, ticket.c.title, ticket.c.status, ticket.c.priority, ticket.c.level,
                    ticket.c.status_changed_at, ticket.c.updated_at)
          .where(ticket.c.status.in_(tickets.OPEN_STATUSES), ticket.c.merged_into.is_(None)).order_by(ticket.c.id))
