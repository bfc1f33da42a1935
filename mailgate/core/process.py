"""Core entry point: one parsed inbound mail + what the store knows -> the Outcome to apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from mailgate.core.mail import loops, quotes, subject, thread
from mailgate.core.mail.classify import BOUNCE, Kind
from mailgate.core.model import (
    Address,
    Agent,
    EventSpec,
    NewTicket,
    Outcome,
    OutgoingDraft,
    ParsedMail,
    Priority,
    RequestType,
    Status,
    TicketView,
)
from mailgate.core.rules import routing
from mailgate.core.rules.engine import Decision
from mailgate.core.workflow import agent_commands, agent_flow, commands, customer_flow, drafts
from mailgate.core.workflow.authn import SentMail

MAX_REFERENCES = drafts.MAX_REFERENCES


@dataclass(frozen=True, slots=True)
class Context:
    """What the shell loaded for this mail; the core reads nothing else."""

    support_addresses: frozenset[str]
    agents: frozenset[str]
    refs: thread.References
    tickets: Mapping[int, TicketView]
    locale: str
    loop_token: str
    default_type: RequestType = RequestType.ASSISTANCE
    default_level: int = 1
    default_priority: Priority = Priority.NORMAL
    agent_info: Mapping[str, Agent] = field(default_factory=dict)
    sent: Mapping[str, SentMail] = field(default_factory=dict)  # our mails it answers, from the outbox
    trusted_authserv_ids: frozenset[str] = frozenset()
    customers_by_domain: Mapping[str, str] = field(default_factory=dict)
    approvers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    now: datetime | None = None
    reopen_days: int = 14
    decision: Decision | None = None  # the rules' decision, for a mail that opens a ticket
    alert_ticket: int | None = None  # the open ticket with the decision's dedupe key
    queues: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kind: Kind | None = None  # the classification (None: the header checks of loops.machine_mail)
    bounce_ticket: int | None = None  # the ticket of our mail that bounced (its signed Message-ID)
    text: str | None = None  # the mail's own text (quotes.strip_reply), when the shell already has it


def wanted_tickets(mail: ParsedMail, refs: thread.References, agents: frozenset[str],
                   text: str | None = None) -> tuple[int, ...]:
    """Every ticket the core may look at for this mail: the ones it names, and a consultant's merge target."""
    extra: list[int] = []
    if mail.from_ is not None and mail.from_.email in agents:
        own = text if text is not None else quotes.strip_reply(mail.text, subject=mail.subject)
        for command in commands.parse(own).commands:
            into = command.args.get("into")
            if command.name == "merge" and isinstance(into, int):
                extra.append(into)
    return tuple(dict.fromkeys((*refs.all, *extra)))


def process(mail: ParsedMail, envelope_from: str | None, ctx: Context) -> Outcome:
    """Decide what this mail does: append to a ticket or open one, and which mails go out."""
    own = loops.own_mail(mail, ctx.loop_token, ctx.support_addresses)
    found = thread.choose(mail, ctx.refs, ctx.tickets, ctx.agents)
    refused = tuple(
        EventSpec("reference_refused", {"ticket": r.ticket, "reason": r.reason}) for r in found.refused
    )
    sender = mail.from_.email if mail.from_ is not None else envelope_from or None

    if own is not None:
        if found.ticket_id is None:
            return _ignored(f"our own mail came back: {own}")
        return Outcome(
            disposition="appended", new_ticket=None, ticket_id=found.ticket_id, add_participants=(),
            events=(EventSpec("own_mail_returned", {"reason": own}),), outgoing=(),
        )

    if ctx.kind is not None and ctx.kind.kind == BOUNCE:
        return _bounce(ctx.kind, thread.resolve(ctx.bounce_ticket, ctx.tickets) if ctx.bounce_ticket else
                       found.ticket_id)

    if found.ticket_id is not None:
        return _on_ticket(mail, envelope_from, ctx.tickets[found.ticket_id], sender or "", found.via, refused,
                          ctx)

    decision = ctx.decision
    if decision is not None:
        kept_out = routing.held(decision)
        if kept_out is not None:
            return kept_out
        folded = routing.alert(decision, ctx.tickets.get(ctx.alert_ticket or 0), sender or "")
        if folded is not None:
            return folded
    requester = mail.from_ or (Address(envelope_from.lower()) if envelope_from else None)
    if requester is None:
        return _ignored("the mail has no sender: no From header and no envelope sender")
    cc = tuple(
        a for a in (*mail.to, *mail.cc)
        if a.email not in ctx.support_addresses and a.email != requester.email
    )
    ticket = NewTicket(
        title=subject.title(mail.subject, empty=_NO_SUBJECT.get(ctx.locale, _NO_SUBJECT["en"])),
        requester=requester,
        cc=tuple(dict.fromkeys(cc)),
        type=ctx.default_type,
        level=ctx.default_level,
        priority=ctx.default_priority,
        locale=ctx.locale,
        customer=ctx.customers_by_domain.get(requester.email.rpartition("@")[2]),
        root_mid=mail.message_id,
    )
    events: list[EventSpec] = [EventSpec("created", {"from": requester.email}), *refused]
    if decision is not None:
        ticket = routing.shape(ticket, decision)
        events.append(routing.rules_event(decision))
    outgoing: list[OutgoingDraft] = []
    silence = _why_no_ack(mail, envelope_from, requester, ctx)
    if silence is None and decision is not None and decision.auto_reply is False:
        silence = f"rule {', '.join(decision.set_by.get('auto_reply', ()))}: no automatic answer"
    if silence is None:
        template = decision.auto_reply if decision is not None and decision.auto_reply else "ack"
        outgoing.append(replace(_ack(mail, requester, ctx.locale), template=template))
    else:
        events.append(EventSpec("ack_suppressed", {"reason": silence}))
    if not _machine(mail, envelope_from, ctx):
        outgoing.extend(_notify_new(mail, ticket, ctx))
    return Outcome(
        disposition="new_ticket", new_ticket=ticket, ticket_id=None,
        add_participants=ticket.cc, events=tuple(events), outgoing=tuple(outgoing),
    )


