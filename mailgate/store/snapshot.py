"""Store, the second step of the per-mail path: what the core needs to decide on a prepared mail, read inside
its transaction: the tickets it names (locked), our mails it answers, the open alert ticket, for the
people who may get mail their bounce flags and the hour's automatic-mail counts (people and tickets read for
a whole batch at once: Batch), and, only for a mail whose first line asks for a list (`statut`, `file`), the
sender's open tickets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.desk import Desk, Flag, Snapshot
from mailgate.core.model import Priority, Status, TicketLine, TicketView
from mailgate.core.outcome import Outcome
from mailgate.core.prepare import Prepared
from mailgate.core.workflow import lookups
from mailgate.core.workflow.authn import SentMail
from mailgate.store import flags, outbox, tickets
from mailgate.store.columns import fit
from mailgate.store.tables import ticket

HOUR = timedelta(hours=1)


class People:
    """A batch's reads of its people's bounce flags and automatic-mail counts of the hour: one statement each
    for every person of the batch's mails at its start (`read_all`), then only for a person no read covers yet
    (someone on a ticket a reply names) or again for one the batch has since mailed or flagged (`changed`), so
    that each mail sees what the mails before it in the batch wrote."""

    def __init__(self, desk: Desk, now: datetime) -> None:
        self.desk, self.now = desk, now
        self._read: set[str] = set()
        self._flags: dict[str, Flag] = {}
        self._others: dict[str, int] = {}
        self._acks: dict[str, int] = {}

    def read_all(self, conn: Connection, mails: Iterable[Prepared]) -> None:
        self._ensure(conn, {e for p in mails for e in (p.sender_email, *(a.email for a in (*p.mail.to, *p.mail.cc)))})

    def of(self, conn: Connection, emails: set[str]) -> tuple[dict[str, Flag], dict[str, int], dict[str, int]]:
        """(flags, automatic mails but acknowledgements, acknowledgements) of these people."""
        wanted = self._ensure(conn, emails)
        return ({e: f for e in wanted if (f := self._flags.get(e))},
                {e: n for e in wanted if (n := self._others.get(e))},
                {e: n for e in wanted if (n := self._acks.get(e))})

    def changed(self, outcome: Outcome) -> None:
        """The people a mail's outcome mails or flags: read again when a later mail of the batch needs them."""
        self._read.difference_update([e.lower() for e in outcome.flag_addresses])
        self._read.difference_update(a.email for d in (*outcome.outgoing, *outcome.replies) for a in (d.to, *d.cc))

    def _ensure(self, conn: Connection, emails: set[str]) -> set[str]:
        wanted = {e for e in emails if e} - self.desk.agent_emails - self.desk.support_addresses
        missing = wanted - self._read
        if missing:
            for known in (self._flags, self._others, self._acks):
                for e in missing:
                    known.pop(e, None)
            self._flags.update(flags.flagged(conn, missing, self.now))
            others, acks = flags.recent_to(conn, missing, self.now - HOUR)
            self._others.update(others)
            self._acks.update(acks)
            self._read |= missing
        return wanted


