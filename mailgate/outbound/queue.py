"""Shell, outbound: a core OutgoingDraft -> rendered, signed mail queued in the outbox, in the caller's transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from mailgate.config.settings import Settings
from mailgate.core import status_link
from mailgate.core.mail import compose, signing, subject
from mailgate.core.model import TicketView
from mailgate.core.outcome import EventSpec, OutgoingDraft
from mailgate.core.workflow import drafts
from mailgate.outbound.render import Renderer
from mailgate.store import outbox


def gateway_of(settings: Settings) -> dict[str, str]:
    """What templates call `gateway`: the name our mail is signed with, and our address."""
    sender = settings.sender
    return {"name": settings.gateway.name or sender.name or sender.email, "address": sender.email}


def queue_of_no_ticket(conn: Connection, settings: Settings, sender: compose.Sender, draft: OutgoingDraft, *,
                       subject_line: str, body: str, tag: str, now: datetime, html: str | None = None) -> str:
    """Queue a mail that belongs to no ticket (a digest, a list of one's tickets); returns its Message-ID. The
    id is not our signed grammar (mg.<ticket>...): a reply to it is new mail."""
    message_id = f"{tag}.{secrets.token_hex(8)}@{settings.message_id_domain}"
    raw = compose.build(draft, sender=sender, subject=subject_line, body=body, message_id=message_id, date=now,
                        html=html)
    outbox.enqueue(conn, ticket_id=None, kind=draft.kind.value, message_id=message_id,
                   envelope_from=settings.sender.email, envelope_to=[draft.to.email, *(a.email for a in draft.cc)],
                   raw=raw, now=now, deadline=now + timedelta(seconds=settings.outbound.retry_deadline),
                   automatic=draft.automatic)
    return message_id


@dataclass(frozen=True, slots=True)
class Queued:
    """A mail now in the outbox: the event and the message row the caller records with the change."""

    event: EventSpec
    message: dict[str, Any]
    message_id: str


class Outgoing:
    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.renderer = renderer
        # derived from the settings once, not per mail
        self.sender = compose.Sender(address=settings.sender, loop_token=settings.loop_token)
        self._from = settings.sender.email
        self._secret = settings.secret
        self._domain = settings.message_id_domain
        self.gateway = gateway_of(settings)
        self._agent_names = {a.email: a.name or a.email for a in settings.agents}
        self._status_base = settings.web.url if settings.web.enabled else None  # [web]: links in our mails

    def queue(self, conn: Connection, *, view: TicketView, draft: OutgoingDraft, now: datetime) -> Queued:
        """Render, sign and queue one mail about the ticket `view` (as the change leaves it); the caller records
        what it returns.

        Templates see `ticket` (drafts.template_ticket: number, title, status, level...), `recipient` (and
        `requester`: the ticket's, else the recipient), `gateway`, `currency`, `status_url` (the requester's
        signed status link, in mails to the requester when [web] is enabled, else None) and the draft's values."""
        s = self.settings
        person = {"name": draft.to.name, "email": draft.to.email}
        ticket = drafts.template_ticket(view, draft.locale, self._agent_names)
        context = {
            **draft.context,
            "ticket": ticket,
            "recipient": person,
            "requester": ticket["requester"] if view.requester is not None else person,
            "gateway": self.gateway,
            "currency": s.workflow.currency,
            "status_url": self._status_url(view, draft),
        }
        body = self.renderer.render(draft.template, draft.locale, context)
        message_id = signing.make_message_id(view.id, secrets.token_hex(8), self._secret, self._domain)
        subject_line = subject.tagged(view.id, view.title)
        raw = compose.build(draft, sender=self.sender, subject=subject_line, body=body,
                            message_id=message_id, date=now)
        outbox_id = outbox.enqueue(
            conn, ticket_id=view.id, kind=draft.kind.value, message_id=message_id,
            envelope_from=self._from, envelope_to=[draft.to.email, *(a.email for a in draft.cc)], raw=raw,
            now=now, deadline=now + timedelta(seconds=s.outbound.retry_deadline), automatic=draft.automatic,
        )
        message = dict(
            ticket_id=view.id, direction="out", inbound_id=None, outbox_id=outbox_id,
            from_addr=self._from, to_addrs=[draft.to.email], cc_addrs=[a.email for a in draft.cc],
            subject=subject_line, message_id=message_id, body=body, text=body, created_at=now,
        )
        event = EventSpec("mail_queued", {"kind": draft.kind.value, "to": draft.to.email, "outbox_id": outbox_id})
        return Queued(event, message, message_id)

    def _status_url(self, view: TicketView, draft: OutgoingDraft) -> str | None:
        requester = view.requester
        if self._status_base is None or requester is None or draft.to.email.lower() != requester.email.lower():
            return None
        return status_link.link(self._status_base, view.id, requester.email, self._secret)
