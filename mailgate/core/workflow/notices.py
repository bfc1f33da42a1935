"""Core: the one short automatic notice a requester gets when a consultant's mail moves their ticket (taken,
escalated, waiting on them, closed) and sends them nothing else; several changes in one mail give one notice,
of the state the mail leaves the ticket in. Which changes count is the desk's [notify] requester_on.
docs/workflow.md, "Status notices to the requester"."""

from __future__ import annotations

from dataclasses import replace

from mailgate.core.model import Agent, Status, TicketView
from mailgate.core.outcome import EventSpec, MailKind
from mailgate.core.workflow import drafts, messages
from mailgate.core.workflow.work import AgentContext, Work

TAKEN, ESCALATED, WAITING, CLOSED = "taken", "escalated", "waiting", "closed"
KINDS = (TAKEN, ESCALATED, WAITING, CLOSED)  # the values [notify] requester_on accepts


def kind_of(before: TicketView, work: Work) -> str | None:
    """Which notice the final state of the work calls for, or None: the last state wins (taken then closed
    says closed; taken then waiting on the customer says waiting)."""
    after = work.view
    if after.status is Status.CLOSED and Status.CLOSED in work.moves and work.merge_into is None:
        return CLOSED  # a merge tells the requester by its own mail
    if after.status is Status.WAITING and Status.WAITING in work.moves and work.change.waiting_on == "customer":
        return WAITING
    if after.level > before.level:
        return ESCALATED
    if Status.TAKEN in work.moves:
        return TAKEN
    return None


def for_requester(before: TicketView, work: Work, agent: Agent, ctx: AgentContext) -> None:
    """Add the requester's notice and its `status_notice` event to the work, when the mail calls for one."""
    kind = kind_of(before, work)
    after = work.view
    requester = after.requester
    if kind is None or requester is None or requester.email == agent.email:
        return
    if any(not d.kind.to_consultants for d in work.outgoing):
        return  # a relay, an estimate, a resolution, a merge notice: the customer already hears from this mail
    if kind not in ctx.notify:
        return  # off in [notify] requester_on
    by = _first_name(ctx.agents.get(after.assignee)) if after.assignee else ""
    if not by and kind in (CLOSED, WAITING):
        by = _first_name(agent)
    draft = drafts.to_customer(after, MailKind.STATUS_NOTICE, automatic=True, values={
        "notice": kind, "state": messages.status_label(after.status, after.locale), "by": by,
        "expects_answer": kind == WAITING, "level": after.level})
    work.outgoing.append(replace(draft, cc=()))  # the requester alone: the Cc'd people need no notice
    work.events.append(EventSpec("status_notice", {"notice": kind, "status": after.status.value,
                                                   "to": requester.email}))


def _first_name(agent: Agent | None) -> str:
    """A consultant as the customer reads them: the first name only (never the address)."""
    words = agent.name.split() if agent is not None else []
    return words[0] if words else ""