class Tickets:
    """A batch's reads of the tickets its mails name (locked; with their people, estimates and the hour's
    automatic mails on them): one round for every ticket the batch's mails name, at its start (`read_all`),
    then only for a ticket no read covers (one a mail of the batch opened) or again for one an earlier mail of
    the batch may have changed (`changed`): a reply cost four statements of its own."""

    def __init__(self, desk: Desk, now: datetime) -> None:
        self.desk, self.since = desk, now - HOUR
        self._views: dict[int, TicketView] = {}
        self._on: dict[int, int] = {}
        self._to_consultants: dict[tuple[int, str], int] = {}
        self._fresh: set[int] = set()  # read, and not changed by the batch since

    def read_all(self, conn: Connection, mails: Iterable[Prepared]) -> None:
        self._read(conn, {i for p in mails for i in p.wanted if i > 0})

    def views(self, conn: Connection, ids: Iterable[int]) -> dict[int, TicketView]:
        """What `tickets.load_views(ids)` gives now (the tickets, then those they were merged into)."""
        wanted, found = {i for i in ids if i > 0}, dict[int, TicketView]()
        for _ in range(tickets.MAX_MERGE_HOPS):
            wanted -= found.keys()
            if not wanted:
                break
            self._read(conn, wanted - self._fresh)
            hop = sorted(i for i in wanted if i in self._fresh)
            found.update((i, self._views[i]) for i in hop)
            wanted = {m for i in hop if (m := self._views[i].merged_into) is not None}
        return found

    def recent_on(self, ids: set[int]) -> tuple[dict[int, int], dict[tuple[int, str], int]]:
        """`flags.recent_on` of these tickets, all read by `views`."""
        return ({i: n for i, n in self._on.items() if i in ids},
                {k: n for k, n in self._to_consultants.items() if k[0] in ids})

    def changed(self, ids: Iterable[int]) -> None:
        self._fresh.difference_update(ids)

    def _read(self, conn: Connection, ids: set[int]) -> None:
        if not ids:
            return
        views = tickets.load_views(conn, ids)
        on, to_consultants = flags.recent_on(conn, set(views), self.since, self.desk.agent_emails)
        for i in views:
            self._on.pop(i, None)
        self._to_consultants = {k: n for k, n in self._to_consultants.items() if k[0] not in views}
        self._views.update(views)
        self._on.update(on)
        self._to_consultants.update(to_consultants)
        self._fresh |= views.keys()


class Batch:
    """What a batch's transaction reads once for all its mails: their people (`People`) and tickets (`Tickets`)."""

    def __init__(self, desk: Desk, now: datetime) -> None:
        self.people, self.tickets = People(desk, now), Tickets(desk, now)

    def read_all(self, conn: Connection, mails: list[Prepared]) -> None:
        self.people.read_all(conn, mails)
        self.tickets.read_all(conn, mails)

    def changed(self, outcome: Outcome, known: Snapshot) -> None:
        """A mail's outcome: the people it mails or flags and the tickets it may write are read again."""
        self.people.changed(outcome)
        self.tickets.changed({*known.tickets, *(i for i in (outcome.ticket_id, outcome.merge_into) if i)})


def load(conn: Connection, p: Prepared, desk: Desk, now: datetime, batch: Batch | None = None) -> Snapshot:
    key = p.decision.dedupe_key if p.decision is not None else None
    alert = tickets.open_with_key(conn, key) if key else None
    batch = batch or Batch(desk, now)
    views = batch.tickets.views(conn, (*p.wanted, *((alert,) if alert else ())))
    known = _with_people(conn, views, {p.sender_email, *(a.email for a in (*p.mail.to, *p.mail.cc))},
                         batch.people, sent=outbox.sent_mails(conn, p.refs.signed_ids), alert=alert,
                         recent=batch.tickets.recent_on(set(views)))
    if p.asks is None or not p.sender_email:  # every other mail: no extra statement
        return known
    if p.asks == lookups.QUEUE:
        return replace(known, sender_queue=open_lines(conn, assignee=p.sender_email))
    return replace(known, sender_tickets=open_lines(conn, requester=p.sender_email))


def for_ticket(conn: Connection, ticket_id: int, desk: Desk, now: datetime) -> Snapshot:
    """For the sweeper: one ticket (locked), and its people's flags and counts."""
    views = tickets.load_views(conn, [ticket_id])
    return _with_people(conn, views, set(), People(desk, now),
                        recent=flags.recent_on(conn, set(views), now - HOUR, desk.agent_emails))


def _with_people(conn: Connection, views: dict[int, TicketView], emails: set[str], people: People, *,
                 recent: tuple[dict[int, int], dict[tuple[int, str], int]], sent: Mapping[str, SentMail] | None = None,
                 alert: int | None = None) -> Snapshot:
    for view in views.values():
        emails |= set(_people(view))
    on_tickets, to_consultants = recent
    flagged, to_people, acks_to = people.of(conn, emails)
    return Snapshot(tickets=views, sent=sent or {}, alert_ticket=alert, flags=flagged, recent_to=to_people,
                    recent_acks_to=acks_to, recent_on=on_tickets, recent_to_consultant=to_consultants)


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
