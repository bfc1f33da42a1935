"""Store: tickets, participants, messages and events: writes of the worker, reads of the CLI."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, RowMapping

from mailgate.core.model import (
    Address,
    Due,
    EstimateView,
    NewTicket,
    Priority,
    RequestType,
    ServiceTarget,
    Status,
    TicketView,
)
from mailgate.core.outcome import EventSpec, TicketChange
from mailgate.store.columns import fit
from mailgate.store.driver_sql import Statement
from mailgate.store.later import Later
from mailgate.store.tables import estimate, event, message, participant, ticket

MAX_MERGE_HOPS = 20


def load_views(conn: Connection, ids: Iterable[int]) -> dict[int, TicketView]:
    """The named tickets and the tickets they were merged into, locked (FOR UPDATE on PostgreSQL)
    so that work on one ticket is serialised until the caller's transaction ends."""
    views: dict[int, TicketView] = {}
    wanted = {i for i in ids if i > 0}
    for _ in range(MAX_MERGE_HOPS):
        wanted -= views.keys()
        if not wanted:
            break
        rows = conn.execute(_VIEWS, dict(b_ids=sorted(wanted))).mappings().all()  # r["id"]: a tenth of a Row's r.id
        found = sorted(r["id"] for r in rows)
        people: dict[int, list[Address]] = {i: [] for i in found}
        estimates: dict[int, EstimateView] = {}
        if found:
            for ticket_id, email, name in conn.execute(_PEOPLE, dict(b_ids=found)):
                people[ticket_id].append(Address(email, name))
            for e in conn.execute(_ESTIMATES, dict(b_ids=found)):
                estimates[e.ticket_id] = EstimateView(e.id, cents_to_text(e.amount_cents), e.days, e.state)
        next_wanted: set[int] = set()
        for r in rows:
            cc = tuple(people[r["id"]])
            members = {a.email for a in cc} | {r["requester"]} | ({r["assignee"]} if r["assignee"] else set())
            views[r["id"]] = TicketView(
                r["id"], Status(r["status"]), frozenset(members), r["merged_into"], type=RequestType(r["type"]),
                level=r["level"], priority=Priority(r["priority"]), title=r["title"],
                requester=Address(r["requester"], r["requester_name"]), assignee=r["assignee"], locale=r["locale"],
                customer=r["customer"], resume_status=Status(r["resume_status"]) if r["resume_status"] else None,
                awaiting_mid=r["awaiting_mid"], awaiting_kind=r["awaiting_kind"], root_mid=r["root_mid"],
                last_customer_mid=r["last_customer_mid"], status_since=r["status_changed_at"] or r["updated_at"],
                estimate=estimates.get(r["id"]), cc=cc, targets=targets_of(r),
            )
            if r["merged_into"] is not None:
                next_wanted.add(r["merged_into"])
        wanted = next_wanted
    return views


def targets_of(r: RowMapping) -> tuple[ServiceTarget, ...]:
    """The response and resolution targets of a ticket row (its mapping)."""
    return (ServiceTarget(name="response", due=r["response_due"], met=r["first_response_at"],
                          told=r["response_breached_at"]),
            ServiceTarget(name="resolution", due=r["resolution_due"], met=r["resolved_at"],
                          told=r["resolution_breached_at"]))


_IDS: sa.BindParameter[list[int]] = sa.bindparam("b_ids", expanding=True)
_VIEWS = sa.select(ticket).where(ticket.c.id.in_(_IDS)).order_by(ticket.c.id).with_for_update()
_PEOPLE = (sa.select(participant.c.ticket_id, participant.c.email, participant.c.name)
           .where(participant.c.ticket_id.in_(_IDS)).order_by(participant.c.email))
_ESTIMATES = (sa.select(estimate).where(estimate.c.ticket_id.in_(_IDS), estimate.c.state != "superseded")
              .order_by(estimate.c.id))
_ANSWERED = (sa.update(ticket).where(ticket.c.id == sa.bindparam("b_id"), ticket.c.first_response_at.is_(None))
             .values(first_response_at=sa.bindparam("b_now")))


def cents_to_text(cents: int | None) -> str | None:
    return None if cents is None else str((Decimal(cents) / 100).quantize(Decimal("0.01")))


# Statements are built once: building and cache-keying them per mail cost more than running them.
_CREATE = Statement(sa.insert(ticket), returning=True)
_ADD_MESSAGES = Statement(sa.insert(message))
_ADD_EVENTS = Statement(sa.insert(event))
_ADD_PARTICIPANTS = Statement(sa.insert(participant))
_BY_ID = ticket.c.id == sa.bindparam("b_id")
_TOUCH = Statement(sa.update(ticket).where(_BY_ID).values(updated_at=sa.bindparam("b_now")))

NO_DUE = Due()


