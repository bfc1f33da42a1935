"""Shell, outbound: a core reply of no ticket (a requester's open tickets, a consultant's queue: Outcome.replies)
-> rendered and queued in the outbox in the caller's transaction, on no ticket, so that a list of one person's
tickets is never recorded in (nor shown by the status page of) a ticket someone else may read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from mailgate.core.outcome import OutgoingDraft
from mailgate.outbound.queue import Outgoing, queue_of_no_ticket


def queue_replies(conn: Connection, outgoing: Outgoing, replies: tuple[OutgoingDraft, ...], now: datetime) -> int:
    """Queue each reply; returns how many. Templates see the draft's values, `recipient`, `gateway`."""
    s = outgoing.settings
    for draft in replies:
        person = {"name": draft.to.name, "email": draft.to.email}
        context: dict[str, Any] = {
            **draft.context, "recipient": person, "requester": person, "status_url": None,
            "gateway": outgoing.gateway, "currency": s.workflow.currency,
        }
        body = outgoing.renderer.render(draft.template, draft.locale, context)
        queue_of_no_ticket(conn, s, outgoing.sender, draft, subject_line=str(draft.context.get("subject") or ""),
                           body=body, tag="list", now=now)
    return len(replies)
