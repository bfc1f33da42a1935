"""Store, the second step of the per-mail path: what the core needs to decide on a prepared mail, read inside
its transaction: the tickets it names (locked), our mails it answers, the open alert ticket, and for the
people who may get mail, their bounce flags and the hour's automatic-mail counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.model import TicketView
from mailgate.core.prepare import Prepared
from mailgate.core.workflow.authn import SentMail
from mailgate.store import flags, outbox, tickets

HOUR = timedelta(hours=1)


def load(conn: Connection, p: Prepared, desk: Desk, now: datetime) -> Snapshot:
    key = p.decision.dedupe_key if p.decision is not None else None
    alert = tickets.open_with_key(conn, key) if key else None
    views = tickets.load_views(conn, (*p.wanted, *((alert,) if alert else ())))
    people = {p.sender_email, *(a.email for a in (*p.mail.to, *p.mail.cc))}
    return _with_people(conn, views, people, desk, now, sent=outbox.sent_mails(conn, p.refs.signed_ids),
                        alert=alert)


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
