"""Core: rule engine values (conditions, actions, rule sets, mail facts); rules_compile builds them, rules reads."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from mailgate.core.mail.mailbox import sender_of
from mailgate.core.model import ParsedMail, Priority, RequestType

BODY_LIMIT = 64 * 1024  # characters of body text the rules look at (regex cost stays bounded per mail)
KINDS = frozenset({"human", "auto_reply", "bounce", "list", "own", "challenge"})


class Field(StrEnum):
    """What a condition looks at. HEADER is written `header.<Name>` in YAML."""

    SENDER = "sender"
    SENDER_DOMAIN = "sender_domain"
    RECIPIENT = "recipient"
    SUBJECT = "subject"
    BODY = "body"
    HEADER = "header"
    ATTACHMENT = "attachment"
    ATTACHMENT_NAME = "attachment_name"
    IS_AGENT = "is_agent"
    CUSTOMER = "customer"
    KIND = "kind"


BOOL_FIELDS = frozenset({Field.IS_AGENT, Field.ATTACHMENT})


class Op(StrEnum):
    EQUALS = "equals"
    CONTAINS = "contains"
    REGEX = "regex"
    IN = "in"
    EXISTS = "exists"


REGEX, IN, CONTAINS, EQUALS, EXISTS, IS_AGENT, ATTACHMENT = range(7)
CODES: dict[str, int] = {Op.REGEX: REGEX, Op.IN: IN, Op.CONTAINS: CONTAINS, Op.EQUALS: EQUALS, Op.EXISTS: EXISTS,
                         Field.IS_AGENT: IS_AGENT, Field.ATTACHMENT: ATTACHMENT}


@dataclass(frozen=True, slots=True)
class Test:
    """One leaf condition. `key` indexes MailFacts.index ("subject", "h:x-priority"...)."""

    field: Field
    key: str
    label: str  # as written: "subject", "header.X-Priority"
    op: Op
    operand: str = ""  # equals as written (regex: the pattern text)
    folded: str = ""  # equals: the operand, casefolded unless case_sensitive
    needles: tuple[str, ...] = ()  # contains (any of them), casefolded unless case_sensitive
    options: frozenset[str] = frozenset()  # in, casefolded unless case_sensitive
    shown: tuple[str, ...] = ()  # contains/in operands as written, for explanations
    pattern: re.Pattern[str] | None = None
    flag: bool = True  # exists: true/false; the operand of a boolean field
    case_sensitive: bool = False
    groups: bool = False  # the regex has named groups
    code: int = dataclasses.field(init=False, repr=False, compare=False)  # dispatch for the matcher, see CODES

    def __post_init__(self) -> None:
        code = CODES[self.field] if self.field in BOOL_FIELDS else CODES[self.op]
        object.__setattr__(self, "code", code)


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Cond, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Cond


Cond: TypeAlias = "Test | All | AnyOf | Not"


@dataclass(frozen=True, slots=True)
class Template:
    """An action value with `{group}` placeholders filled from the rule's regex named groups."""

    text: str
    parts: tuple[tuple[str, str | None], ...] = ()  # (literal, group name or None); empty: no placeholder

    def render(self, groups: Mapping[str, str] | None) -> str | None:
        """The filled text, or None when a group it names did not take part in the match."""
        if not self.parts:
            return self.text
        out: list[str] = []
        for literal, name in self.parts:
            out.append(literal)
            if name is not None:
                value = groups.get(name) if groups is not None else None
                if value is None:
                    return None
                out.append(value)
        return "".join(out)

    def missing(self, groups: Mapping[str, str] | None) -> tuple[str, ...]:
        return tuple(n for _, n in self.parts if n is not None and (groups is None or n not in groups))


ActionValue: TypeAlias = "RequestType | Priority | int | bool | Template"
SCALAR_ACTIONS = ("type", "level", "priority", "queue", "assignee", "customer", "auto_reply", "ignore",
                  "quarantine", "dedupe_key", "recovery", "resolve")
LIST_ACTIONS = ("tags", "notify")


@dataclass(frozen=True, slots=True)
class Actions:
    """What a matching rule sets: `scalars` replace earlier values, `lists` accumulate (in action order)."""

    scalars: tuple[tuple[str, ActionValue], ...] = ()  # auto_reply False: no automatic answer
    lists: tuple[tuple[str, tuple[Template, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    file: str  # file name inside the rules folder
    line: int
    condition: Cond | None  # None: every mail
    actions: Actions
    stop: bool = False
    description: str = ""
    needs_groups: bool = False  # some action uses {group}: collect regex groups while matching
    enabled: bool = True  # `enabled: false`: loaded and checked, never matches


@dataclass(frozen=True, slots=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    files: tuple[str, ...] = ()
    folder: str = ""

    def __len__(self) -> int:
        return len(self.rules)


@dataclass(frozen=True, slots=True)
class MailFacts:
    """What rules can see of one mail. Addresses lower-cased; body capped at BODY_LIMIT characters."""

    sender: str
    sender_domain: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    headers: tuple[tuple[str, str], ...]  # (lower-cased name, decoded value)
    attachment_names: tuple[str, ...] = ()
    is_agent: bool = False
    customer: str | None = None
    kind: str = "human"
    body_truncated: bool = False
    index: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)
    folded: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)  # casefold cache

    def __post_init__(self) -> None:
        index: dict[str, tuple[str, ...]] = {
            "sender": (self.sender,) if self.sender else (),
            "sender_domain": (self.sender_domain,) if self.sender_domain else (),
            "recipient": self.recipients,
            "subject": (self.subject,),
            "body": (self.body,),
            "attachment_name": self.attachment_names,
            "customer": (self.customer,) if self.customer else (),
            "kind": (self.kind,),
        }
        for name, value in self.headers:
            key = "h:" + name
            index[key] = index.get(key, ()) + (value,)
        object.__setattr__(self, "index", index)
        object.__setattr__(self, "folded", {})


def facts_from(mail: ParsedMail, *, envelope_to: tuple[str, ...] | list[str] = (),
               attachment_names: tuple[str, ...] = (), is_agent: bool = False, customer: str | None = None,
               kind: str = "human", envelope_from: str | None = None, agents: Collection[str] = (),
               customers_by_domain: Mapping[str, str] | None = None) -> MailFacts:
    """MailFacts of a parsed mail, as the worker builds them. Recipients: the envelope's, else To + Cc (an IMAP
    mail has no envelope). The sender is an agent when `is_agent` or its address is one of `agents`; its
    customer is `customer`, else the one `customers_by_domain` gives its domain."""
    found = sender_of(mail, envelope_from)
    sender = found.email if found is not None else ""
    domain = sender.rpartition("@")[2] if "@" in sender else ""
    is_agent = is_agent or sender in agents
    if customer is None and customers_by_domain and domain:
        customer = customers_by_domain.get(domain)
    recipients = tuple(r.strip().strip("<>").lower() for r in envelope_to if r.strip()) or tuple(
        a.email for a in (*mail.to, *mail.cc))
    body = mail.text
    truncated = len(body) > BODY_LIMIT
    return MailFacts(
        sender=sender,
        sender_domain=domain,
        recipients=tuple(dict.fromkeys(recipients)),
        subject=mail.subject,
        body=body[:BODY_LIMIT] if truncated else body,
        headers=mail.headers,
        attachment_names=tuple(attachment_names),
        is_agent=is_agent,
        customer=customer,
        kind=kind,
        body_truncated=truncated,
    )

