"""Shell: rules folder -> validated RuleSet (all or nothing); RulesHolder swaps in edits on reload/change."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mailgate import log
from mailgate.core.rules.model import Rule, RuleSet
from mailgate.rules.compile import compile_text
from mailgate.rules.refs import Known

if TYPE_CHECKING:
    from mailgate.config.settings import Settings

SUFFIXES = (".yaml", ".yml")
Signature = tuple[tuple[str, int, int], ...]


class RulesError(Exception):
    """The rules cannot be used; `errors` lists every problem as `file:line: rule 'name': what`."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True, slots=True, kw_only=True)
class Reload:
    """How one reload went: `ok` (the new set is in use) or refused for `errors` (the previous set stays);
    `rules`: how many are in use after it."""

    ok: bool
    rules: int
    errors: tuple[str, ...] = ()


def rule_files(folder: Path) -> list[Path]:
    """The rule files in the order they apply: *.yaml and *.yml by file name; hidden files are skipped
    (editors' lock and swap files)."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".") and p.is_file()]
    return sorted(found, key=lambda p: p.name)


def load_rules(folder: Path, known: Known | None = None) -> RuleSet:
    """Every rule of every file, compiled (and, with `known`, checked against the config it will run with:
    agents, queues, customers, templates); RulesError listing all problems. No folder: no rules."""
    files = rule_files(folder)
    rules: list[Rule] = []
    errors: list[str] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        got, problems = compile_text(text, str(path), path.name, known)
        rules.extend(got)
        errors.extend(problems)
    first: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in first:
            other = first[rule.name]
            errors.append(f"{folder / rule.file}:{rule.line}: rule {rule.name!r}: the name is already used at "
                          f"{folder / other.file}:{other.line} (names identify rules in explanations and events)")
        else:
            first[rule.name] = rule
    if errors:
        raise RulesError(errors)
    return RuleSet(rules=tuple(rules), files=tuple(p.name for p in files), folder=str(folder))


def signature(folder: Path) -> Signature:
    """(name, mtime_ns, size) of every rule file: any edit, new file, removal or rename changes it."""
    out: list[tuple[str, int, int]] = []
    for path in rule_files(folder):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        out.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(out)


class RulesHolder:
    """The active RuleSet. Readers take `holder.rules` once per mail; a reload replaces it in one assignment.
    `known`: the config the rules run with; every load and reload checks the rules against it."""

    def __init__(self, folder: Path, rules: RuleSet | None = None, known: Known | None = None) -> None:
        self.folder = folder
        self.known = known
        self._rules = rules if rules is not None else RuleSet(folder=str(folder))
        self._lock = threading.Lock()
        self._loaded: Signature | None = None
        self._failed: Signature | None = None
        self.last_error: RulesError | None = None
        self.on_reload: list[Callable[[Reload], None]] = []  # told of each reload's result (from its thread)
        self._log = log.get("rules")

    @classmethod
    def open(cls, folder: Path, known: Known | None = None) -> RulesHolder:
        """Load the folder now; RulesError if it is bad (the daemon refuses to start)."""
        before = signature(folder)
        holder = cls(folder, load_rules(folder, known), known)
        holder._loaded = before
        return holder

    @classmethod
    def of(cls, settings: Settings) -> RulesHolder:
        """The configured folder, checked against the config (its agents, queues, customers, templates)."""
        return cls.open(settings.rules_dir, Known.of(settings))

    @property
    def rules(self) -> RuleSet:
        return self._rules

    def reload(self) -> bool:
        """Load the folder again; on success swap it in and return True. On failure log every error, keep
        the active set and return False; a folder left without any rule file keeps the active set too. A file
        changing while it is read is read again (up to 3 times). Each of `on_reload` is told the result."""
        with self._lock:
            result = self._reload()
        for tell in self.on_reload:
            tell(result)
        return result.ok

    def _reload(self) -> Reload:
        error: RulesError | None = None
        for _ in range(3):
            before = signature(self.folder)
            try:
                new = load_rules(self.folder, self.known)
            except RulesError as exc:
                error, new = exc, None
            if signature(self.folder) == before:
                break
        else:
            error, new = RulesError([f"{self.folder}: the rule files kept changing while being read"]), None
        if new is None:
            assert error is not None
            self.last_error, self._failed = error, before
            self._log.error("rules_rejected", folder=str(self.folder), errors=list(error.errors),
                            kept=len(self._rules), detail="the previous rules stay active")
            return Reload(ok=False, rules=len(self._rules), errors=error.errors)
        if not new.files and self._rules.files:  # deleted, unmounted, emptied by a deploy half-way
            self._failed = before
            self._log.warning("rules_folder_empty", folder=str(self.folder), kept=len(self._rules),
                              detail="no rule file found; the previous rules stay active")
            return Reload(ok=False, rules=len(self._rules), errors=(f"{self.folder}: no rule file found",))
        self._rules, self._loaded, self._failed, self.last_error = new, before, None, None
        self._log.info("rules_loaded", folder=str(self.folder), rules=len(new), files=len(new.files))
        return Reload(ok=True, rules=len(new))

    def changed(self) -> bool:
        """Whether the files differ from the last set loaded or refused."""
        now = signature(self.folder)
        return now != self._loaded and now != self._failed

    async def watch(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Poll the folder every `interval` seconds until `stop` is set; reload once a change has stayed the
        same for one more interval (so a file still being written is not read half-way)."""
        pending: Signature | None = None
        while True:
            try:
                await asyncio.wait_for(stop.wait(), interval)
                return
            except TimeoutError:
                pass
            try:
                now = signature(self.folder)
            except OSError as exc:
                self._log.warning("rules_watch_failed", folder=str(self.folder), error=str(exc))
                continue
            if now == self._loaded or now == self._failed:
                pending = None
            elif now != pending:
                pending = now
            else:
                pending = None
                try:
                    await asyncio.to_thread(self.reload)
                except Exception as exc:  # never the end of the daemon: the active rules stay
                    self._log.error("rules_reload_failed", folder=str(self.folder), error=str(exc), exc_info=exc)
