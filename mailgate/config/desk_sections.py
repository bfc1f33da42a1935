"""Shell, configuration: the sections about the desk's people and process (agents, customers, workflow,
service targets, queues, mail hygiene), validated and frozen like the others in sections.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator

from mailgate.config.sections import EMAIL, Section


class Agent(Section):
    email: str = Field(pattern=EMAIL)
    name: str
    level: int = Field(ge=1, le=4)

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class Supervisor(Section):
    """Who follows the desk: mailed the breaches and the digest; signs in to the dashboard by a mailed link."""

    email: str = Field(pattern=EMAIL)
    name: str = ""

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class Customer(Section):
    """A client company: its mail domains, who may approve estimates, and its hourly rate."""

    name: str = Field(min_length=1, max_length=200)
    domains: list[str] = []
    approvers: list[Annotated[str, Field(pattern=EMAIL)]] = []
    hourly_rate: Decimal = Field(default=Decimal(0), ge=0)

    @field_validator("domains", "approvers")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower().lstrip("@") for v in value]


class Workflow(Section):
    auto_close_days: float = Field(default=7, gt=0)  # answer_sent with no reply this long -> closed
    reopen_days: int = Field(default=14, ge=0)  # a customer reply this soon after closing reopens it
    sweep_interval: float = Field(default=300.0, gt=0)  # seconds between auto-close sweeps
    # Authentication-Results from these servers are trusted to authenticate consultants' mail (DKIM/DMARC)
    trusted_authserv_ids: list[str] = []
    currency: str = "EUR"

    @field_validator("trusted_authserv_ids")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]


class Target(Section):
    """Service targets for one priority, in hours from the ticket's creation."""

    response_hours: float = Field(gt=0)  # first answer to the customer
    resolution_hours: float = Field(gt=0)  # answer sent (Réponse envoyée)


class Sla(Section):
    # deprecated: the supervisors are [[supervisors]] (these addresses are added to them; check warns)
    supervisors: list[Annotated[str, Field(pattern=EMAIL)]] = []
    low: Target | None = None
    normal: Target | None = None
    high: Target | None = None
    urgent: Target | None = None


class Queue(Section):
    """A group of agents: a rule's `queue:` action notifies them instead of the level's agents."""

    name: str = Field(min_length=1)
    agents: list[Annotated[str, Field(pattern=EMAIL)]] = Field(min_length=1)


class Hygiene(Section):
    """Machine mail and attachments (docs/hygiene.md)."""

    bounce_quarantine_days: float = Field(default=7, ge=0)  # no automatic mail to a permanently bounced address
    # automatic mail (acknowledgements, help, notices) to one customer address / on one ticket, per hour
    auto_mail_per_recipient_per_hour: int = Field(default=10, ge=1)
    auto_mail_per_ticket_per_hour: int = Field(default=20, ge=1)
    # acknowledgements of new tickets to one address, per hour: counted apart from the other automatic mail
    # (the one automatic mail a customer expects is not used up by notices and help)
    acks_per_recipient_per_hour: int = Field(default=30, ge=1)
    # notifications, transcripts and refusals to one consultant on one ticket, per hour: an auto-responder
    # answering our notices is answered this many times at most
    auto_mail_per_consultant_per_ticket_per_hour: int = Field(default=20, ge=1)
    attachments: Literal["database", "folder"] = "database"
    attachments_folder: str = "var/attachments"  # for attachments = "folder"; relative to the config file
    max_attachment_bytes: int = Field(default=20 * 1024 * 1024, ge=0)
    max_attachments_bytes_per_mail: int = Field(default=50 * 1024 * 1024, ge=0)


class Kb(Section):
    """The knowledge base (docs/kb.md): similar resolved tickets and articles, searched on every new request."""

    enabled: bool = True  # search at all (a new ticket's notice, `chercher` by mail, the index kept)
    similar: int = Field(default=3, ge=0, le=10)  # hits listed with a new ticket's notice
    prefill: bool = False  # apply the nearest tickets' type and level when no rule set them (always recorded)
    prefill_min_score: float = Field(default=0.4, ge=0, le=1)
    self_service: bool = False  # the acknowledgement lists published articles that match well
    self_service_min_score: float = Field(default=0.6, ge=0, le=1)  # share of the request's words an article has
    self_service_articles: int = Field(default=3, ge=1, le=3)
