"""Core: which drafted mails go out: only to real mailboxes, no automatic mail to an address that bounced
permanently (nor to its Cc), at most so many automatic mails an hour to one recipient and on one ticket, and
to one consultant on one ticket (an auto-responder answering our notices must not loop). Acknowledgements of
new tickets, the one automatic mail a customer expects, have their own and larger cap per recipient. Human
answers are never limited (docs/hygiene.md)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from mailgate.core.desk import Desk, Snapshot
from mailgate.core.mail.mailbox import why_not_mailbox
from mailgate.core.outcome import EventSpec, MailKind, Outcome, OutgoingDraft


def admitted(outcome: Outcome, desk: Desk, snapshot: Snapshot, now: datetime) -> Outcome:
    """The outcome with only the mails that may go, and an event for each held back (the replies of no ticket
    count for their recipients, not for the ticket)."""
    kept, held = admit(outcome.outgoing, outcome.ticket_id, desk, snapshot, now)
    replies, held_replies = admit(outcome.replies, None, desk, snapshot, now) if outcome.replies else ((), ())
    return replace(outcome, outgoing=kept, replies=replies, events=(*outcome.events, *held, *held_replies))


def admit(drafts: tuple[OutgoingDraft, ...], ticket_id: int | None, desk: Desk, snapshot: Snapshot,
          now: datetime) -> tuple[tuple[OutgoingDraft, ...], tuple[EventSpec, ...]]:
    """The drafts that go (some without a Cc address), and a `mail_suppressed` event for each held back."""
    to_recipient = dict(snapshot.recent_to)
    acks_to = dict(snapshot.recent_acks_to)
    on_ticket = snapshot.recent_on.get(ticket_id, 0) if ticket_id is not None else 0
    to_consultant = dict(snapshot.recent_to_consultant)
    kept: list[OutgoingDraft] = []
    events: list[EventSpec] = []
    agents = desk.agent_emails
    for proposed in drafts:
        draft, left_out = deliverable(proposed)
        events.extend(left_out)
        if draft is None:
            continue
        to_us = draft.automatic and (draft.to.email in agents or draft.kind.to_consultants)
        if to_us and ticket_id is not None:
            key = (ticket_id, draft.to.email)
            cap = desk.limits.per_consultant_per_ticket_per_hour
            if to_consultant.get(key, 0) >= cap:
                events.append(EventSpec("mail_suppressed", {"kind": draft.kind.value, "to": draft.to.email, "why": (
                    f"{to_consultant[key]} automatic mails to {draft.to.email} on ticket #{ticket_id} in the "
                    f"last hour (limit {cap})")}))
                continue
            to_consultant[key] = to_consultant.get(key, 0) + 1
        limited = draft.automatic and not to_us
        ack = draft.kind is MailKind.ACK
        if limited:
            sent = (acks_to if ack else to_recipient).get(draft.to.email, 0)
            why = _held(draft, desk, snapshot, now, sent, on_ticket, ticket_id)
            if why is not None:
                events.append(EventSpec("mail_suppressed", {"kind": draft.kind.value, "to": draft.to.email,
                                                            "why": why}))
                continue
            draft, dropped = _without_flagged_cc(draft, snapshot, now)
            events.extend(dropped)
        kept.append(draft)
        if draft.automatic and draft.to.email not in agents:
            counts = acks_to if ack else to_recipient
            counts[draft.to.email] = counts.get(draft.to.email, 0) + 1
            on_ticket += 1
    return tuple(kept), tuple(events)


def _held(draft: OutgoingDraft, desk: Desk, snapshot: Snapshot, now: datetime, to_recipient: int,
          on_ticket: int, ticket_id: int | None) -> str | None:
    to = draft.to.email
    flag = snapshot.flags.get(to)
    if flag is not None and flag.until > now:
        return f"{to} bounced permanently ({flag.reason}); no automatic mail until {flag.until.isoformat()}"
    if draft.kind is MailKind.ACK:
        cap = desk.limits.acks_per_recipient_per_hour
        if to_recipient >= cap:
            return (f"acknowledgement of this new ticket withheld: {to_recipient} acknowledgements to {to} in the "
                    f"last hour (limit {cap}, acks_per_recipient_per_hour)")
        return None  # a new ticket has no earlier mail on it
    cap = desk.limits.per_recipient_per_hour
    if to_recipient >= cap:
        return (f"{draft.kind.value} withheld: {to_recipient} automatic mails to {to} in the last hour "
                f"(limit {cap}, auto_mail_per_recipient_per_hour)")
    cap = desk.limits.per_ticket_per_hour
    if on_ticket >= cap:
        return (f"{draft.kind.value} withheld: {on_ticket} automatic mails on ticket #{ticket_id} in the last "
                f"hour (limit {cap}, auto_mail_per_ticket_per_hour)")
    return None


def _without_flagged_cc(draft: OutgoingDraft, snapshot: Snapshot,
                        now: datetime) -> tuple[OutgoingDraft, list[EventSpec]]:
    """An automatic mail goes without its Cc addresses that bounced permanently (one event for each)."""
    flagged = sorted({a.email for a in draft.cc
                      if (flag := snapshot.flags.get(a.email)) is not None and flag.until > now})
    if not flagged:
        return draft, []
    events = [EventSpec("mail_suppressed", {"kind": draft.kind.value, "to": e,
                                            "why": f"Cc {e} bounced permanently; no automatic mail to it for now"})
              for e in flagged]
    return replace(draft, cc=tuple(a for a in draft.cc if a.email not in flagged)), events


def deliverable(draft: OutgoingDraft) -> tuple[OutgoingDraft | None, tuple[EventSpec, ...]]:
    """The draft with only real mailboxes as recipients (None when its To is not one), and an event for each
    address left out: a relay would refuse them, and they must never reach an SMTP command line."""
    left_out = [(a, why) for a in (draft.to, *draft.cc) if (why := why_not_mailbox(a.email)) is not None]
    if not left_out:
        return draft, ()
    events = tuple(EventSpec("mail_suppressed", {"kind": draft.kind.value, "to": a.email, "why": why})
                   for a, why in left_out)
    if why_not_mailbox(draft.to.email) is not None:
        return None, events
    bad = {a.email for a, _ in left_out}
    return replace(draft, cc=tuple(a for a in draft.cc if a.email not in bad)), events
