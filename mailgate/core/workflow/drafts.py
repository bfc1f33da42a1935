"""Core: the outgoing mails of the workflow, addressed and threaded (the shell renders and signs them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mailgate.core.model import Address, Agent, NewTicket, ParsedMail, Status, TicketView
from mailgate.core.outcome import MailKind, OutgoingDraft, TicketChange
from mailgate.core.workflow import keywords, messages

MAX_REFERENCES = 10  # keep outgoing References headers short: the newest ids are the useful ones


def customer_thread(view: TicketView) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References for a mail to the customer: their thread, not the consultants'."""
    last = view.last_customer_mid or view.root_mid
    refs = tuple(dict.fromkeys(m for m in (view.root_mid, view.last_customer_mid) if m))
    return last, refs


def to_customer(view: TicketView, kind: MailKind, *, values: dict[str, object] | None = None,
                awaits: MailKind | None = None, automatic: bool = False,
                agents: frozenset[str] = frozenset(), also: tuple[Address, ...] = ()) -> OutgoingDraft:
    """A mail to the requester, Cc the other people on the ticket (never the consultants) and `also`."""
    assert view.requester is not None
    in_reply_to, refs = customer_thread(view)
    seen = {view.requester.email} | agents
    cc: list[Address] = []
    for person in (*view.cc, *also):
        if person.email not in seen:
            seen.add(person.email)
            cc.append(person)
    context = dict(values or {})
    if awaits is not None:  # the words that count, as the mail prints them
        words = keywords.SHOWN[awaits]
        context["yes"], context["no"] = words.get(view.locale, words["en"])
    return OutgoingDraft(kind=kind, template=kind.value, to=view.requester, locale=view.locale,
                         in_reply_to=in_reply_to, references=refs, automatic=automatic, cc=tuple(cc),
                         context=context, awaits=awaits)


def answering(mail: ParsedMail, in_reply_to: str | None,
              refs: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References of a mail that answers `mail` (the given ones when it has no Message-ID)."""
    if not mail.message_id:
        return in_reply_to, refs
    return mail.message_id, tuple(dict.fromkeys((*mail.references, mail.message_id)))[-MAX_REFERENCES:]


def to_agent(agent: Agent | Address, kind: MailKind, *, locale: str, view: TicketView | None = None,
             mail: ParsedMail | None = None, values: dict[str, object] | None = None) -> OutgoingDraft:
    """A mail to one consultant; it answers their mail when there is one, else joins the ticket's thread."""
    address = agent.address if isinstance(agent, Agent) else agent
    in_reply_to = view.root_mid if view is not None else None
    refs: tuple[str, ...] = (in_reply_to,) if in_reply_to else ()
    if mail is not None:
        in_reply_to, refs = answering(mail, in_reply_to, refs)
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


def template_ticket(view: TicketView, locale: str, names: Mapping[str, str]) -> dict[str, object]:
    """What templates may say of the ticket, in the mail's language: the one builder for every mail (new
    ticket, change, sweep). `names`: the consultants' names by address (a footer names people, not
    addresses)."""
    requester = view.requester
    return {
        "number": view.id, "title": view.title, "status": messages.status_label(view.status, locale),
        "level": f"N{view.level}", "type": messages.TYPE_LABELS[locale if locale in messages.LOCALES else "en"][
            view.type], "priority": view.priority.value,
        "assignee": names.get(view.assignee, view.assignee) if view.assignee else None,
        "assignee_email": view.assignee, "customer": view.customer,
        "requester": {"name": requester.name, "email": requester.email} if requester else {"name": "", "email": ""},
    }
