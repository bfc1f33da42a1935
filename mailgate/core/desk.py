"""Core: the desk every mail is judged by (addresses, consultants, customers, limits, targets), built once
from the settings; and the snapshot of the store the shell loads for one mail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mailgate.core.kb.model import Policy
from mailgate.core.model import Agent, Due, Priority, RequestType, TicketLine, TicketView
from mailgate.core.workflow.authn import SentMail, Trust


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Automatic mail per hour, and attachments per mail (docs/hygiene.md)."""

    per_recipient_per_hour: int = 10
    acks_per_recipient_per_hour: int = 30  # acknowledgements of new tickets: the mail a customer expects
    per_ticket_per_hour: int = 20
    per_consultant_per_ticket_per_hour: int = 20  # notifications, transcripts, refusals to one consultant
    max_attachment_bytes: int = 20 * 1024 * 1024
    max_attachments_bytes_per_mail: int = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Desk:
    support_addresses: frozenset[str]  # ours: the gateway's addresses and the From of our mail
    agents: Mapping[str, Agent]  # the consultants, by address
    secret: bytes  # signs our Message-IDs
    loop_token: str  # our loop header's value
    message_id_domain: str
    locale: str = "fr"
    trust: Trust = field(default_factory=Trust)  # whose Authentication-Results count
    customers_by_domain: Mapping[str, str] = field(default_factory=dict)
    approvers: Mapping[str, frozenset[str]] = field(default_factory=dict)  # customer -> who may approve
    queues: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    supervisors: tuple[str, ...] = ()
    reopen_days: int = 14
    auto_close_days: float = 7
    default_type: RequestType = RequestType.ASSISTANCE
    default_level: int = 1
    default_priority: Priority = Priority.NORMAL
    limits: Limits = field(default_factory=Limits)
    targets: Mapping[Priority, tuple[float, float]] = field(default_factory=dict)  # response, resolution hours
    # which status changes a consultant's mail makes the requester hears of ([notify] requester_on):
    # taken | escalated | waiting | closed (core/workflow/notices.py); none unless configured
    notify_requester: frozenset[str] = frozenset()
    kb: Policy = field(default_factory=Policy)  # [kb]: what the flow does with the knowledge base's hits

    @property
    def agent_emails(self) -> frozenset[str]:
        return frozenset(self.agents)

    def due(self, priority: Priority, created: datetime) -> Due:
        """The service-target due times of a ticket of this priority created at `created`."""
        hours = self.targets.get(priority)
        if hours is None:
            return Due()
        return Due(response=created + timedelta(hours=hours[0]), resolution=created + timedelta(hours=hours[1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class Flag:
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot:
    """What the store knew when one mail was processed, inside its transaction (the tickets locked)."""

    tickets: Mapping[int, TicketView] = field(default_factory=dict)  # named ones, merge targets, the alert's
    sent: Mapping[str, SentMail] = field(default_factory=dict)  # our mails it answers, from the outbox
    alert_ticket: int | None = None  # the open ticket with the rules' dedupe key
    flags: Mapping[str, Flag] = field(default_factory=dict)  # addresses that bounced permanently
    recent_to: Mapping[str, int] = field(default_factory=dict)  # automatic mails to each address, last hour
    recent_acks_to: Mapping[str, int] = field(default_factory=dict)  # ... acknowledgements (capped apart)
    recent_on: Mapping[int, int] = field(default_factory=dict)  # automatic mails on each ticket, last hour
    # automatic mails to each consultant on each ticket, last hour: (ticket id, consultant) -> count
    recent_to_consultant: Mapping[tuple[int, str], int] = field(default_factory=dict)
    # loaded only for a mail whose first line asks for a list (core/workflow/lookups.py), else None:
    sender_tickets: tuple[TicketLine, ...] | None = None  # `statut`: the open tickets the sender requested
    sender_queue: tuple[TicketLine, ...] | None = None  # `file`: the open tickets assigned to the consultant
