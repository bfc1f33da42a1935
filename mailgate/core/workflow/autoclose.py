"""Core: a ticket left in Réponse envoyée without an answer for auto_close_days is closed, with a notice."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailgate.core.model import Status, TicketView
from mailgate.core.outcome import Disposition, EventSpec, MailKind, Outcome, TicketChange, ignored
from mailgate.core.workflow import drafts, messages
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.transitions import Action


def due(view: TicketView, now: datetime, days: float) -> bool:
    """Whether the ticket has waited for the customer's confirmation long enough."""
    return (view.status is Status.ANSWER_SENT and view.merged_into is None and view.status_since is not None
            and now - view.status_since >= timedelta(days=days))


def close(view: TicketView, days: float) -> Outcome:
    """Close it and tell the customer; the outcome is empty when the table refuses (it no longer waits)."""
    step = workflow.move(view.status, Action.AUTO_CLOSE, view.type)
    if step.refused is not None:
        return ignored(messages.text(step.refused, "en"))
    shown = int(days) if float(days).is_integer() else days
    notice = drafts.to_customer(view, MailKind.AUTO_CLOSED, automatic=True, values={"days": shown})
    return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id,
                   events=(EventSpec("auto_closed", {"after_days": days}),), outgoing=(notice,),
                   change=TicketChange(status=Status.CLOSED, awaiting_mid=None, awaiting_kind=None))
