"""Core: the rule engine's decision applied to a new mail: ignore or quarantine it, fold a repeated
alert into its open ticket, or shape the new ticket (type, level, priority, queue, assignee...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mailgate.core.model import Agent, NewTicket, Status, TicketView
from mailgate.core.outcome import Disposition, EventSpec, Outcome, TicketChange, ignored
from mailgate.core.rules.engine import Decision
from mailgate.core.workflow import drafts
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.transitions import Action


def rules_event(decision: Decision) -> EventSpec:
    """The hits and misses, stored on the ticket (misses by name: `rules explain` gives their reasons)."""
    return EventSpec("rules", decision.as_json(misses="names"))


def held(decision: Decision) -> Outcome | None:
    """Mail a rule keeps out of the tickets: stored, not processed further."""
    rule = ", ".join(decision.set_by.get("quarantine", ())) or ", ".join(decision.set_by.get("ignore", ()))
    if decision.quarantine:
        return ignored(f"quarantined by rule {rule}", Disposition.QUARANTINED)
    if decision.ignore:
        return ignored(f"ignored by rule {rule}")
    return None


def alert(decision: Decision, open_ticket: TicketView | None, sender: str) -> Outcome | None:
    """A mail with a dedupe key while a ticket with that key is open: appended with a counter, or noted as
    the recovery (which may close it, by rule). None: an ordinary new ticket (the first alert)."""
    key = decision.dedupe_key
    if key is None:
        return None
    if open_ticket is None:
        if decision.recovery:
            return ignored(f"recovery for {key!r} with no open ticket")
        return None
    event = rules_event(decision)
    if not decision.recovery:
        return Outcome(disposition=Disposition.APPENDED, ticket_id=open_ticket.id, events=(
            EventSpec("alert_repeated", {"key": key, "from": sender}), event), change=TicketChange(alert_repeats=1))
    events = [EventSpec("alert_recovered", {"key": key, "from": sender}), event]
    change = TicketChange()
    if decision.resolve:
        step = workflow.move(open_ticket.status, Action.CLOSE, open_ticket.type)
        if step.ok:
            change = TicketChange(status=Status.CLOSED, dedupe_key=None)
            events.append(EventSpec("closed", {"by": "rule", "why": "recovery alert"}))
    return Outcome(disposition=Disposition.APPENDED, ticket_id=open_ticket.id, events=tuple(events), change=change)


def shape(ticket: NewTicket, decision: Decision) -> NewTicket:
    """The new ticket with what the rules set."""
    return replace(
        ticket,
        type=decision.type or ticket.type,
        level=decision.level or ticket.level,
        priority=decision.priority or ticket.priority,
        customer=decision.customer or ticket.customer,
        assignee=decision.assignee,
        queue=decision.queue,
        tags=decision.tags,
        dedupe_key=decision.dedupe_key,
    )


def notified(ticket: NewTicket, agents: Mapping[str, Agent],
             queues: Mapping[str, tuple[str, ...]]) -> tuple[Agent, ...]:
    """Who hears of a new ticket: its assignee, else its queue's agents, else the agents of its level."""
    if ticket.assignee and ticket.assignee in agents:
        return (agents[ticket.assignee],)
    if ticket.queue and ticket.queue in queues:
        return tuple(agents[e] for e in queues[ticket.queue] if e in agents)
    return drafts.level_agents(agents, ticket.level)
