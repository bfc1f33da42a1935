"""Core: the outgoing mails of the workflow, addressed and threaded (the shell renders and signs them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mailgate.core.model import Address, Agent, NewTicket, ParsedMail, Status, TicketView
from mailgate.core.outcome import MailKind, OutgoingDraft, TicketChange
from mailgate.core.workflow import keywords

MAX_REFERENCES = 10  # keep outgoing References headers short: the newest ids are the useful ones


def customer_thread(view: TicketView) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References for a mail to the customer: their thread, not the consultants'."""
    last = view.last_customer_mid or view.root_mid
    refs = tuple(dict.fromkeys(m for m in (view.root_mid, view.last_customer_mid) if m))
    return last, refs


def to_customer(view: TicketView, kind: MailKind, *, values: dict[str, object] | None = None,
                awaits: MailKind | None = None, automatic: bool = False,
                agents: frozenset[str] = frozenset()) -> OutgoingDraft:
    """A mail to the requester, Cc the other people on the ticket (never the consultants)."""
    assert view.requester is not None
    in_reply_to, refs = customer_thread(view)
    cc = tuple(a for a in view.cc if a.email not in agents and a.email != view.requester.email)
    context = dict(values or {})
    if awaits is not None:  # the words that count, as the mail prints them
        words = keywords.SHOWN[awaits]
        context["yes"], context["no"] = words.get(view.locale, words["en"])
    return OutgoingDraft(kind=kind, template=kind.value, to=view.requester, locale=view.locale,
                         in_reply_to=in_reply_to, references=refs, automatic=automatic, cc=cc,
                         context=context, awaits=awaits)


def to_agent(agent: Agent | Address, kind: MailKind, *, locale: str, view: TicketView | None = None,
             mail: ParsedMail | None = None, values: dict[str, object] | None = None) -> OutgoingDraft:
    """A mail to one consultant; it answers their mail when there is one, else joins the ticket's thread."""
    address = agent.address if isinstance(agent, Agent) else agent
    if mail is not None and mail.message_id:
        in_reply_to: str | None = mail.message_id
        refs = tuple(dict.fromkeys((*mail.references, mail.message_id)))[-MAX_REFERENCES:]
    else:
        in_reply_to = view.root_mid if view is not None else None
        refs = (in_reply_to,) if in_reply_to else ()
    return OutgoingDraft(kind=kind, template=kind.value, to=address, locale=locale, in_reply_to=in_reply_to,
                         references=refs, automatic=True, context=values or {})


def level_agents(agents: Mapping[str, Agent], level: int) -> tuple[Agent, ...]:
    return tuple(a for a in agents.values() if a.level == level)


def after(view: TicketView, change: TicketChange) -> TicketView:
    """The ticket as the change leaves it (for the mails sent with the change)."""
    values = {k: v for k, v in change.values().items() if k in _VIEW_FIELDS}
    return replace(view, **values) if values else view  # type: ignore[arg-type]


_VIEW_FIELDS = frozenset({"status", "assignee", "level", "priority", "type", "merged_into", "resume_status",
                          "awaiting_mid", "awaiting_kind", "last_customer_mid"})


def new_view(ticket_id: int, spec: NewTicket) -> TicketView:
    """A ticket just opened, as a view (for the mails sent with it)."""
    return TicketView(ticket_id, Status.OPEN, frozenset({spec.requester.email, *(a.email for a in spec.cc)}),
                      type=spec.type, level=spec.level, priority=spec.priority, title=spec.title,
                      requester=spec.requester, assignee=spec.assignee, locale=spec.locale, customer=spec.customer,
                      root_mid=spec.root_mid, last_customer_mid=spec.root_mid, cc=spec.cc)


def template_ticket(view: TicketView) -> dict[str, object]:
    """What templates may say of the ticket: the one builder for every mail (new ticket, change, sweep)."""
    requester = view.requester
    return {
        "number": view.id, "title": view.title, "status": view.status.label, "level": f"N{view.level}",
        "type": view.type.value, "priority": view.priority.value, "assignee": view.assignee,
        "customer": view.customer,
        "requester": {"name": requester.name, "email": requester.email} if requester else {"name": "", "email": ""},
    }
