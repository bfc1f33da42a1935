"""Core, the third step of the per-mail path: a prepared mail and the snapshot of the store -> the Outcome to
write: which ticket, what changes, which mails go out (the limits already applied), the new ticket's due
times, the attachments kept. The one entry point of the core for inbound mail."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.kb import flow as kb_flow
from mailgate.core.mail import subject, thread
from mailgate.core.mail.classify import BOUNCE, OWN, Kind
from mailgate.core.model import Address, NewTicket, Status, TicketView
from mailgate.core.outcome import Disposition, EventSpec, MailKind, Outcome, OutgoingDraft, ignored
from mailgate.core.prepare import Prepared
from mailgate.core.rules import routing
from mailgate.core.workflow import agent_flow, customer_flow, drafts, limits, lookups
from mailgate.core.workflow.customer_flow import CustomerContext
from mailgate.core.workflow.work import AgentContext

MAX_REFERENCES = drafts.MAX_REFERENCES
_NO_SUBJECT = {"fr": "(sans objet)", "en": "(no subject)"}


def process(p: Prepared, snapshot: Snapshot, desk: Desk, now: datetime) -> Outcome:
    """Decide what this mail does: append to a ticket or open one, and which mails go out."""
    found = thread.choose(p.refs, snapshot.tickets, desk.agent_emails, sender=p.sender_email or None)
    refused = tuple(EventSpec("reference_refused", {"ticket": r.ticket, "reason": r.reason}) for r in found.refused)
    if p.kind.kind == OWN:  # decided once, by the classification (loop header, our Message-ID, our address)
        if found.ticket_id is None:
            return ignored(f"our own mail came back: {p.kind.reason}")
        return Outcome(disposition=Disposition.APPENDED, ticket_id=found.ticket_id,
                       events=(EventSpec("own_mail_returned", {"reason": p.kind.reason}),))
    if p.kind.kind == BOUNCE:
        target = thread.resolve(p.bounce_ticket, snapshot.tickets) if p.bounce_ticket else found.ticket_id
        return _bounce(p.kind, target)
    if found.ticket_id is not None:
        outcome = _on_ticket(p, snapshot.tickets[found.ticket_id], found.via, refused, snapshot, desk, now)
    else:
        outcome = _new(p, refused, snapshot, desk, now)
    if outcome.disposition is Disposition.ANSWERED:
        return _answered(limits.admitted(outcome, desk, snapshot, now))
    if outcome.disposition not in (Disposition.NEW_TICKET, Disposition.APPENDED):
        return outcome
    files = p.attachments
    refusals = tuple(EventSpec("attachment_refused", {"name": r.name, "reason": r.reason, "size": r.size})
                     for r in files.refused)
    outcome = replace(outcome, events=(*outcome.events, *refusals), attachments=files.attachments)
    return limits.admitted(outcome, desk, snapshot, now)


def _on_ticket(p: Prepared, view: TicketView, via: str | None, refused: tuple[EventSpec, ...], snapshot: Snapshot,
               desk: Desk, now: datetime) -> Outcome:
    """A mail on an existing ticket: a consultant's work, or a customer's reply."""
    sender = p.sender_email
    machine = _machine(p.kind)
    if sender in desk.agents and machine is not None:  # an out-of-office: never applied, relayed nor answered
        return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=(
            EventSpec("agent_mail", {"from": sender, "authenticated": False, "how": machine, "commands": []}),
            EventSpec("machine_mail", {"why": machine}), *refused))
    if p.asks == lookups.STATUS and p.sender is not None and sender not in desk.agents:
        outcome = _status_list(p, p.sender, snapshot, view.locale, view.id)
    elif sender in desk.agents:
        outcome = agent_flow.handle(p.mail, p.text, view, sender, AgentContext(
            agents=desk.agents, sent=snapshot.sent, trust=desk.trust,
            tickets=snapshot.tickets, approvers=desk.approvers, notify=desk.notify_requester))
    else:
        outcome = customer_flow.handle(p.mail, p.text, view, sender, _machine(p.kind), CustomerContext(
            agents=desk.agents, approvers=desk.approvers, now=now, reopen_days=desk.reopen_days))
    if via is not None and outcome.events:
        first = outcome.events[0]
        outcome = replace(outcome, events=(EventSpec(first.kind, {**first.data, "via": via}),
                                           *outcome.events[1:], *refused))
    return outcome


def _new(p: Prepared, refused: tuple[EventSpec, ...], snapshot: Snapshot, desk: Desk, now: datetime) -> Outcome:
    """A mail that names no ticket: held by a rule, a request for a list, folded into its alert's open ticket,
    or a new ticket."""
    decision = p.decision
    kept_out = routing.held(decision) if decision is not None else None
    if kept_out is not None:
        return kept_out
    listed = _list(p, snapshot, desk) if p.asks is not None else None
    if listed is not None:  # `statut`, `file`: a list by mail, no ticket
        return listed
    if decision is not None:
        folded = routing.alert(decision, snapshot.tickets.get(snapshot.alert_ticket or 0), p.sender_email)
        if folded is not None:
            return folded
    requester = p.sender
    if requester is None:
        return ignored("the mail has no sender: no From header and no envelope sender")
    mail = p.mail
    cc = tuple(a for a in (*mail.to, *mail.cc)
               if a.email not in desk.support_addresses and a.email != requester.email)
    ticket = NewTicket(
        title=subject.title(mail.subject, empty=_NO_SUBJECT.get(desk.locale, _NO_SUBJECT["en"])),
        requester=requester, cc=tuple(dict.fromkeys(cc)), type=desk.default_type, level=desk.default_level,
        priority=desk.default_priority, locale=desk.locale,
        customer=desk.customers_by_domain.get(requester.email.rpartition("@")[2]), root_mid=mail.message_id,
    )
    events: list[EventSpec] = [EventSpec("created", {"from": requester.email}), *refused]
    if decision is not None:
        ticket = routing.shape(ticket, decision)
        events.append(routing.rules_event(decision))
    ticket, suggestion = kb_flow.prefill(ticket, p.similar, frozenset(decision.set_by if decision else ()), desk.kb)
    events.extend((suggestion,) if suggestion is not None else ())
    outgoing: list[OutgoingDraft] = []
    silence = _why_no_ack(p, requester, desk)
    if silence is None and decision is not None and decision.auto_reply is False:
        silence = f"rule {', '.join(decision.set_by.get('auto_reply', ()))}: no automatic answer"
    if silence is None:
        template = decision.auto_reply if decision is not None and decision.auto_reply else MailKind.ACK.value
        articles = kb_flow.self_service(p.articles, desk.kb)
        outgoing.append(replace(_ack(p, requester, desk.locale), template=template,
                                context={"articles": articles} if articles else {}))
    else:
        events.append(EventSpec("ack_suppressed", {"reason": silence}))
    if not p.kind.machine:
        outgoing.extend(_notify_new(p, ticket, desk))
    return Outcome(disposition=Disposition.NEW_TICKET, new_ticket=ticket, add_participants=ticket.cc,
                   events=tuple(events), outgoing=tuple(outgoing), due=desk.due(ticket.priority, now))


def _list(p: Prepared, snapshot: Snapshot, desk: Desk) -> Outcome | None:
    """A mail naming no ticket whose first line asks for a list: answered with it, no ticket opened."""
    sender = p.sender
    if sender is None or sender.email in desk.support_addresses:
        return None
    agent = desk.agents.get(sender.email)
    if p.asks == lookups.QUEUE and agent is not None:
        found = snapshot.sender_queue or ()
        draft = lookups.my_queue(p.mail, agent, found, desk.locale)
        return lookups.answered(MailKind.MY_QUEUE, draft, sender.email, len(found))
    if p.asks == lookups.STATUS and agent is None:
        return _status_list(p, sender, snapshot, desk.locale, None)
    words = lookups.searched(p.text) if p.asks == lookups.SEARCH else None
    if words is not None and agent is not None:  # answered even with [kb] off (it says so), never a ticket
        return kb_flow.answer(p.mail, agent, words, p.similar, desk.locale, enabled=desk.kb.enabled)
    return None


def _status_list(p: Prepared, sender: Address, snapshot: Snapshot, locale: str, ticket_id: int | None) -> Outcome:
    """`statut`: the sender's own open tickets (requester = sender), by mail; on a ticket, recorded there only."""
    found = snapshot.sender_tickets or ()
    draft = lookups.my_tickets(p.mail, sender, found, locale)
    return lookups.answered(MailKind.MY_TICKETS, draft, sender.email, len(found), ticket_id)


