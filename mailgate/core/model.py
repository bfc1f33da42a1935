"""Core values: the frozen dataclasses and enums every other core module speaks in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr
from enum import StrEnum


class Status(StrEnum):
    """Ticket statuses; the value is what is stored, the label is the customer's word."""

    OPEN = "open"
    TAKEN = "taken"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    AWAITING_ESTIMATE_APPROVAL = "awaiting_estimate_approval"
    IN_REALIZATION = "in_realization"
    ANSWER_SENT = "answer_sent"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS: dict[Status, str] = {
    Status.OPEN: "Ouvert",
    Status.TAKEN: "Pris en charge",
    Status.IN_PROGRESS: "En cours",
    Status.WAITING: "Un instant",
    Status.AWAITING_ESTIMATE_APPROVAL: "En attente validation chiffrage",
    Status.IN_REALIZATION: "En cours de réalisation",
    Status.ANSWER_SENT: "Réponse envoyée",
    Status.CLOSED: "Fermé",
}


class RequestType(StrEnum):
    ASSISTANCE = "assistance"  # assistance utilisateur
    INCIDENT = "incident"  # incident applicatif
    EVOLUTION = "evolution"  # évolution applicative


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox: the address is lower-cased for comparison, the name kept as written."""

    email: str
    name: str = ""

    def formatted(self) -> str:
        """For a header. An internationalised mailbox (RFC 6532) is written as UTF-8 as it is."""
        if not self.email.isascii():
            name = self.name.replace("\\", "\\\\").replace('"', '\\"')
            return f'"{name}" <{self.email}>' if name else self.email
        return formataddr((self.name, self.email)) if self.name else self.email


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What the core reads of one inbound mail. Parsing never fails: problems land in `defects`."""

    message_id: str | None
    subject: str
    from_: Address | None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # (lower-cased name, decoded value), in order
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """First value of a header, or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return None

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this mail answers: In-Reply-To first, then References newest first."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class TicketView:
    """What threading needs to know of an existing ticket."""

    id: int
    status: Status
    participants: frozenset[str]  # lower-cased addresses: requester, Cc'd people, assignee
    merged_into: int | None = None


@dataclass(frozen=True, slots=True)
class NewTicket:
    title: str
    requester: Address
    cc: tuple[Address, ...]
    type: RequestType
    level: int
    priority: Priority
    locale: str


@dataclass(frozen=True, slots=True)
class EventSpec:
    kind: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutgoingDraft:
    """A mail to send about the ticket; the shell renders `template` and signs the Message-ID."""

    kind: str  # what it is for: "ack", ...
    template: str  # template name without locale or suffix
    to: Address
    locale: str
    in_reply_to: str | None
    references: tuple[str, ...]
    automatic: bool = True  # carries Auto-Submitted: auto-replied


@dataclass(frozen=True, slots=True)
class Outcome:
    """Everything one inbound mail does, to be applied in one transaction.

    Exactly one of `new_ticket` and `ticket_id` is set, unless `disposition` is "ignored".
    """

    disposition: str  # "new_ticket" | "appended" | "ignored"
    new_ticket: NewTicket | None
    ticket_id: int | None
    add_participants: tuple[Address, ...]  # besides the requester, who is on the ticket itself
    events: tuple[EventSpec, ...]
    outgoing: tuple[OutgoingDraft, ...]
    reason: str = ""