def create(conn: Connection, spec: NewTicket, now: datetime, due: Due = NO_DUE) -> int:
    """Insert a new ticket in status open; returns its number."""
    c = ticket.c
    values = dict(
        status=Status.OPEN.value, type=spec.type.value, level=spec.level, priority=spec.priority.value,
        title=fit(c.title, spec.title), requester=fit(c.requester, spec.requester.email),
        requester_name=fit(c.requester_name, spec.requester.name),
        locale=spec.locale, merged_into=None, created_at=now, updated_at=now,
        customer=spec.customer, status_changed_at=now, root_mid=fit(c.root_mid, spec.root_mid),
        last_customer_mid=fit(c.last_customer_mid, spec.root_mid), assignee=spec.assignee, queue=spec.queue,
        tags=list(spec.tags), dedupe_key=fit(c.dedupe_key, spec.dedupe_key),
        alert_count=1 if spec.dedupe_key else 0, response_due=due.response, resolution_due=due.resolution,
    )
    return _CREATE.new_id(conn, values)


def add_participants(
    conn: Connection, ticket_id: int, people: Iterable[Address], *, new_ticket: bool = False
) -> None:
    """Add Cc'd people not yet on the ticket (a ticket just created has nobody to look up)."""
    existing: set[str] = set() if new_ticket else set((conn.execute(
        sa.select(participant.c.email).where(participant.c.ticket_id == ticket_id)
    )).scalars())
    rows = []
    for person in people:
        if person.email in existing:
            continue
        existing.add(person.email)
        rows.append(dict(ticket_id=ticket_id, email=fit(participant.c.email, person.email),
                         name=fit(participant.c.name, person.name), role="cc"))
    if rows:
        _ADD_PARTICIPANTS.many(conn, rows)


def touch(conn: Connection, ticket_id: int, now: datetime) -> None:
    _TOUCH.run(conn, dict(b_id=ticket_id, b_now=now))


def update(conn: Connection, ticket_id: int, change: TicketChange, now: datetime) -> None:
    """Set the ticket columns the core decided on; a new status restarts the status clock."""
    values: dict[str, object] = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in change.values().items()}
    if values.get("status") in (Status.ANSWER_SENT.value, Status.CLOSED.value):
        values["resolved_at"] = now  # unless resolved before (_updating)
    if "status" in values:
        values["status_changed_at"] = now
        if values["status"] != Status.WAITING.value:
            values.setdefault("waiting_on", None)
    values["updated_at"] = now
    for key in ("awaiting_mid", "last_customer_mid"):
        if isinstance(values.get(key), str):
            values[key] = fit(ticket.c[key], str(values[key]))
    params = {f"b_{k}": v for k, v in values.items()} | dict(b_id=ticket_id, b_alert_repeats=change.alert_repeats)
    _updating(tuple(sorted(values)), bool(change.alert_repeats)).run(conn, params)


@functools.lru_cache(maxsize=512)  # one statement a set of columns (the core changes a few kinds of sets)
def _updating(columns: tuple[str, ...], repeats: bool) -> Statement:
    """The UPDATE of these columns from bound parameters (b_<column>), built once (built per mail with its values,
    its cache key was made each time). `resolved_at` keeps an earlier one; `repeats`: alert_count += b_alert_repeats."""
    values: dict[str, Any] = {c: sa.bindparam(f"b_{c}", type_=ticket.c[c].type) for c in columns}
    if "resolved_at" in values:
        values["resolved_at"] = sa.func.coalesce(ticket.c.resolved_at, values["resolved_at"])
    if repeats:  # an increment, not a value
        values["alert_count"] = ticket.c.alert_count + sa.bindparam("b_alert_repeats", type_=sa.Integer)
    return Statement(sa.update(ticket).where(_BY_ID).values(values))


def open_with_key(conn: Connection, key: str) -> int | None:
    """The newest ticket not closed (nor merged) that carries this alert dedupe key."""
    found = (conn.execute(
        sa.select(ticket.c.id).where(ticket.c.dedupe_key == fit(ticket.c.dedupe_key, key),
                                     ticket.c.status != Status.CLOSED.value, ticket.c.merged_into.is_(None))
        .order_by(ticket.c.id.desc()).limit(1)
    )).scalar()
    return None if found is None else int(found)


def answered(conn: Connection, ticket_id: int, now: datetime) -> None:
    """The customer got a consultant's answer: the response target is met from the first one."""
    conn.execute(_ANSWERED, dict(b_id=ticket_id, b_now=now))


def add_messages(conn: Connection, rows: list[dict[str, Any]], later: Later | None = None) -> None:
    """Record messages on tickets: one statement for all the messages of one change (or of a batch: `later`)."""
    fitted = [dict(r, from_addr=fit(message.c.from_addr, r["from_addr"]),
                   message_id=fit(message.c.message_id, r["message_id"])) for r in rows]
    if later is not None:
        later.add(_ADD_MESSAGES, fitted)
    elif fitted:
        _ADD_MESSAGES.many(conn, fitted)


def add_events(
    conn: Connection, ticket_id: int, events: Iterable[EventSpec], now: datetime,
    inbound_id: int | None, later: Later | None = None,
) -> None:
    rows = [dict(ticket_id=ticket_id, at=now, kind=e.kind, data=dict(e.data), inbound_id=inbound_id)
            for e in events]
    if later is not None:
        later.add(_ADD_EVENTS, rows)
    elif rows:
        _ADD_EVENTS.many(conn, rows)


