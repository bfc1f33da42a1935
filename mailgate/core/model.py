"""Core values: the frozen dataclasses and enums every other core module speaks in."""

from __future__ import annotations

from collections.abc import Mapping
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
class Reason:
    """Why something was refused, as a code of the message catalogue and the values its sentence names
    (core/workflow/messages.py says it in the reader's language)."""

    code: str
    values: Mapping[str, object] = field(default_factory=dict)


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
class Agent:
    """A consultant of the config: level 1-3 = N1-N3, 4 = external vendor."""

    email: str
    name: str
    level: int

    @property
    def address(self) -> Address:
        return Address(self.email, self.name)


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
    # each name's first value, made at the first `header` call (some 30 a mail, each a scan of every field)
    _first: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        """First value of a header, or None."""
        first = self._first
        if first is None:
            first = {}
            for key, value in self.headers:
                first.setdefault(key, value)
            object.__setattr__(self, "_first", first)
        return first.get(name.lower())

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """Message-IDs this mail answers: In-Reply-To first, then References newest first."""
        seen: list[str] = []
        for mid in (*self.in_reply_to, *reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class EstimateView:
    """The ticket's latest estimate (chiffrage)."""

    id: int
    amount: str | None  # decimal, as text: exact
    days: str | None
    state: str  # proposed | approved | refused


@dataclass(frozen=True, slots=True)
class Due:
    """Service-target due times of a new ticket (None: no target for its priority)."""

    response: datetime | None = None
    resolution: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceTarget:
    """One service target of a ticket: first response or resolution (docs/rules.md, "Service targets")."""

    name: str  # response | resolution
    due: datetime | None
    met: datetime | None  # the first answer to the customer; the resolution (Réponse envoyée)
    told: datetime | None  # when the supervisors were told it was breached

    def breached(self, now: datetime) -> bool:
        """Due and not met by then: still unmet at `now`, or met late."""
        if self.due is None:
            return False
        return now >= self.due if self.met is None else self.met > self.due

    def to_tell(self, now: datetime) -> bool:
        """Breached, still unmet, and the supervisors not yet told: the sweeper mails them, once."""
        return self.met is None and self.told is None and self.breached(now)


@dataclass(frozen=True, slots=True)
class TicketView:
    """What the core needs to know of an existing ticket: threading, workflow, who is who."""

    id: int
    status: Status
    participants: frozenset[str]  # lower-cased addresses: requester, Cc'd people, assignee
    merged_into: int | None = None
    type: RequestType = RequestType.ASSISTANCE
    level: int = 1
    priority: Priority = Priority.NORMAL
    title: str = ""
    requester: Address | None = None
    assignee: str | None = None
    locale: str = "fr"
    customer: str | None = None
    resume_status: Status | None = None  # where a waiting ticket goes back to
    awaiting_mid: str | None = None  # our signed mail whose keyword answer is awaited
    awaiting_kind: str | None = None  # the MailKind answered by a keyword: estimate_request | resolution
    root_mid: str | None = None  # the customer's first mail: threads our mail to the customer
    last_customer_mid: str | None = None  # the customer's latest mail
    status_since: datetime | None = None
    estimate: EstimateView | None = None
    cc: tuple[Address, ...] = ()  # participants other than the requester, as addresses
    targets: tuple[ServiceTarget, ...] = ()  # response and resolution


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketLine:
    """One open ticket as a list by mail shows it (a requester's open requests, a consultant's queue)."""

    id: int
    title: str
    status: Status
    priority: Priority
    level: int
    since: datetime  # the last change of status (else of the ticket)


@dataclass(frozen=True, slots=True)
class NewTicket:
    title: str
    requester: Address
    cc: tuple[Address, ...]
    type: RequestType
    level: int
    priority: Priority
    locale: str
    customer: str | None = None
    root_mid: str | None = None
    assignee: str | None = None
    queue: str | None = None
    tags: tuple[str, ...] = ()
    dedupe_key: str | None = None
