"""Shell, rules: one rules YAML text -> compiled core Rules, or errors naming file, line and rule (for `load`)."""

from __future__ import annotations

import re
import string

from pydantic import BaseModel, ValidationError

from mailgate.core.model import Priority, RequestType
from mailgate.core.rules.model import (
    BOOL_FIELDS,
    KINDS,
    LIST_ACTIONS,
    SCALAR_ACTIONS,
    Actions,
    ActionValue,
    All,
    AnyOf,
    Cond,
    Not,
    Op,
    Rule,
    Template,
    Test,
)
from mailgate.core.rules.model import Field as F
from mailgate.rules.refs import Known
from mailgate.rules.schema import ActionsSpec, OpSpec, RuleSpec
from mailgate.rules.source import Path, Source

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")
_FIELDS = frozenset(f.value for f in F if f is not F.HEADER)
CONDITION_KEYS = ", ".join([*(f.value for f in F if f is not F.HEADER), "header.<Name>", "all", "any", "not"])


class Compiler:
    """Compiles one file. `errors` collects `file:line: rule 'name': what` strings. With `known`, the names
    rules give (assignee, queue, customer, auto_reply template) are checked against the config's."""

    def __init__(self, display: str, file: str, known: Known | None = None) -> None:
        self.display, self.file, self.known = display, file, known
        self.source = Source(display)
        self.names: dict[int, str] = {}
        self.errors: list[str] = []
        self._groups: set[str] = set()

    def compile(self, text: str) -> list[Rule]:
        data, problem = self.source.read(text)
        if problem is not None:
            self.errors.append(problem)
            return []
        if data is None:
            return []
        if not isinstance(data, dict) or "rules" not in data:
            self.error((), "a rules file is a mapping with a `rules:` list")
            return []
        for key in data:
            if key != "rules":
                self.error((key,), f"unknown key {key!r} (a rules file has only `rules:`)")
        items = data["rules"]
        if items is None:
            return []
        if not isinstance(items, list):
            self.error(("rules",), "`rules:` must be a list of rules")
            return []
        for i, item in enumerate(items):
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                self.names[i] = item["name"]
        for path, line, message in self.source.duplicates:
            self.error(path, message, line=line)
        bad = {path[:2] for path, _, _ in self.source.duplicates}
        rules = [self._rule(i, item) for i, item in enumerate(items) if ("rules", i) not in bad]
        return [r for r in rules if r is not None]

    def error(self, path: Path, message: str, *, line: int | None = None) -> None:
        where = f"{self.display}:{line or self.source.line_of(path)}:"
        if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
            where += f" rule {self.names.get(path[1], f'#{path[1] + 1}')!r}:"
        self.errors.append(f"{where} {message}")

    # ------------------------------------------------------------ rules

    def _rule(self, i: int, item: object) -> Rule | None:
        path: Path = ("rules", i)
        if not isinstance(item, dict):
            self.error(path, "a rule is a mapping with name, when, then (and optional description, stop)")
            return None
        before = len(self.errors)
        self._groups = set()
        when = item.get("when")
        cond = None if when is None else self._cond(when, path + ("when",), negated=False)
        try:
            spec = RuleSpec.model_validate(item)
        except ValidationError as exc:
            self._pydantic(path, exc, RuleSpec)
            return None
        if not spec.then.model_fields_set and not spec.stop:
            self.error(path, "a rule needs `then:` actions or `stop: true`")
        actions, needs_groups = self._actions(spec.then, path + ("then",))
        if len(self.errors) > before:
            return None
        return Rule(name=spec.name, file=self.file, line=self.source.lines.get(path, 1), condition=cond,
                    actions=actions, stop=spec.stop, description=spec.description, needs_groups=needs_groups,
                    enabled=spec.enabled)

    def _pydantic(self, path: Path, exc: ValidationError, model: type[BaseModel]) -> None:
        for err in exc.errors():
            loc = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                where = "action" if loc[:1] == ("then",) else "key"
                known = ActionsSpec if loc[:1] == ("then",) else model
                names = ", ".join(f.alias or n for n, f in known.model_fields.items())
                msg = f"unknown {where} {loc[-1]!r} (known: {names})"
            elif err["type"] == "string_pattern_mismatch" and loc[-1] == "name":
                msg = "name: letters, digits and _ . : - only, starting with a letter or digit"
            elif err["type"] == "string_pattern_mismatch":
                msg = f"{'.'.join(map(str, loc))}: must be an e-mail address"
            elif loc:
                msg = f"{'.'.join(map(str, loc))}: {msg}"
            self.error(path + loc, msg)

    def _actions(self, spec: ActionsSpec, path: Path) -> tuple[Actions, bool]:
        scalars: list[tuple[str, ActionValue]] = []
        lists: list[tuple[str, tuple[Template, ...]]] = []
        for name in SCALAR_ACTIONS:
            value = getattr(spec, name)
            if value is None:
                continue
            if isinstance(value, str) and not isinstance(value, RequestType | Priority):
                template = self._template(value, path + (name,))
                if template is not None and self._known(name, template, path + (name,)):
                    scalars.append((name, template))
            else:
                scalars.append((name, value))
        for name in LIST_ACTIONS:
            values: list[str] = getattr(spec, name)
            if values:
                made = [self._template(v, path + (name, j)) for j, v in enumerate(values)]
                lists.append((name, tuple(t for t in made if t is not None)))
        needs = any(isinstance(v, Template) and v.parts for _, v in scalars) or any(
            t.parts for _, ts in lists for t in ts)
        return Actions(scalars=tuple(scalars), lists=tuple(lists)), needs

    def _known(self, name: str, template: Template, path: Path) -> bool:
        """An action naming an agent, queue, customer or template names one the config has ({group}: unknown)."""
        problem = self.known.action(name, template.text) if self.known and not template.parts else None
        if problem is not None:
            self.error(path, problem)
        return problem is None

    def _template(self, text: str, path: Path) -> Template | None:
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            self.error(path, f"bad template {text!r}: {exc} (write {{{{ and }}}} for literal braces)")
            return None
        parts: list[tuple[str, str | None]] = []
        for literal, name, spec, conversion in parsed:
            if name is not None and (not name.isidentifier() or spec or conversion):
                self.error(path, f"bad template {text!r}: use plain {{group}} placeholders")
                return None
            if name is not None and name not in self._groups:
                self.error(path, f"template {text!r} uses {{{name}}} but no regex of this rule (outside `not`) "
                                 f"has a group (?P<{name}>...)")
                return None
            parts.append((literal, name))
        if all(name is None for _, name in parts):
            return Template("".join(literal for literal, _ in parts))
        return Template(text, tuple(parts))

    # ------------------------------------------------------------ conditions

    def _cond(self, data: object, path: Path, *, negated: bool) -> Cond | None:
        if isinstance(data, list):
            if not data:
                self.error(path, "an empty list of conditions")
                return None
            items = [self._cond(d, path + (i,), negated=negated) for i, d in enumerate(data)]
            return _combine(items, All)
        if not isinstance(data, dict) or not data:
            self.error(path, "a condition is a mapping such as {subject: {contains: x}}, or a list of them")
            return None
        parts: list[Cond | None] = []
        for key, value in data.items():
            sub = path + (key,)
            if key in ("all", "any"):
                if not isinstance(value, list) or not value:
                    self.error(sub, f"`{key}` takes a non-empty list of conditions")
                    parts.append(None)
                    continue
                items = [self._cond(v, sub + (i,), negated=negated) for i, v in enumerate(value)]
                parts.append(_combine(items, All if key == "all" else AnyOf))
            elif key == "not":
                inner = self._cond(value, sub, negated=True)
                parts.append(None if inner is None else Not(inner))
            else:
                parts.append(self._leaf(str(key), value, sub, negated))
        return _combine(parts, All)

    def _leaf(self, key: str, value: object, path: Path, negated: bool) -> Test | None:
        if key.startswith("header."):
            header = key.removeprefix("header.")
            if not _HEADER_NAME.match(header):
                self.error(path, f"bad header name {header!r}")
                return None
            field, index = F.HEADER, "h:" + header.lower()
        elif key in _FIELDS:
            field, index = F(key), key
        else:
            self.error(path, f"unknown condition {key!r} (known: {CONDITION_KEYS})")
            return None
        if value is None:
            self.error(path, f"{key}: give a value or an operator, e.g. {key}: {{exists: true}}")
            return None
        raw = value if isinstance(value, dict) else {"in": value} if isinstance(value, list) else {"equals": value}
        try:
            spec = OpSpec.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                loc = tuple(err["loc"]) if isinstance(value, dict) else ()
                message = err["msg"].removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    message = f"unknown operator {loc[-1]!r} (known: equals, contains, regex, in, exists, " \
                              "case_sensitive)"
                self.error(path + loc, f"{key}: {message}")
            return None
        cs = spec.case_sensitive
        if field in BOOL_FIELDS:
            if not isinstance(spec.equals, bool):
                self.error(path, f"{key} takes true or false")
                return None
            return Test(field, index, key, Op.EQUALS, flag=spec.equals)
        if spec.exists is not None:
            return Test(field, index, key, Op.EXISTS, flag=spec.exists)
        if isinstance(spec.equals, bool):
            self.error(path, f"{key} compares text, and YAML read this value as {spec.equals}: quote it")
            return None
        if spec.regex is not None:
            flags = re.MULTILINE | (0 if cs else re.IGNORECASE)
            try:
                pattern = re.compile(spec.regex, flags)
            except re.error as exc:
                self.error(path + ("regex",), f"{key}: bad regex '{spec.regex}': {exc.msg} at position {exc.pos}")
                return None
            if not negated:
                self._groups.update(pattern.groupindex)
            return Test(field, index, key, Op.REGEX, operand=spec.regex, pattern=pattern, case_sensitive=cs,
                        groups=bool(pattern.groupindex))
        if spec.in_ is not None:
            shown = tuple(str(v) for v in spec.in_)
            if not self._values(field, shown, path, key, cs):
                return None
            options = frozenset(shown if cs else (v.casefold() for v in shown))
            return Test(field, index, key, Op.IN, options=options, shown=shown, case_sensitive=cs)
        if spec.contains is not None:
            needles = (spec.contains,) if isinstance(spec.contains, str) else tuple(spec.contains)
            if not all(needles):
                self.error(path, f"{key}: contains needs some text")
                return None
            return Test(field, index, key, Op.CONTAINS, shown=needles, case_sensitive=cs,
                        needles=needles if cs else tuple(n.casefold() for n in needles))
        operand = str(spec.equals)
        if not self._values(field, (operand,), path, key, cs):
            return None
        return Test(field, index, key, Op.EQUALS, operand=operand, folded=operand if cs else operand.casefold(),
                    case_sensitive=cs)

    def _values(self, field: F, values: tuple[str, ...], path: Path, key: str, cs: bool) -> bool:
        """`kind` values are kinds; `customer` values, customers of the config (when there is one)."""
        unknown = [v for v in values if field is F.KIND and v.lower() not in KINDS]
        if unknown:
            self.error(path, f"{key}: unknown kind(s) {', '.join(unknown)} (known: {', '.join(sorted(KINDS))})")
        problem = self.known.customer_condition(values, cs) if field is F.CUSTOMER and self.known else None
        if problem is not None:
            self.error(path, problem)
        return not unknown and problem is None


def _combine(items: list[Cond | None], kind: type[All] | type[AnyOf]) -> Cond | None:
    if any(item is None for item in items):
        return None
    conds = tuple(item for item in items if item is not None)
    return conds[0] if len(conds) == 1 else kind(conds)


def compile_text(text: str, display: str, file: str, known: Known | None = None) -> tuple[list[Rule], list[str]]:
    """Rules of one file's text; `display` names the file in errors, `file` on the rules; `known`: the config's
    agents, queues, customers and templates the rules' values must name."""
    compiler = Compiler(display, file, known)
    rules = compiler.compile(text)
    return rules, compiler.errors
