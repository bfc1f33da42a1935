"""Shell: a core Outcome -> rows in the caller's transaction: ticket, changes, time, estimate, merge,
events, messages and the outgoing mail (rendered, signed, queued)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.core.model import Due, EventSpec, Outcome, Status, TicketView
from mailgate.core.workflow import drafts
from mailgate.outbound import limits
from mailgate.outbound.queue import Outgoing
from mailgate.store import estimates, flags, imputation, tickets

ANSWERS = frozenset({"relay", "resolution", "estimate_request"})  # a consultant's answer to the customer


@dataclass(frozen=True, slots=True)
class Inbound:
    """The inbound mail the outcome comes from, as recorded on the ticket (None for the sweeper)."""

    id: int
    message: dict[str, Any]  # the message row, without ticket_id


async def apply(conn: AsyncConnection, outgoing: Outgoing, outcome: Outcome, *, now: datetime,
                views: dict[int, TicketView], inbound: Inbound | None,
                due: Due = tickets.NO_DUE, agents: frozenset[str] = frozenset()) -> tuple[int, int]:
    """Write everything the outcome says; returns (ticket number, mails queued)."""
    view: TicketView | None = None
    if outcome.new_ticket is not None:
        ticket_id = await tickets.create(conn, outcome.new_ticket, now, due)
        title = outcome.new_ticket.title
        if outcome.add_participants:
            await tickets.add_participants(conn, ticket_id, outcome.add_participants, new_ticket=True)
        facts: dict[str, object] = {
            "status": Status.OPEN.label, "level": f"N{outcome.new_ticket.level}",
            "type": outcome.new_ticket.type.value, "priority": outcome.new_ticket.priority.value,
            "assignee": None, "requester": _person(outcome.new_ticket.requester),
            "customer": outcome.new_ticket.customer,
        }
    else:
        assert outcome.ticket_id is not None
        ticket_id = outcome.ticket_id
        view = views.get(ticket_id)
        if outcome.changes:
            await tickets.update(conn, ticket_id, dict(outcome.changes), now)
        else:
            await tickets.touch(conn, ticket_id, now)
        title = view.title if view is not None else await tickets.title_of(conn, ticket_id)
        if outcome.add_participants:
            await tickets.add_participants(conn, ticket_id, outcome.add_participants)
        facts = _facts(view, outcome.changes) if view is not None else {}
    inbound_id = inbound.id if inbound is not None else None
    if outcome.open_task or outcome.time_entries:
        task_id = await imputation.ensure_task(conn, ticket_id, title, now.date(), now)
        await imputation.log_time(conn, ticket_id, task_id, outcome.time_entries, now.date(), inbound_id)
    if outcome.estimate is not None:
        await estimates.apply(conn, ticket_id, outcome.estimate, now)
    if outcome.merge_into is not None:
        await _merge(conn, ticket_id, outcome.merge_into, view, now, inbound_id)

    messages = [] if inbound is None else [dict(inbound.message, ticket_id=ticket_id)]
    events = list(outcome.events)
    queued_count = 0
    for proposed in outcome.outgoing:
        draft, left_out = drafts.deliverable(proposed)
        events.extend(left_out)
        if draft is None:
            continue
        why_not = await limits.suppressed(conn, draft, ticket_id, now, outgoing.settings.hygiene, agents)
        if why_not is not None:
            events.append(EventSpec("mail_suppressed", {"kind": draft.kind, "to": draft.to.email, "why": why_not}))
            continue
        draft, dropped = await limits.drop_flagged_cc(conn, draft, now)
        events.extend(dropped)
        queued_count += 1
        queued = await outgoing.queue(conn, ticket_id=ticket_id, title=title, draft=draft, now=now, ticket=facts)
        events.append(queued.event)
        messages.append(queued.message)
        if draft.kind in ANSWERS:
            await tickets.answered(conn, ticket_id, now)
        if draft.awaits is not None:
            await tickets.update(conn, ticket_id, {"awaiting_mid": queued.message_id,
                                                   "awaiting_kind": draft.awaits}, now)
    await tickets.add_messages(conn, messages)
    await tickets.add_events(conn, ticket_id, events, now, inbound_id)
    if outcome.flag_addresses:
        await flags.flag(conn, outcome.flag_addresses, f"permanent bounce on ticket #{ticket_id}", now,
                           outgoing.settings.hygiene.bounce_quarantine_days)
    return ticket_id, queued_count


async def _merge(conn: AsyncConnection, source: int, target: int, view: TicketView | None, now: datetime,
                 inbound_id: int | None) -> None:
    """The merged ticket's people join the target, which records where they came from."""
    if view is not None and view.requester is not None:
        await tickets.add_participants(conn, target, (view.requester, *view.cc))
    await tickets.add_events(conn, target, [EventSpec("merged_from", {"ticket": source})], now, inbound_id)


def _facts(view: TicketView, changes: dict[str, object]) -> dict[str, object]:
    """What templates may say of the ticket, after the changes."""
    status = changes.get("status", view.status)
    level = changes.get("level", view.level)
    return {
        "status": Status(str(status)).label, "level": f"N{level}", "type": str(changes.get("type", view.type)),
        "priority": str(changes.get("priority", view.priority)),
        "assignee": changes.get("assignee", view.assignee), "customer": view.customer,
        "requester": _person(view.requester) if view.requester else {"name": "", "email": ""},
    }


def _person(address: Any) -> dict[str, str]:
    return {"name": address.name, "email": address.email}
