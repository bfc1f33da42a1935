"""Core: which ticket does a mail belong to? Signed Message-ID first, then a tag from a participant.

See docs/threading.md for the order and its reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mailgate.core.mail import signing, subject
from mailgate.core.model import ParsedMail, TicketView


@dataclass(frozen=True, slots=True)
class References:
    """Ticket numbers a mail points at: through our signed Message-IDs, and through subject tags."""

    signed: tuple[int, ...]
    tagged: tuple[int, ...]
    signed_ids: tuple[str, ...] = ()  # our own Message-IDs the mail answers, signature verified

    @property
    def all(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys((*self.signed, *self.tagged)))


@dataclass(frozen=True, slots=True)
class Refused:
    ticket: int
    reason: str


@dataclass(frozen=True, slots=True)
class Threading:
    ticket_id: int | None  # None: a new ticket
    via: str | None  # "message-id" | "subject-tag"
    refused: tuple[Refused, ...] = ()


def references(mail: ParsedMail, secret: bytes) -> References:
    """Every ticket the mail names, so the shell knows which tickets to load."""
    signed: list[int] = []
    ids: list[str] = []
    for mid in mail.thread_ids:
        number = signing.verify_message_id(mid, secret)
        if number is not None:
            ids.append(mid)
            if number not in signed:
                signed.append(number)
    return References(signed=tuple(signed), tagged=subject.tags(mail.subject), signed_ids=tuple(ids))


def resolve(ticket_id: int, tickets: Mapping[int, TicketView]) -> int | None:
    """Follow merges to the surviving ticket; None if a ticket on the way was not loaded."""
    seen: set[int] = set()
    current = ticket_id
    while current not in seen:
        seen.add(current)
        view = tickets.get(current)
        if view is None:
            return None
        if view.merged_into is None:
            return current
        current = view.merged_into
    return None  # a merge cycle: treat as unknown


def choose(
    refs: References,
    tickets: Mapping[int, TicketView],
    agents: frozenset[str],
    *,
    sender: str | None,
) -> Threading:
    """Pick the ticket: our signed Message-ID, else a subject tag the sender (mailbox.sender_of) may use, else new."""
    for number in refs.signed:
        target = resolve(number, tickets)
        if target is not None:
            return Threading(ticket_id=target, via="message-id")
    refused: list[Refused] = []
    for number in refs.tagged:
        target = resolve(number, tickets)
        if target is None:
            refused.append(Refused(number, "no such ticket"))
        elif sender is None:
            refused.append(Refused(number, "the mail has no sender address"))
        elif sender in agents or sender in tickets[target].participants:
            return Threading(ticket_id=target, via="subject-tag", refused=tuple(refused))
        else:
            refused.append(Refused(number, f"{sender} is not a participant of ticket #{target}"))
    return Threading(ticket_id=None, via=None, refused=tuple(refused))