def _answered(outcome: Outcome) -> Outcome:
    """A list of no ticket held back by the limits: its reason says why (there is no ticket to record it on)."""
    if outcome.replies:
        return outcome
    why = "; ".join(str(e.data.get("why", "")) for e in outcome.events if e.kind == "mail_suppressed")
    return replace(outcome, disposition=Disposition.IGNORED, reason=f"{outcome.reason}; not answered: {why}")


def _machine(kind: Kind) -> str | None:
    """Why this mail is machine mail (never an answer, never a change of status), or None."""
    return f"{kind.kind}: {kind.reason}" if kind.machine else None


def _bounce(kind: Kind, ticket_id: int | None) -> Outcome:
    """A bounce is stored on the ticket of the mail that bounced, and changes nothing else there."""
    bounce = kind.bounce
    if ticket_id is None:  # anybody can write a bounce: only one of our own mail's may flag an address
        return ignored(f"bounce of no mail of ours ({kind.reason})")
    permanent = bool(bounce and bounce.permanent)
    data: dict[str, object] = {
        "recipients": [{"email": r.email, "status": r.status, "diagnostic": (r.diagnostic or "")[:500]}
                       for r in (bounce.recipients if bounce else ())],
        "permanent": bounce.permanent if bounce else None, "format": bounce.kind if bounce else None,
        "reason": kind.reason,
    }
    flags = tuple(r.email for r in bounce.recipients) if bounce and permanent else ()
    return Outcome(disposition=Disposition.APPENDED, ticket_id=ticket_id, events=(EventSpec("bounce", data),),
                   flag_addresses=flags)