def _on_ticket(mail: ParsedMail, envelope_from: str | None, view: TicketView, sender: str, via: str | None,
               refused: tuple[EventSpec, ...], ctx: Context) -> Outcome:
    """A mail on an existing ticket: a consultant's work, or a customer's reply."""
    text = _own_text(mail, ctx)
    if sender in ctx.agent_info:
        outcome = agent_flow.handle(mail, text, view, sender, agent_commands.AgentContext(
            agents=ctx.agent_info, sent=ctx.sent, trusted_authserv_ids=ctx.trusted_authserv_ids,
            tickets=ctx.tickets))
    else:
        machine = _machine(mail, envelope_from, ctx)
        outcome = customer_flow.handle(mail, text, view, sender, machine, customer_flow.CustomerContext(
            agents=ctx.agent_info, approvers=ctx.approvers, now=ctx.now or _EPOCH, reopen_days=ctx.reopen_days))
    if via is not None and outcome.events:
        first = outcome.events[0]
        outcome = replace(outcome, events=(EventSpec(first.kind, {**first.data, "via": via}),
                                           *outcome.events[1:], *refused))
    return outcome


def _own_text(mail: ParsedMail, ctx: Context) -> str:
    """What the person wrote, without the quoted history: computed once per mail."""
    return ctx.text if ctx.text is not None else quotes.strip_reply(mail.text, subject=mail.subject)


def _machine(mail: ParsedMail, envelope_from: str | None, ctx: Context) -> str | None:
    """Why this mail is machine mail (never an answer, never a change of status), or None."""
    if ctx.kind is None:
        return loops.machine_mail(mail, envelope_from)
    return f"{ctx.kind.kind}: {ctx.kind.reason}" if ctx.kind.machine else None


def _bounce(kind: Kind, ticket_id: int | None) -> Outcome:
    """A bounce is stored on the ticket of the mail that bounced, and changes nothing else there."""
    bounce = kind.bounce
    failed = [r.email for r in bounce.recipients] if bounce else []
    permanent = bool(bounce and bounce.permanent)
    flags = tuple(failed) if permanent else ()
    if ticket_id is None:  # anybody can write a bounce: only one of our own mail's may flag an address
        return Outcome("ignored", None, None, (), (), (), reason=f"bounce of no mail of ours ({kind.reason})")
    data: dict[str, object] = {
        "recipients": [{"email": r.email, "status": r.status, "diagnostic": (r.diagnostic or "")[:500]}
                       for r in (bounce.recipients if bounce else ())],
        "permanent": bounce.permanent if bounce else None, "format": bounce.kind if bounce else None,
        "reason": kind.reason,
    }
    return Outcome("appended", None, ticket_id, (), (EventSpec("bounce", data),), (), flag_addresses=flags)


def _notify_new(mail: ParsedMail, ticket: NewTicket, ctx: Context) -> list[OutgoingDraft]:
    """The consultants of the ticket's level hear of it; the drafts name no ticket yet (the shell knows)."""
    view = TicketView(id=0, status=Status.OPEN, participants=frozenset(), title=ticket.title,
                      requester=ticket.requester, locale=ticket.locale, root_mid=ticket.root_mid)
    text = _own_text(mail, ctx)
    values: dict[str, object] = {"text": text, "from": ticket.requester.email, "level": ticket.level}
    people: list[Agent | Address] = [*routing.notified(ticket, ctx.agent_info, ctx.queues)]
    if ctx.decision is not None:
        people += [Address(e) for e in ctx.decision.notify if e not in {a.email for a in people
                                                                          if isinstance(a, Agent)}]
    return [drafts.to_agent(a, "notify_new", locale=ticket.locale, view=view, values=values) for a in people]


_NO_SUBJECT = {"fr": "(sans objet)", "en": "(no subject)"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _why_no_ack(mail: ParsedMail, envelope_from: str | None, requester: Address, ctx: Context) -> str | None:
    machine = _machine(mail, envelope_from, ctx)
    if machine is not None:
        return f"machine mail: {machine}"
    if ctx.kind is not None and ctx.kind.suppress_auto_reply:
        return "the sender asks for no automatic answer (X-Auto-Response-Suppress)"
    if requester.email in ctx.support_addresses:
        return "the requester is one of our own addresses"
    return None


def _ack(mail: ParsedMail, requester: Address, locale: str) -> OutgoingDraft:
    references = mail.references + ((mail.message_id,) if mail.message_id else ())
    return OutgoingDraft(
        kind="ack",
        template="ack",
        to=requester,
        locale=locale,
        in_reply_to=mail.message_id,
        references=tuple(dict.fromkeys(references))[-MAX_REFERENCES:],
    )


def _ignored(reason: str) -> Outcome:
    return Outcome(
        disposition="ignored", new_ticket=None, ticket_id=None, add_participants=(),
        events=(), outgoing=(), reason=reason,
    )
