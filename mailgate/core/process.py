"""Core entry point: one parsed inbound mail + what the store knows -> the Outcome to apply."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mailgate.core import loops, subject, thread
from mailgate.core.model import (
    Address,
    EventSpec,
    NewTicket,
    Outcome,
    OutgoingDraft,
    ParsedMail,
    Priority,
    RequestType,
    TicketView,
)

MAX_REFERENCES = 10  # keep outgoing References headers short: the newest ids are the useful ones


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

    if found.ticket_id is not None:
        event = EventSpec("message_received", {"from": sender, "via": found.via})
        return Outcome(
            disposition="appended", new_ticket=None, ticket_id=found.ticket_id, add_participants=(),
            events=(event, *refused), outgoing=(),
        )

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
    )
    events: list[EventSpec] = [EventSpec("created", {"from": requester.email}), *refused]
    outgoing: tuple[OutgoingDraft, ...] = ()
    silence = _why_no_ack(mail, envelope_from, requester, ctx)
    if silence is None:
        outgoing = (_ack(mail, requester, ctx.locale),)
    else:
        events.append(EventSpec("ack_suppressed", {"reason": silence}))
    return Outcome(
        disposition="new_ticket", new_ticket=ticket, ticket_id=None,
        add_participants=ticket.cc, events=tuple(events), outgoing=outgoing,
    )


_NO_SUBJECT = {"fr": "(sans objet)", "en": "(no subject)"}


def _why_no_ack(mail: ParsedMail, envelope_from: str | None, requester: Address, ctx: Context) -> str | None:
    machine = loops.machine_mail(mail, envelope_from)
    if machine is not None:
        return f"machine mail: {machine}"
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