def _notify_new(p: Prepared, ticket: NewTicket, desk: Desk) -> list[OutgoingDraft]:
    """The consultants of the ticket's level hear of it; the drafts name no ticket yet (the shell knows)."""
    view = TicketView(id=0, status=Status.OPEN, participants=frozenset(), title=ticket.title,
                      requester=ticket.requester, locale=ticket.locale, root_mid=ticket.root_mid)
    values: dict[str, object] = {"text": p.text, "from": ticket.requester.email, "level": ticket.level,
                                 "similar": kb_flow.listed(p.similar, desk.kb)}
    people: list[Address] = [a.address for a in routing.notified(ticket, desk.agents, desk.queues)]
    if p.decision is not None:
        people += [Address(e) for e in p.decision.notify if e not in {a.email for a in people}]
    return [drafts.to_agent(desk.agents.get(a.email, a), MailKind.NOTIFY_NEW, locale=ticket.locale, view=view,
                            values=values) for a in people]


def _why_no_ack(p: Prepared, requester: Address, desk: Desk) -> str | None:
    machine = _machine(p.kind)
    if machine is not None:
        return f"machine mail: {machine}"
    if p.kind.suppress_auto_reply:
        return "the sender asks for no automatic answer (X-Auto-Response-Suppress)"
    if requester.email in desk.support_addresses:
        return "the requester is one of our own addresses"
    return None


def _ack(p: Prepared, requester: Address, locale: str) -> OutgoingDraft:
    mail = p.mail
    references = mail.references + ((mail.message_id,) if mail.message_id else ())
    return OutgoingDraft(kind=MailKind.ACK, template=MailKind.ACK.value, to=requester, locale=locale,
                         in_reply_to=mail.message_id, references=tuple(dict.fromkeys(references))[-MAX_REFERENCES:])
