"""Core: does a compiled condition hold for one mail's MailFacts, and why (the words of `rules explain`)."""

from __future__ import annotations

from mailgate.core.rules.model import (
    CONTAINS,
    EXISTS,
    IN,
    IS_AGENT,
    REGEX,
    All,
    AnyOf,
    Cond,
    Field,
    MailFacts,
    Not,
    Op,
    Test,
)

SHOW = 60  # characters of a value quoted in a reason


def match(cond: Cond, facts: MailFacts) -> tuple[bool, dict[str, str]]:
    """Whether a condition holds, with the named groups its regexes captured."""
    groups: dict[str, str] = {}
    return match_into(cond, facts, groups), groups


def match_into(cond: Cond, facts: MailFacts, groups: dict[str, str] | None) -> bool:
    if type(cond) is Test:
        return leaf_holds(cond, facts, groups)
    if type(cond) is All:
        for item in cond.items:
            if not match_into(item, facts, groups):
                return False
        return True
    if type(cond) is AnyOf:
        for item in cond.items:
            if groups is None:
                if match_into(item, facts, None):
                    return True
            else:
                scratch: dict[str, str] = {}  # a branch that fails halfway must not leak its groups
                if match_into(item, facts, scratch):
                    groups.update(scratch)
                    return True
        return False
    assert type(cond) is Not
    return not match_into(cond.item, facts, None)


def leaf_holds(t: Test, facts: MailFacts, groups: dict[str, str] | None) -> bool:
    code = t.code
    if code == REGEX:
        pattern = t.pattern
        assert pattern is not None
        for value in facts.index.get(t.key, ()):
            m = pattern.search(value)
            if m is not None:
                if groups is not None and t.groups:
                    for name, got in m.groupdict().items():
                        if got is not None:
                            groups[name] = got
                return True
        return False
    if code >= IS_AGENT:
        return (facts.is_agent if code == IS_AGENT else bool(facts.attachment_names)) is t.flag
    if code == EXISTS:
        for value in facts.index.get(t.key, ()):
            if value:
                return t.flag
        return not t.flag
    if t.case_sensitive:
        values = facts.index.get(t.key, ())
    else:
        cached = facts.folded.get(t.key)
        values = cached if cached is not None else folded_values(facts, t.key, facts.index.get(t.key, ()))
    if code == IN:
        options = t.options
        for value in values:
            if value in options:
                return True
        return False
    if code == CONTAINS:
        for value in values:
            for needle in t.needles:
                if needle in value:
                    return True
        return False
    return t.folded in values


def folded_values(facts: MailFacts, key: str, values: tuple[str, ...]) -> tuple[str, ...]:
    got = facts.folded.get(key)
    if got is None:
        got = tuple(v.casefold() for v in values)
        facts.folded[key] = got
    return got


def explain(cond: Cond, facts: MailFacts) -> tuple[bool, str]:
    """Whether a condition holds and why, in words; follows _match's order and short-circuits."""
    if type(cond) is Test:
        ok = leaf_holds(cond, facts, None)
        return ok, _describe(cond, facts)
    if type(cond) is All:
        reasons: list[str] = []
        for item in cond.items:
            ok, reason = explain(item, facts)
            if not ok:
                return False, reason
            reasons.append(reason)
        return True, " and ".join(reasons)
    if type(cond) is AnyOf:
        misses: list[str] = []
        for item in cond.items:
            ok, reason = explain(item, facts)
            if ok:
                return True, reason
            misses.append(reason)
        return False, "none of (" + "; ".join(misses) + ")"
    assert type(cond) is Not
    ok, reason = explain(cond.item, facts)
    return not ok, f"not ({reason})"


def _describe(t: Test, facts: MailFacts) -> str:
    label = t.label
    if t.field is Field.IS_AGENT:
        return f"is_agent is {str(facts.is_agent).lower()}"
    if t.field is Field.ATTACHMENT:
        names = facts.attachment_names
        return f"{len(names)} attachment(s) {_many(names)}" if names else "no attachment"
    values = facts.index.get(t.key, ())
    present = [v for v in values if v]
    shown = "body" if t.field is Field.BODY else f"{label} {_many(values)}"
    cs = " (case-sensitive)" if t.case_sensitive and t.op is not Op.EXISTS else ""
    if t.op is Op.EXISTS:
        return f"{label} exists: {_many(present)}" if present else f"{label} is absent or empty"
    if not values:
        return f"{label} is absent"
    if t.op is Op.REGEX:
        assert t.pattern is not None
        for value in values:
            m = t.pattern.search(value)
            if m is not None:
                where = _show(m.group(0)) if t.field is Field.BODY else _show(value)
                found = {k: v for k, v in m.groupdict().items() if v is not None}
                extra = " (" + ", ".join(f"{k}={_show(v)}" for k, v in found.items()) + ")" if found else ""
                return f"{label} matches regex {_show(t.operand)} at {where}{extra}"
        return f"{shown} does not match regex {_show(t.operand)}{cs}"
    ok = leaf_holds(t, facts, None)
    folded = values if t.case_sensitive else folded_values(facts, t.key, values)
    if t.op is Op.EQUALS:
        return f"{shown} equals {_show(t.operand)}{cs}" if ok else f"{shown} is not {_show(t.operand)}{cs}"
    if t.op is Op.CONTAINS:
        if not ok:
            what = f"contain {_show(t.shown[0])}" if len(t.shown) == 1 else f"contain any of {_options(t.shown)}"
            return f"{shown} does not {what}{cs}"
        value, needle = next((v, n) for v, f in zip(values, folded, strict=True)
                             for n, folded_needle in zip(t.shown, t.needles, strict=True) if folded_needle in f)
        return f"{'body' if t.field is Field.BODY else label + ' ' + _show(value)} contains {_show(needle)}{cs}"
    if ok:
        shown = f"{label} " + next(_show(v) for v, f in zip(values, folded, strict=True) if f in t.options)
    return f"{shown} {'in' if ok else 'not in'} {_options(t.shown)}{cs}"


def _show(text: str) -> str:
    text = text.replace("\n", " ").replace("\r", " ")
    return "'" + (text[:SHOW] + "…" if len(text) > SHOW else text) + "'"


def _many(values: tuple[str, ...] | list[str]) -> str:
    if len(values) == 1:
        return _show(values[0])
    return "[" + ", ".join(_show(v) for v in values[:5]) + (f", …(+{len(values) - 5})" if len(values) > 5 else "") + "]"


def _options(options: tuple[str, ...]) -> str:
    more = f", …(+{len(options) - 8})" if len(options) > 8 else ""
    return "[" + ", ".join(options[:8]) + more + "]"
