"""Core, the first step of the per-mail path: one stored mail read and judged without the store (MIME tree,
parsed mail, sender, own text, references, classification, the rules' decision, attachments). All the pure
work of a mail, done before its transaction opens."""

from __future__ import annotations

from dataclasses import dataclass

from mailgate.core.desk import Desk
from mailgate.core.kb.model import Hit
from mailgate.core.mail import attachments, classify, quotes, signing, thread
from mailgate.core.mail.attachments import Extracted
from mailgate.core.mail.classify import Kind
from mailgate.core.mail.mailbox import sender_of
from mailgate.core.mail.parse import attachment_names, mime_tree, parse
from mailgate.core.model import Address, ParsedMail
from mailgate.core.rules.engine import Decision, evaluate
from mailgate.core.rules.model import RuleSet, facts_from
from mailgate.core.workflow import commands, lookups


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepared:
    mail: ParsedMail
    envelope_from: str | None
    sender: Address | None  # mailbox.sender_of: the From address, else the envelope sender
    text: str  # what the person wrote: the quoted history removed
    refs: thread.References
    kind: Kind  # human, auto-reply, list, bounce, challenge, or our own mail come back
    decision: Decision | None  # the rules' decision (None: no rules loaded)
    bounce_ticket: int | None  # the ticket of our mail that bounced (its signed Message-ID)
    attachments: Extracted  # the files within the limits, and the refused ones (none kept for a bounce)
    merge_targets: tuple[int, ...] = ()  # tickets a consultant's merge command names
    asks: str | None = None  # the first line asks for a list (lookups.STATUS, QUEUE, SEARCH): the store loads it
    # the knowledge base's hits, searched before the transaction (worker.py) for what may be a new request, or
    # for a consultant's `chercher`: tickets and articles for the consultants, published articles for the customer
    similar: tuple[Hit, ...] = ()
    articles: tuple[Hit, ...] = ()

    @property
    def search(self) -> str | None:
        """The words the knowledge base is searched by before the transaction, or None."""
        if self.kind.machine or self.sender is None:
            return None
        if self.asks == lookups.SEARCH:
            return lookups.searched(self.text)
        if self.refs.all or self.asks is not None:
            return None
        return f"{self.mail.subject}\n{self.text}"

    @property
    def wanted(self) -> tuple[int, ...]:
        """Every ticket the core may look at for this mail, for the store to load (and lock)."""
        extra = (self.bounce_ticket,) if self.bounce_ticket else ()
        return tuple(dict.fromkeys((*self.refs.all, *self.merge_targets, *extra)))

    @property
    def sender_email(self) -> str:
        return self.sender.email if self.sender is not None else ""


def prepare(raw: bytes, envelope_from: str | None, envelope_to: list[str], desk: Desk,
            rules: RuleSet | None) -> Prepared:
    """Never raises for a malformed mail (the parser and the classifier are total)."""
    tree = mime_tree(raw)  # parsed once; every reader below walks the same tree
    mime = None if isinstance(tree, Exception) else tree
    mail = parse(raw, tree)
    sender = sender_of(mail, envelope_from)
    email = sender.email if sender is not None else ""
    text = quotes.strip_reply(mail.text, subject=mail.subject)
    kind = classify.classify(mail, mime or raw, envelope_from, loop_token=desk.loop_token,
                             own_addresses=desk.support_addresses, own_msgid_domain=desk.message_id_domain)
    bounced = kind.bounce.original_message_id if kind.bounce else None
    decision = None
    if rules is not None and len(rules):
        facts = facts_from(mail, envelope_to=envelope_to, attachment_names=attachment_names(mime or raw),
                           agents=desk.agents, customers_by_domain=desk.customers_by_domain, kind=kind.kind,
                           envelope_from=envelope_from)
        decision = evaluate(rules, facts)
    found = Extracted()
    if kind.kind != classify.BOUNCE:  # a bounce's returned copy of our own mail is not worth keeping twice
        found = attachments.extract(mime or raw, max_file_bytes=desk.limits.max_attachment_bytes,
                                    max_total_bytes=desk.limits.max_attachments_bytes_per_mail)
    merges: list[int] = []
    if email in desk.agents:
        for command in commands.parse(text).commands:
            into = command.args.get("into")
            if command.name == "merge" and isinstance(into, int):
                merges.append(into)
    return Prepared(mail=mail, envelope_from=envelope_from, sender=sender, text=text,
                    refs=thread.references(mail, desk.secret), kind=kind, decision=decision,
                    bounce_ticket=signing.verify_message_id(bounced, desk.secret) if bounced else None,
                    attachments=found, merge_targets=tuple(merges),
                    asks=None if kind.machine else lookups.asked(text, agent=email in desk.agents))
