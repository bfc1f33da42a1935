"""Shell, outbound: a core reply of no ticket (a requester's open tickets, a consultant's queue: Outcome.replies)
-> rendered and queued in the outbox in the caller's transaction, on no ticket, so that a list of one person's
tickets is never recorded in (nor shown by the status page of) a ticket someone else may read."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from mailgate.core.mail import compose
from mailgate.core.outcome import OutgoingDraft
from mailgate.outbound.queue import Outgoing
from mailgate.store import outbox


def queue_replies(conn: Connection, outgoing: Outgoing, replies: tuple[OutgoingDraft, ...], now: datetime) -> int:
    """Queue each reply; returns how many. Templates see the draft's values, `recipient`, `gateway`."""
    s = outgoing.settings
    sender = s.sender
    for draft in replies:
        person = {"name": draft.to.name, "email": draft.to.email}
        context: dict[str, Any] = {
            **draft.context, "recipient": person, "requester": person, "status_url": None,
            "gateway": {"name": s.gateway.name or sender.name or sender.email, "address": sender.email},
            "currency": s.workflow.currency,
        }
        body = outgoing.renderer.render(draft.template, draft.locale, context)
        # not our signed grammar (mg.<ticket>...): it belongs to no ticket, and a reply to it is new mail
        message_id = f"list.{secrets.token_hex(8)}@{s.message_id_domain}"
        raw = compose.build(draft, sender=outgoing.sender, subject=str(draft.context.get("subject") or ""),
                            body=body, message_id=message_id, date=now)
        outbox.enqueue(conn, ticket_id=None, kind=draft.kind.value, message_id=message_id,
                       envelope_from=sender.email, envelope_to=[draft.to.email, *(a.email for a in draft.cc)],
                       raw=raw, now=now, deadline=now + timedelta(seconds=s.outbound.retry_deadline),
                       automatic=draft.automatic)
    return len(replies)
