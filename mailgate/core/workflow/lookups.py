"""Core: lists asked for by mail, answered by mail and recorded on no ticket. A customer whose first line is
`statut` (status, état) gets the state of the open tickets they requested (theirs only); a consultant whose
first line is `file` (queue, ma file) on a mail naming no ticket gets the open tickets assigned to them, in
`mailgate queue`'s order, at their configured address. docs/commands.md, docs/workflow.md."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC

from mailgate.core.model import Address, Agent, ParsedMail, Priority, TicketLine
from mailgate.core.outcome import Disposition, EventSpec, MailKind, Outcome, OutgoingDraft
from mailgate.core.workflow import drafts, messages
from mailgate.core.workflow.command_words import fold
from mailgate.core.workflow.keywords import first_line

STATUS, QUEUE, SEARCH = "status", "queue", "search"
SEARCH_WORDS = ("chercher", "rechercher", "recherche", "search")  # then the words to look for
STATUS_WORDS = frozenset({"statut", "status", "etat", "mon statut", "my status"})
QUEUE_WORDS = frozenset({"file", "queue", "ma file", "my queue"})
MAX_LISTED = 50  # a longer list says how many more there are
# `mailgate queue`'s order (mailgate/cli/queue.py RANK): the most urgent first, then the longest waiting
RANK = {Priority.URGENT: 0, Priority.HIGH: 1, Priority.NORMAL: 2, Priority.LOW: 3}


def rank_of(priority: str) -> int:
    """A stored priority's place in that order (an unknown one last)."""
    return next((rank for p, rank in RANK.items() if p.value == priority), len(RANK))
_DATE = {"fr": "%d/%m/%Y %H:%M UTC", "en": "%Y-%m-%d %H:%M UTC"}
_SUBJECT = {MailKind.MY_TICKETS: {"fr": "Vos demandes en cours", "en": "Your open requests"},
            MailKind.MY_QUEUE: {"fr": "Votre file : {n} ticket(s) ouvert(s)", "en": "Your queue: {n} open ticket(s)"}}
PRIORITY_WORDS = {"fr": {Priority.URGENT: "urgente", Priority.HIGH: "haute", Priority.NORMAL: "normale",
                         Priority.LOW: "basse"},
                  "en": {p: p.value for p in Priority}}


def asked(text: str, *, agent: bool) -> str | None:
    """What list the first line of the sender's own text asks for: STATUS (not from a consultant), QUEUE (only
    from one), or None."""
    line = fold(first_line(text)).strip(" .!?*_\"'")
    if agent:
        return QUEUE if line in QUEUE_WORDS else SEARCH if searched(text) else None
    return STATUS if line in STATUS_WORDS else None


def searched(text: str) -> str | None:
    """The words of a consultant's `chercher <words>` first line (None: no search asked)."""
    line = first_line(text).strip()
    head, _, words = line.partition(" ")
    if fold(head).rstrip(":") in SEARCH_WORDS and words.strip(" :"):
        return words.strip(" :")
    return None


def order(lines: Iterable[TicketLine]) -> list[TicketLine]:
    """`mailgate queue`'s order: priority, then the time since the last change, the longest first."""
    return sorted(lines, key=lambda t: (RANK.get(t.priority, 9), t.since, t.id))


def my_tickets(mail: ParsedMail, sender: Address, found: tuple[TicketLine, ...], locale: str) -> OutgoingDraft:
    """The open tickets `sender` requested, in ticket order (none: the mail says so), in reply to their mail."""
    lines = sorted(found, key=lambda t: t.id)
    return _reply(mail, sender, MailKind.MY_TICKETS, locale, lines, {"requested": len(lines)})


def my_queue(mail: ParsedMail, agent: Agent, found: tuple[TicketLine, ...], locale: str) -> OutgoingDraft:
    """The consultant's open tickets, most urgent first, to their configured address (not the mail's From nor
    Reply-To: a forged request only sends a consultant their own queue)."""
    lines = order(found)
    return _reply(mail, agent.address, MailKind.MY_QUEUE, locale, lines, {"n": len(lines)})


def answered(kind: MailKind, draft: OutgoingDraft, sender: str, listed: int, ticket_id: int | None = None) -> Outcome:
    """The mail's outcome: only the list goes out (ANSWERED), or, on a ticket, the mail is recorded there and
    nothing else changes (no status, no notice to the consultants)."""
    event = EventSpec("list_requested", {"list": kind.value, "from": sender, "tickets": listed})
    if ticket_id is None:
        return Outcome(disposition=Disposition.ANSWERED, replies=(draft,), events=(event,),
                       reason=f"{kind.value}: {listed} open ticket(s), asked by {sender}")
    return Outcome(disposition=Disposition.APPENDED, ticket_id=ticket_id, replies=(draft,),
                   events=(EventSpec("message_received", {"from": sender}), event))


def _reply(mail: ParsedMail, to: Address, kind: MailKind, locale: str, lines: list[TicketLine],
           subject_values: dict[str, object]) -> OutgoingDraft:
    lang = locale if locale in messages.LOCALES else "en"
    shown = [{"number": t.id, "title": t.title, "status": messages.status_label(t.status, lang),
              "priority": PRIORITY_WORDS[lang].get(t.priority, t.priority.value), "level": f"N{t.level}",
              "changed": f"{t.since.astimezone(UTC):{_DATE[lang]}}"} for t in lines[:MAX_LISTED]]
    in_reply_to, refs = drafts.answering(mail, None, ())
    return OutgoingDraft(kind=kind, template=kind.value, to=to, locale=lang, in_reply_to=in_reply_to,
                         references=refs, automatic=True, context={
                             "tickets": shown, "more": max(0, len(lines) - MAX_LISTED),
                             "subject": _SUBJECT[kind][lang].format(**subject_values)})
