"""Shell, rules: what the config defines that a rule may name (agents, queues, customers, the auto_reply
templates), and why a value a rule names is none of them; checked at load and on every reload."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from mailgate.outbound.render import LOCALES, REQUIRED, SAMPLE_CONTEXT, Renderer, TemplateError

if TYPE_CHECKING:
    from mailgate.config.settings import Settings

SHOWN = 12  # names listed in a message before "... (N in all)"


@dataclass(frozen=True)
class Known:
    """The names a rule's actions and `customer` conditions are checked against. Rules loaded without a
    Known (`rules check` with no config) are checked for themselves only."""

    agents: frozenset[str] = frozenset()  # lower-cased addresses, as the config keeps them
    queues: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    templates: Path | None = None  # the templates folder; None: auto_reply names are not checked

    @classmethod
    def of(cls, settings: Settings) -> Known:
        """What `settings` defines, as the daemon runs with it."""
        return cls(agents=frozenset(a.email for a in settings.agents),
                   queues=frozenset(q.name for q in settings.queues),
                   customers=frozenset(c.name for c in settings.customers),
                   templates=settings.templates_dir)

    def action(self, name: str, value: str) -> str | None:
        """Why the action `name: value` names nothing the config has; None when it does (or is not checked)."""
        if name == "assignee" and value not in self.agents:
            return f"assignee {value!r} is not an agent; agents: {listed(self.agents)}"
        if name == "queue" and value not in self.queues:
            return f"queue {value!r} is not defined in [[queues]]; queues: {listed(self.queues)}"
        if name == "customer" and value not in self.customers:
            return f"customer {value!r} is not a customer; customers: {listed(self.customers)}"
        if name == "auto_reply":
            return self._template(value)
        return None

    def customer_condition(self, values: Iterable[str], case_sensitive: bool) -> str | None:
        """Why a `customer` condition comparing to `values` can never hold (a name that is no customer)."""
        fold = (lambda v: v) if case_sensitive else str.casefold
        names = {fold(c) for c in self.customers}
        unknown = [v for v in values if fold(v) not in names]
        if not unknown:
            return None
        return (f"customer {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
                f"{'a customer' if len(unknown) == 1 else 'customers'} (the condition would never hold); "
                f"customers: {listed(self.customers)}")

    def _template(self, name: str) -> str | None:
        """Each locale's templates/<locale>/<name>.txt.j2 must exist and render as the `ack` it replaces."""
        if self.templates is None:
            return None
        missing = [loc for loc in LOCALES if not (self.templates / loc / f"{name}.txt.j2").is_file()]
        if missing:
            paths = ", ".join(str(self.templates / loc / f"{name}.txt.j2") for loc in missing)
            return f"auto_reply {name!r}: template missing: {paths}; templates: {listed(self._names())}"
        broken = []
        for locale in LOCALES:
            try:
                self._renderer.render(name, locale, {**REQUIRED["ack"], **SAMPLE_CONTEXT})
            except TemplateError as exc:
                broken.append(str(exc))
        return f"auto_reply {name!r}: the template does not render: {'; '.join(broken)}" if broken else None

    @cached_property
    def _renderer(self) -> Renderer:
        assert self.templates is not None
        return Renderer(self.templates)

    def _names(self) -> set[str]:
        """The templates every locale has (not the `_name` parts others include)."""
        assert self.templates is not None
        found = [{p.name.removesuffix(".txt.j2") for p in (self.templates / loc).glob("*.txt.j2")
                  if not p.name.startswith("_")} for loc in LOCALES]
        return set.intersection(*found)


def listed(names: Iterable[str]) -> str:
    """`a, b, c`, at most SHOWN of them, or `none in the config`."""
    ordered = sorted(names, key=str.casefold)
    if not ordered:
        return "none in the config"
    more = f", ... ({len(ordered)} in all)" if len(ordered) > SHOWN else ""
    return ", ".join(ordered[:SHOWN]) + more
