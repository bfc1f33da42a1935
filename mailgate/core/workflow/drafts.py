"""Core: the outgoing mails of the workflow, addressed and threaded (the shell renders and signs them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from mailgate.core.mail.mailbox import why_not_mailbox
from mailgate.core.model import Address, Agent, EventSpec, OutgoingDraft, ParsedMail, TicketView
from mailgate.core.workflow import keywords

MAX_REFERENCES = 10  # keep outgoing References headers short: the newest ids are the useful ones


def customer_thread(view: TicketView) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To and References for a mail to the customer: their thread, not the consultants'."""
    last = view.last_customer_mid or view.root_mid
    refs = tuple(dict.fromkeys(m for m in (view.root_mid, view.last_customer_mid) if m))
    return last, refs


def to_customer(view: TicketView, kind: str, *, values: dict[str, object] | None = None,
                awaits: str | None = None, automatic: bool = False,
                agents: frozenset[str] = frozenset()) -> OutgoingDraft:
    """A mail to the requester, Cc the other people on the ticket (never the consultants)."""
    assert view.requester is not None
    in_reply_to, refs = customer_thread(view)
    cc = tuple(a for a in view.cc if a.email not in agents and a.email != view.requester.email)
    context = dict(values or {})
    if awaits is not None:  # the words that count, as the mail prints them
        words = keywords.SHOWN[awaits]
        context["yes"], context["no"] = words.get(view.locale, words["en"])
    return OutgoingDraft(kind=kind, template=kind, to=view.requester, locale=view.locale,
                         in_reply_to=in_reply_to, references=refs, automatic=automatic, cc=cc,
                         context=context, awaits=awaits)


def to_agent(agent: Agent | Address, kind: str, *, locale: str, view: TicketView | None = None,
             mail: ParsedMail | None = None, values: dict[str, object] | None = None) -> OutgoingDraft:
    """A mail to one consultant; it answers their mail when there is one, else joins the ticket's thread."""
    address = agent.address if isinstance(agent, Agent) else agent
    if mail is not None and mail.message_id:
        in_reply_to: str | None = mail.message_id
        refs = tuple(dict.fromkeys((*mail.references, mail.message_id)))[-MAX_REFERENCES:]
    else:
        in_reply_to = view.root_mid if view is not None else None
        refs = (in_reply_to,) if in_reply_to else ()
    return OutgoingDraft(kind=kind, template=kind, to=address, locale=locale, in_reply_to=in_reply_to,
                         references=refs, automatic=True, context=values or {})


def level_agents(agents: Mapping[str, Agent], level: int) -> tuple[Agent, ...]:
    return tuple(a for a in agents.values() if a.level == level)


def deliverable(draft: OutgoingDraft) -> tuple[OutgoingDraft | None, tuple[EventSpec, ...]]:
    """The draft with only real mailboxes as recipients (None when its To is not one), and an event for each
    address left out: a relay would refuse them, and they must never reach an SMTP command line."""
    left_out = [(a, why) for a in (draft.to, *draft.cc) if (why := why_not_mailbox(a.email)) is not None]
    if not left_out:
        return draft, ()
    events = tuple(EventSpec("mail_suppressed", {"kind": draft.kind, "to": a.email, "why": why})
                   for a, why in left_out)
    if why_not_mailbox(draft.to.email) is not None:
        return None, events
    bad = {a.email for a, _ in left_out}
    return replace(draft, cc=tuple(a for a in draft.cc if a.email not in bad)), events