def title_of(conn: Connection, ticket_id: int) -> str:
    return str((conn.execute(sa.select(ticket.c.title).where(ticket.c.id == ticket_id))).scalar_one())


def list_all(conn: Connection, *, status: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    stmt = sa.select(ticket).order_by(ticket.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(ticket.c.status == status)
    return [_ticket_dict(r._mapping) for r in conn.execute(stmt)]


def counts(conn: Connection) -> dict[str, int]:
    """Tickets per status code (merged ones included: a merge closes them)."""
    return {status: n for status, n in conn.execute(
        sa.select(ticket.c.status, sa.func.count()).group_by(ticket.c.status))}


def detail(conn: Connection, ticket_id: int) -> dict[str, Any] | None:
    row = (conn.execute(sa.select(ticket).where(ticket.c.id == ticket_id))).first()
    if row is None:
        return None
    result = _ticket_dict(row._mapping)
    result["participants"] = [dict(email=result["requester"], name=result["requester_name"], role="requester")]
    result["participants"] += [
        dict(email=p.email, name=p.name, role=p.role)
        for p in conn.execute(
            sa.select(participant).where(participant.c.ticket_id == ticket_id).order_by(participant.c.email))
    ]
    result["messages"] = [
        dict(id=m.id, direction=m.direction, at=m.created_at.isoformat(), **{"from": m.from_addr},
             to=m.to_addrs, cc=m.cc_addrs, subject=m.subject, message_id=m.message_id, body=m.body,
             text=m.text if m.text is not None else m.body,
             inbound_id=m.inbound_id, outbox_id=m.outbox_id)
        for m in conn.execute(
            sa.select(message).where(message.c.ticket_id == ticket_id).order_by(message.c.id))
    ]
    result["events"] = [
        dict(id=e.id, at=e.at.isoformat(), kind=e.kind, data=e.data, inbound_id=e.inbound_id)
        for e in conn.execute(
            sa.select(event).where(event.c.ticket_id == ticket_id).order_by(event.c.id))
    ]
    return result


def awaiting_confirmation(conn: Connection, limit: int) -> list[int]:
    """Tickets in Réponse envoyée, the longest waiting first: candidates for auto-close."""
    return list((conn.execute(
        sa.select(ticket.c.id).where(ticket.c.status == Status.ANSWER_SENT.value)
        .order_by(ticket.c.status_changed_at).limit(limit)
    )).scalars())


def breach_candidates(conn: Connection, now: datetime, limit: int) -> list[int]:
    """Open tickets with an unmet target due by `now` that the supervisors were not told of: a cheap
    prefilter; `ServiceTarget.to_tell` decides on the locked ticket."""
    c = ticket.c
    response = sa.and_(c.first_response_at.is_(None), c.response_due <= now, c.response_breached_at.is_(None))
    resolution = sa.and_(c.resolved_at.is_(None), c.resolution_due <= now, c.resolution_breached_at.is_(None))
    return list((conn.execute(
        sa.select(c.id).where(c.status != Status.CLOSED.value, c.merged_into.is_(None), sa.or_(response, resolution))
        .order_by(c.id).limit(limit)
    )).scalars())


OPEN_STATUSES = tuple(s.value for s in Status if s is not Status.CLOSED)


def open_work(conn: Connection, *, level: int | None = None, agent: str | None = None) -> list[Any]:
    """Open tickets (not closed, not merged), for `mailgate queue`: rows with every column (`status IN`: the
    status index skips the closed tickets, most of a desk's)."""
    stmt = sa.select(ticket).where(ticket.c.status.in_(OPEN_STATUSES), ticket.c.merged_into.is_(None))
    if level is not None:
        stmt = stmt.where(ticket.c.level == level)
    if agent is not None:
        stmt = stmt.where(ticket.c.assignee == agent.strip().lower())
    return list(conn.execute(stmt))


def _ticket_dict(r: Any) -> dict[str, Any]:
    return dict(
        id=r["id"], status=r["status"], status_label=Status(r["status"]).label, type=r["type"],
        level=r["level"], priority=r["priority"], title=r["title"], requester=r["requester"],
        requester_name=r["requester_name"], assignee=r["assignee"], locale=r["locale"],
        merged_into=r["merged_into"], created_at=r["created_at"].isoformat(),
        updated_at=r["updated_at"].isoformat(), level_label=f"N{r['level']}", customer=r["customer"],
        status_changed_at=(r["status_changed_at"] or r["updated_at"]).isoformat(),
        waiting_on=r["waiting_on"], resume_status=r["resume_status"], awaiting=r["awaiting_kind"],
        queue=r["queue"], tags=r["tags"] or [], dedupe_key=r["dedupe_key"], alert_count=r["alert_count"],
        sla={k: (r[k].isoformat() if r[k] else None) for k in (
            "response_due", "first_response_at", "response_breached_at", "resolution_due", "resolved_at",
            "resolution_breached_at")},
    )
