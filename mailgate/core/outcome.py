"""Core: what the core decides for one mail (or one sweep of a ticket): the Outcome the shell writes in one
transaction, with the mails it sends, every field typed."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum, StrEnum

from mailgate.core.mail.attachments import Attachment
from mailgate.core.model import Address, Due, NewTicket, Priority, RequestType, Status


class Disposition(StrEnum):
    NEW_TICKET = "new_ticket"
    APPENDED = "appended"  # on an existing ticket
    IGNORED = "ignored"  # stored, on no ticket (our own mail, a bounce of nothing of ours, a rule...)
    QUARANTINED = "quarantined"  # held by a rule until `mailgate release`
    ANSWERED = "answered"  # on no ticket, only answered by mail (a requester's open tickets, a consultant's queue)


class MailKind(StrEnum):
    """What an outgoing mail is for; also the name of its template (unless a rule picks another)."""

    ACK = "ack"
    RELAY = "relay"  # a consultant's answer
    RESOLUTION = "resolution"  # ... asking to confirm it solves the problem
    ESTIMATE_REQUEST = "estimate_request"  # ... asking to approve an estimate
    KEYWORD_HELP = "keyword_help"
    AUTO_CLOSED = "auto_closed"
    NOTIFY_NEW = "notify_new"
    NOTIFY_REPLY = "notify_reply"
    NOTIFY_ESCALATED = "notify_escalated"
    NOTIFY_ASSIGNED = "notify_assigned"
    NOTIFY_BREACH = "notify_breach"
    TRANSCRIPT = "transcript"
    AGENT_REFUSED = "agent_refused"
    ANSWER_RECEIVED = "answer_received"  # a customer's keyword answer taken into account
    MERGED = "merged"  # to the requester of a merged ticket: where the request now lives
    DIGEST = "digest"  # the supervisors' daily or weekly digest (mailgate/digest.py): of no ticket
    STATUS_NOTICE = "status_notice"  # to the requester: a consultant's mail moved the ticket (core/workflow/notices)
    MY_TICKETS = "my_tickets"  # to whoever wrote `statut`: their open tickets (core/workflow/lookups); of no ticket
    MY_QUEUE = "my_queue"  # to a consultant who wrote `file`: the open tickets assigned to them; of no ticket
    DESK_LOGIN = "desk_login"  # to a supervisor who asked: the dashboard's sign-in link (web/desk_auth); of no ticket
    KB_SEARCH = "kb_search"  # to a consultant who wrote `chercher <words>`: the knowledge base's hits; of no ticket

    @property
    def to_consultants(self) -> bool:
        """A mail to the desk's own people: never limited, and the one a consultant's command may answer."""
        return self in _TO_CONSULTANTS

    @property
    def answers_customer(self) -> bool:
        """A consultant's answer to the customer: the first one meets the response target."""
        return self in (MailKind.RELAY, MailKind.RESOLUTION, MailKind.ESTIMATE_REQUEST)


_TO_CONSULTANTS = frozenset({MailKind.NOTIFY_NEW, MailKind.NOTIFY_REPLY, MailKind.NOTIFY_ESCALATED,
                             MailKind.NOTIFY_ASSIGNED, MailKind.NOTIFY_BREACH, MailKind.TRANSCRIPT,
                             MailKind.AGENT_REFUSED, MailKind.MY_QUEUE, MailKind.DESK_LOGIN,
                             MailKind.KB_SEARCH})


@dataclass(frozen=True, slots=True)
class EventSpec:
    kind: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class OutgoingDraft:
    """A mail to send about the ticket; the shell renders `template` and signs the Message-ID."""

    kind: MailKind
    template: str  # template name without locale or suffix (the kind's own, or a rule's auto_reply)
    to: Address
    locale: str
    in_reply_to: str | None
    references: tuple[str, ...]
    automatic: bool = True  # carries Auto-Submitted: auto-replied
    cc: tuple[Address, ...] = ()
    context: dict[str, object] = field(default_factory=dict)  # values for the template
    awaits: MailKind | None = None  # the keyword answer it asks for: estimate_request | resolution


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleRequest:
    """A consultant's `kb` command: a draft article of the ticket (with its title), or its draft published."""

    by: str
    title: str | None = None
    publish: bool = False


@dataclass(frozen=True, slots=True)
class TimeEntry:
    agent: str
    minutes: int
    comment: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EstimateChange:
    """A new estimate (`estimate_id` None) or a decision on the proposed one."""

    state: str  # proposed | approved | refused
    estimate_id: int | None = None
    amount: str | None = None
    days: str | None = None
    by: str = ""


class Unset(Enum):
    UNSET = "unset"


UNSET = Unset.UNSET  # "leave this column as it is" (None is a value: no assignee, no awaited answer)


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketChange:
    """The ticket's columns the core sets; every field left UNSET stays as it is."""

    status: Status | Unset = UNSET
    assignee: str | None | Unset = UNSET
    level: int | Unset = UNSET
    priority: Priority | Unset = UNSET
    type: RequestType | Unset = UNSET
    merged_into: int | None | Unset = UNSET
    resume_status: Status | None | Unset = UNSET  # where a waiting ticket goes back to
    waiting_on: str | None | Unset = UNSET  # customer | vendor
    awaiting_mid: str | None | Unset = UNSET
    awaiting_kind: MailKind | None | Unset = UNSET
    last_customer_mid: str | None | Unset = UNSET
    dedupe_key: str | None | Unset = UNSET
    response_breached_at: datetime | Unset = UNSET
    resolution_breached_at: datetime | Unset = UNSET
    alert_repeats: int = 0  # added to the ticket's alert count

    def values(self) -> dict[str, object]:
        """The fields set, by column name."""
        found: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)
                                    if f.name != "alert_repeats" and getattr(self, f.name) is not UNSET}
        return found

    def __bool__(self) -> bool:
        return bool(self.values()) or self.alert_repeats != 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """Everything one inbound mail (or one sweep of a ticket) does, written in one transaction.

    Exactly one of `new_ticket` and `ticket_id` is set, unless the disposition is IGNORED, QUARANTINED or ANSWERED.
    """

    disposition: Disposition
    new_ticket: NewTicket | None = None
    ticket_id: int | None = None
    add_participants: tuple[Address, ...] = ()  # besides the requester, who is on the ticket itself
    events: tuple[EventSpec, ...] = ()
    outgoing: tuple[OutgoingDraft, ...] = ()
    reason: str = ""
    change: TicketChange = field(default_factory=TicketChange)
    time_entries: tuple[TimeEntry, ...] = ()
    open_task: bool = False  # the ticket was taken: its imputation task for this month exists
    estimate: EstimateChange | None = None
    merge_into: int | None = None  # the ticket is merged into this one
    flag_addresses: tuple[str, ...] = ()  # bounced permanently: no automatic mail to them for a while
    due: Due = field(default_factory=Due)  # service-target due times of a new ticket
    attachments: tuple[Attachment, ...] = ()  # of the inbound mail, within the limits
    # mails of no ticket answering the sender (their open tickets, a consultant's queue): recorded on no ticket,
    # so that a list of one person's tickets never shows in another's ticket
    replies: tuple[OutgoingDraft, ...] = ()
    article: ArticleRequest | None = None  # the `kb` command: the shell writes the article (store/kb_articles)


def ignored(reason: str, disposition: Disposition = Disposition.IGNORED) -> Outcome:
    return Outcome(disposition=disposition, reason=reason)
