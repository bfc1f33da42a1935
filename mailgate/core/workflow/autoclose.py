"""Core: a ticket left in Réponse envoyée without an answer for auto_close_days is closed, with a notice."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailgate.core.model import EventSpec, Outcome, Status, TicketView
from mailgate.core.workflow import drafts
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.transitions import Action


def due(view: TicketView, now: datetime, days: float) -> bool:
    """Whether the ticket has waited for the customer's confirmation long enough."""
    return (view.status is Status.ANSWER_SENT and view.merged_into is None and view.status_since is not None
            and now - view.status_since >= timedelta(days=days))


def close(view: TicketView, days: float) -> Outcome:
    """Close it and tell the customer; the outcome is empty when the table refuses (it no longer waits)."""
    step = workflow.move(view.status, Action.AUTO_CLOSE, view.type)
    if not step.ok:
        return Outcome("ignored", None, None, (), (), (), reason=step.refused)
    shown = int(days) if float(days).is_integer() else days
    notice = drafts.to_customer(view, "auto_closed", automatic=True, values={"days": shown})
    return Outcome("appended", None, view.id, (), (EventSpec("auto_closed", {"after_days": days}),), (notice,),
                   changes={"status": Status.CLOSED, "awaiting_mid": None, "awaiting_kind": None})
