"""Core: a RuleSet + one mail's MailFacts -> Decision (routing fields, which rule set each, every hit and miss).

Semantics (docs/rules.md): rules run in order; a matching rule's scalar actions replace values set by
earlier rules (last hit wins), its `tags` and `notify` accumulate; `stop: true` ends the evaluation, so a
guard that must have the last word stops. Reasons are computed on demand from the same matching code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from mailgate.core.model import Priority, RequestType
from mailgate.core.rules.match import explain, leaf_holds, match_into
from mailgate.core.rules.model import Cond, MailFacts, Rule, RuleSet, Template, Test


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule considered for one mail. `reason` is worked out when read (cheap evaluation, exact text)."""

    rule: str
    file: str
    line: int
    matched: bool
    cond: Cond | None = field(default=None, repr=False, compare=False)
    facts: MailFacts | None = field(default=None, repr=False, compare=False)
    enabled: bool = True  # False: the rule says `enabled: false` and never matches

    @property
    def reason(self) -> str:
        if not self.enabled:
            return "disabled (enabled: false): never matches"
        if self.cond is None or self.facts is None:
            return "no conditions: matches every mail"
        return explain(self.cond, self.facts)[1]

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"rule": self.rule, "file": self.file, "line": self.line, "matched": self.matched,
                                  "reason": self.reason}
        if not self.enabled:
            out["disabled"] = True
        return out


@dataclass(frozen=True, slots=True)
class Decision:
    """The rules' verdict. None/False/() means no rule said anything: the caller's defaults apply."""

    type: RequestType | None = None
    level: int | None = None
    priority: Priority | None = None
    queue: str | None = None
    assignee: str | None = None
    customer: str | None = None
    tags: tuple[str, ...] = ()
    auto_reply: str | Literal[False] | None = None  # a template name; False: send no automatic answer
    ignore: bool = False  # store the mail, open no ticket
    quarantine: bool = False
    notify: tuple[str, ...] = ()
    dedupe_key: str | None = None
    recovery: bool = False  # a recovery alert for dedupe_key
    resolve: bool = False  # ... which resolves the open ticket with that key
    outcomes: tuple[bool, ...] = ()  # hit or miss of every rule considered, in rule order
    set_by: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # field -> rules that set it, last wins
    stopped_by: str | None = None
    notes: tuple[str, ...] = ()  # actions not applied (a {group} that did not match)
    rules: tuple[Rule, ...] = field(default=(), repr=False, compare=False)
    facts: MailFacts | None = field(default=None, repr=False, compare=False)

    @property
    def hits(self) -> tuple[Hit, ...]:
        """Every rule considered, in order, hit or miss (built on demand: evaluation only records outcomes)."""
        return tuple(Hit(r.name, r.file, r.line, ok, r.condition, self.facts, r.enabled)
                     for r, ok in zip(self.rules, self.outcomes, strict=False))

    @property
    def matched(self) -> tuple[str, ...]:
        return tuple(r.name for r, ok in zip(self.rules, self.outcomes, strict=False) if ok)

    def fields(self) -> dict[str, object]:
        """The fields some rule set, JSON-ready."""
        out: dict[str, object] = {}
        for name in self.set_by:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else str(value) if isinstance(value, StrEnum) else value
        return out

    def as_json(self, *, misses: Literal["full", "names", "none"] = "full") -> dict[str, object]:
        """For the ticket's event: the fields, who set them, and every rule considered with its reason.
        misses="names" keeps only the rule of each miss (a tenth of the cost with hundreds of rules; the
        reasons can be recomputed with `mailgate rules explain` on the stored mail); "none" drops misses."""
        hits: list[dict[str, object]] = []
        for rule, ok in zip(self.rules, self.outcomes, strict=False):
            if ok or misses == "full":
                hits.append(Hit(rule.name, rule.file, rule.line, ok, rule.condition, self.facts,
                                rule.enabled).as_json())
            elif misses == "names":
                hits.append({"rule": rule.name, "file": rule.file, "line": rule.line, "matched": False}
                            | ({} if rule.enabled else {"disabled": True}))
        return {
            "fields": self.fields(),
            "set_by": {k: list(v) for k, v in self.set_by.items()},
            "stopped_by": self.stopped_by,
            "notes": list(self.notes),
            "hits": hits,
        }


def evaluate(rules: RuleSet, facts: MailFacts) -> Decision:
    """Run every rule in order until one with `stop` matches; a disabled rule is a miss."""
    values: dict[str, object] = {}
    lists: dict[str, list[str]] = {}
    set_by: dict[str, list[str]] = {}
    notes: list[str] = []
    outcomes: list[bool] = []
    stopped: str | None = None
    for rule in rules.rules:
        cond = rule.condition
        groups: dict[str, str] | None = {} if rule.needs_groups else None
        if not rule.enabled:
            ok = False
        elif cond is None:
            ok = True
        elif type(cond) is Test:
            ok = leaf_holds(cond, facts, groups)
        else:
            ok = match_into(cond, facts, groups)
        outcomes.append(ok)
        if ok:
            _apply(rule, groups, values, lists, set_by, notes)
            if rule.stop:
                stopped = rule.name
                break
    return _decision(values, lists, set_by, stopped, tuple(notes), tuple(outcomes),
                     rules.rules[:len(outcomes)], facts)

def _apply(rule: Rule, groups: dict[str, str] | None, values: dict[str, object], lists: dict[str, list[str]],
           set_by: dict[str, list[str]], notes: list[str]) -> None:
    for name, value in rule.actions.scalars:
        if type(value) is Template:
            rendered = value.render(groups)
            if rendered is None:
                notes.append(f"rule {rule.name}: {name} not set: group(s) {', '.join(value.missing(groups))} "
                             "did not take part in the match")
                continue
            values[name] = rendered
        else:
            values[name] = value
        set_by.setdefault(name, []).append(rule.name)
    for name, templates in rule.actions.lists:
        out = lists.setdefault(name, [])
        for template in templates:
            rendered = template.render(groups)
            if rendered is None:
                notes.append(f"rule {rule.name}: {name} {template.text!r} not added: group(s) "
                             f"{', '.join(template.missing(groups))} did not take part in the match")
            elif rendered not in out:
                out.append(rendered)
        set_by.setdefault(name, []).append(rule.name)


def _decision(values: dict[str, object], lists: dict[str, list[str]], set_by: dict[str, list[str]],
              stopped: str | None, notes: tuple[str, ...], outcomes: tuple[bool, ...], rules: tuple[Rule, ...],
              facts: MailFacts) -> Decision:
    def text(name: str) -> str | None:
        value = values.get(name)
        return value if isinstance(value, str) else None

    kind = values.get("type")
    level = values.get("level")
    priority = values.get("priority")
    auto = values.get("auto_reply")
    return Decision(
        type=kind if isinstance(kind, RequestType) else None,
        level=level if isinstance(level, int) and not isinstance(level, bool) else None,
        priority=priority if isinstance(priority, Priority) else None,
        queue=text("queue"),
        assignee=text("assignee"),
        customer=text("customer"),
        tags=tuple(lists.get("tags", ())),
        auto_reply=auto if isinstance(auto, str) or auto is False else None,
        ignore=values.get("ignore") is True,
        quarantine=values.get("quarantine") is True,
        notify=tuple(lists.get("notify", ())),
        dedupe_key=text("dedupe_key"),
        recovery=values.get("recovery") is True,
        resolve=values.get("resolve") is True,
        set_by={k: tuple(v) for k, v in set_by.items()},
        stopped_by=stopped,
        notes=notes,
        outcomes=outcomes,
        rules=rules,
        facts=facts,
    )
