"""Shell, command line: `mailgate rules check|explain`: the rules as the daemon loads them, and what they do."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from mailgate.core.mail import classify
from mailgate.core.mail.parse import attachment_names, parse
from mailgate.core.model import ParsedMail
from mailgate.core.rules.engine import Decision, evaluate
from mailgate.core.rules.model import KINDS, MailFacts, RuleSet, facts_from
from mailgate.exits import EX_CONFIG
from mailgate.rules.load import RulesError, load_rules

_rules_option = click.option(
    "--rules", "rules_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
    help="The rules folder (*.yaml applied in file-name order); default: the config's (gateway.rules, else "
         "the rules/ shipped with mailgate).")


def _folder(rules_dir: Path | None) -> Path:
    """--rules, else the configured folder (the config file of -c, when it exists), else ./rules."""
    if rules_dir is not None:
        return rules_dir
    ctx = click.get_current_context()
    path = (ctx.find_root().obj or {}).get("config_path")
    if path and Path(path).exists():
        from mailgate.config.sections import ConfigError
        from mailgate.config.settings import load

        try:
            return load(path).rules_dir
        except ConfigError as exc:
            click.echo(f"mailgate: invalid configuration:\n{exc}", err=True)
            sys.exit(EX_CONFIG)
    return Path("rules")


@click.group("rules")
def rules() -> None:
    """Routing rules (rules/*.yaml): validate them; explain what they do to a mail."""


@rules.command("check")
@_rules_option
def check(rules_dir: Path | None) -> None:
    """Load every rule file as the daemon would; print each problem (file:line: rule) and exit 78 if any."""
    rules_dir = _folder(rules_dir)
    ruleset = _load(rules_dir)
    if not rules_dir.is_dir():
        click.echo(f"{rules_dir}: no such folder, so no rules: every mail gets the configured defaults")
        return
    click.echo(f"{rules_dir}: OK ({len(ruleset)} rules in {len(ruleset.files)} files)")


@rules.command("explain")
@click.argument("mail", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@click.option("--to", "envelope_to", multiple=True, help="Envelope recipient(s); default: the To and Cc addresses.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default=None,
              help="The mail's kind; default: guessed from its headers.")
@click.option("--agent", is_flag=True, help="Treat the sender as an agent.")
@click.option("--customer", default=None, help="Treat the sender as this known customer.")
def explain(mail: Path, rules_dir: Path | None, as_json: bool, envelope_to: tuple[str, ...], kind: str | None,
            agent: bool, customer: str | None) -> None:
    """Show every rule with hit or miss and the reason, then the decision, for one .eml file."""
    rules_dir = _folder(rules_dir)
    ruleset = _load(rules_dir)
    raw = mail.read_bytes()
    parsed = parse(raw)
    facts = facts_from(parsed, envelope_to=envelope_to, attachment_names=attachment_names(raw), is_agent=agent,
                       customer=customer, kind=kind or guess_kind(parsed, raw))
    decision = evaluate(ruleset, facts)
    if as_json:
        click.echo(json.dumps(_document(mail, ruleset, facts, decision), ensure_ascii=False, indent=2))
    else:
        click.echo(_text(mail, ruleset, facts, decision, kind_guessed=kind is None))


def _load(rules_dir: Path) -> RuleSet:
    try:
        return load_rules(rules_dir)
    except RulesError as exc:
        for error in exc.errors:
            click.echo(error, err=True)
        click.echo(f"mailgate: {len(exc.errors)} error(s) in {rules_dir}", err=True)
        sys.exit(EX_CONFIG)


def guess_kind(mail: ParsedMail, raw: bytes = b"") -> str:
    """The mail's kind as the daemon classifies it (without the config: our own addresses unknown)."""
    return classify.classify(mail, raw or None, None, loop_token="", own_addresses=frozenset(),
                             own_msgid_domain="").kind


def _facts_json(facts: MailFacts) -> dict[str, Any]:
    return {"sender": facts.sender, "sender_domain": facts.sender_domain, "recipients": list(facts.recipients),
            "subject": facts.subject, "attachment_names": list(facts.attachment_names), "is_agent": facts.is_agent,
            "customer": facts.customer, "kind": facts.kind, "body_truncated": facts.body_truncated}


def _document(mail: Path, ruleset: RuleSet, facts: MailFacts, decision: Decision) -> dict[str, Any]:
    considered = len(decision.hits)
    result = decision.as_json()
    hits = result.pop("hits")
    return {
        "rules": ruleset.folder, "mail": str(mail), "facts": _facts_json(facts), "hits": hits,
        "not_evaluated": [{"rule": r.name, "file": r.file, "line": r.line} for r in ruleset.rules[considered:]],
        "decision": result,
    }


def _text(mail: Path, ruleset: RuleSet, facts: MailFacts, decision: Decision, *, kind_guessed: bool) -> str:
    lines = [
        f"rules: {ruleset.folder} ({len(ruleset)} rules in {len(ruleset.files)} files)",
        f"mail:  {mail}",
        f"  from {facts.sender or '(none)'} to {', '.join(facts.recipients) or '(none)'}; kind {facts.kind}"
        + (" (guessed)" if kind_guessed else "") + f"; agent {'yes' if facts.is_agent else 'no'}; "
        f"customer {facts.customer or '-'}; attachments {', '.join(facts.attachment_names) or '-'}",
        f"  subject {facts.subject!r}" + ("; body cut at 64 KiB for the rules" if facts.body_truncated else ""),
        "",
    ]
    width = max((len(f"{r.file}:{r.line}") for r in ruleset.rules), default=0)
    name_width = max((len(r.name) for r in ruleset.rules), default=0)
    for hit in decision.hits:
        where = f"{hit.file}:{hit.line}"
        lines.append(f"{'HIT ' if hit.matched else 'miss'}  {where:<{width}}  {hit.rule:<{name_width}}  {hit.reason}")
    for rule in ruleset.rules[len(decision.hits):]:
        where = f"{rule.file}:{rule.line}"
        lines.append(f"--    {where:<{width}}  {rule.name:<{name_width}}  not evaluated: "
                     f"{decision.stopped_by} stopped the evaluation")
    lines += ["", "decision:"]
    fields = decision.fields()
    if not fields:
        lines.append("  no rule set anything: the configured defaults apply")
    for name, value in fields.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else "false" if value is False else \
            "true" if value is True else str(value)
        setters = decision.set_by[name]
        who = f"set by {setters[-1]}" + (f" (over {', '.join(setters[:-1])})" if len(setters) > 1 else "")
        if name in ("tags", "notify"):
            who = f"from {', '.join(setters)}"
        lines.append(f"  {name:<11} {shown:<28} {who}")
    if decision.stopped_by:
        lines.append(f"  stopped by  {decision.stopped_by}")
    for note in decision.notes:
        lines.append(f"  note: {note}")
    return "\n".join(lines)
