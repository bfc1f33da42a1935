"""Shell, the last step of the per-mail path: an Outcome -> rows, in the caller's transaction (inserts and
updates only; every decision is the core's): the ticket and its change, time, estimate, merge, events,
messages, attachments, flagged addresses, and the outgoing mails rendered, signed and queued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from mailgate.core.kb.model import SEARCHABLE, ArticleState, DocKind
from mailgate.core.model import Status, TicketView
from mailgate.core.outcome import EventSpec, Outcome, TicketChange
from mailgate.core.workflow import drafts
from mailgate.outbound.queue import Outgoing
from mailgate.store import attachments, estimates, flags, imputation, kb, kb_articles, tickets
from mailgate.store.later import Later


@dataclass(frozen=True, slots=True)
class Inbound:
    """The inbound mail the outcome comes from, as recorded on the ticket (None for the sweeper)."""

    id: int
    message: dict[str, Any]  # the message row, without ticket_id


def write(conn: Connection, outgoing: Outgoing, outcome: Outcome, *, now: datetime, views: dict[int, TicketView],
          inbound: Inbound | None, later: Later | None = None) -> tuple[int, int]:
    """Write everything the outcome says (the messages and events with `later`, when given); returns (ticket
    number, mails queued)."""
    settings = outgoing.settings
    if outcome.new_ticket is not None:
        ticket_id = tickets.create(conn, outcome.new_ticket, now, outcome.due)
        if outcome.add_participants:
            tickets.add_participants(conn, ticket_id, outcome.add_participants, new_ticket=True)
        view = drafts.new_view(ticket_id, outcome.new_ticket)
        was = view.status
    else:
        assert outcome.ticket_id is not None
        ticket_id = outcome.ticket_id
        if outcome.change:
            tickets.update(conn, ticket_id, outcome.change, now)
        else:
            tickets.touch(conn, ticket_id, now)
        if outcome.add_participants:
            tickets.add_participants(conn, ticket_id, outcome.add_participants)
        before = views.get(ticket_id) or tickets.load_views(conn, [ticket_id])[ticket_id]
        view = drafts.after(before, outcome.change)
        was = before.status
    inbound_id = inbound.id if inbound is not None else None
    if outcome.open_task or outcome.time_entries:
        task_id = imputation.ensure_task(conn, ticket_id, view.title, now.date(), now)
        imputation.log_time(conn, ticket_id, task_id, outcome.time_entries, now.date(), inbound_id)
    if outcome.estimate is not None:
        estimates.apply(conn, ticket_id, outcome.estimate, now)
    if outcome.merge_into is not None:
        _merge(conn, ticket_id, outcome.merge_into, views.get(ticket_id), now, inbound_id)

    messages = [] if inbound is None else [dict(inbound.message, ticket_id=ticket_id)]
    events = list(outcome.events)
    for draft in outcome.outgoing:
        queued = outgoing.queue(conn, view=view, draft=draft, now=now)
        events.append(queued.event)
        messages.append(queued.message)
        if draft.kind.answers_customer:
            tickets.answered(conn, ticket_id, now)
        if draft.awaits is not None:
            tickets.update(conn, ticket_id, TicketChange(awaiting_mid=queued.message_id, awaiting_kind=draft.awaits),
                           now)
    tickets.add_messages(conn, messages, later)
    if outcome.attachments and inbound_id is not None:
        attachments.store(conn, outcome.attachments, ticket_id=ticket_id, inbound_id=inbound_id, settings=settings)
    tickets.add_events(conn, ticket_id, events, now, inbound_id, later)
    if outcome.flag_addresses:
        flags.flag(conn, outcome.flag_addresses, f"permanent bounce on ticket #{ticket_id}", now,
                   settings.hygiene.bounce_quarantine_days)
    if settings.kb.enabled:
        _knowledge(conn, ticket_id, outcome, was, view, [a.email for a in settings.agents], now, later)
    return ticket_id, len(outcome.outgoing)


def _knowledge(conn: Connection, ticket_id: int, outcome: Outcome, was: Status, view: TicketView, agents: list[str],
               now: datetime, later: Later | None) -> None:
    """The ticket indexed when this mail answers or closes it (its messages written first: the index reads
    them), taken out of the index when it leaves those statuses (reopened, merged); the `kb` command's
    article written. Any other mail costs nothing here."""
    searchable = view.status in SEARCHABLE and view.merged_into is None and outcome.merge_into is None
    article = outcome.article
    if article is not None or (searchable and isinstance(outcome.change.status, Status)):
        if later is not None:
            later.flush(conn)  # the batch's messages so far, this mail's included
        kb.index_ticket(conn, ticket_id, agents, now)
    elif was in SEARCHABLE and not searchable:
        kb.drop(conn, DocKind.TICKET, ticket_id)
    if article is None:
        return
    number = kb_articles.latest_of_ticket(conn, ticket_id) if article.publish else None
    if article.publish and number is not None:
        kb_articles.set_state(conn, number, ArticleState.PUBLISHED, by=article.by, now=now)
    else:
        kb_articles.draft_from_ticket(conn, ticket_id, title=article.title, by=article.by, agents=agents, now=now)


def _merge(conn: Connection, source: int, target: int, view: TicketView | None, now: datetime,
           inbound_id: int | None) -> None:
    """The merged ticket's people join the target, which records where they came from."""
    if view is not None and view.requester is not None:
        tickets.add_participants(conn, target, (view.requester, *view.cc))
    tickets.add_events(conn, target, [EventSpec("merged_from", {"ticket": source})], now, inbound_id)
