"""Shell, command line: `mailgate rules check|explain`: the rules as the daemon loads them, and what they do."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from mailgate.core.mail import classify
from mailgate.core.mail.parse import attachment_names, parse
from mailgate.core.model import ParsedMail
from mailgate.core.rules.engine import Decision, evaluate
from mailgate.core.rules.model import KINDS, MailFacts, RuleSet, facts_from
from mailgate.exits import EX_CONFIG
from mailgate.rules.load import RulesError, load_rules
from mailgate.rules.refs import Known

if TYPE_CHECKING:
    from mailgate.config.settings import Settings

_rules_option = click.option(
    "--rules", "rules_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
    help="The rules folder (*.yaml applied in file-name order); default: the config's (gateway.rules, else "
         "the rules/ shipped with mailgate).")
_config_option = click.option(
    "-c", "--config", "config_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
    help="The config the rules run with (default: mailgate's -c, or config.toml when it exists): its rules "
         "folder, and the agents, queues, customers and templates the rules must name.")


def _settings(config_file: Path | None) -> Settings | None:
    """The config of this command's -c, else of mailgate's -c ($MAILGATE_CONFIG) when given or when the
    default config.toml exists; None: no config (the rules are checked for themselves only)."""
    if config_file is None:
        root = click.get_current_context().find_root()
        path = (root.obj or {}).get("config_path")
        given = root.get_parameter_source("config_path") not in (None, ParameterSource.DEFAULT)
        if not path or not (given or Path(path).exists()):
            return None
        config_file = Path(path)
    from mailgate.config.sections import ConfigError
    from mailgate.config.settings import load

    try:
        return load(config_file)
    except ConfigError as exc:
        click.echo(f"mailgate: invalid configuration:\n{exc}", err=True)
        sys.exit(EX_CONFIG)


def _setup(rules_dir: Path | None, config_file: Path | None) -> tuple[Path, RuleSet, Settings | None]:
    """The folder (--rules, else the config's, else ./rules), its rules as the daemon loads them (checked
    against the config, when there is one), and the config."""
    settings = _settings(config_file)
    folder = rules_dir or (settings.rules_dir if settings is not None else Path("rules"))
    return folder, _load(folder, Known.of(settings) if settings is not None else None), settings


@click.group("rules")
def rules() -> None:
    """Routing rules (rules/*.yaml): validate them; explain what they do to a mail."""


@rules.command("check")
@_rules_option
@_config_option
def check(rules_dir: Path | None, config_file: Path | None) -> None:
    """Load every rule file as the daemon would, checked against the config; print each problem (file:line:
    rule) and exit 78 if any."""
    rules_dir, ruleset, settings = _setup(rules_dir, config_file)
    if not rules_dir.is_dir():
        click.echo(f"{rules_dir}: no such folder, so no rules: every mail gets the configured defaults")
        return
    disabled = sum(not r.enabled for r in ruleset.rules)
    click.echo(f"{rules_dir}: OK ({len(ruleset)} rules in {len(ruleset.files)} files"
               + (f", {disabled} disabled" if disabled else "")
               + (f"; checked against {settings.source}" if settings is not None else "") + ")")


@rules.command("explain")
@click.argument("mail", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_rules_option
@_config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@click.option("--to", "envelope_to", multiple=True, help="Envelope recipient(s); default: the To and Cc addresses.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default=None,
              help="The mail's kind; default: guessed from its headers.")
@click.option("--agent", is_flag=True, help="Treat the sender as an agent (default: whether it is one of the "
                                            "config's agents).")
@click.option("--customer", default=None, help="Treat the sender as this known customer (default: the config's "
                                               "customer of its domain).")
def explain(mail: Path, rules_dir: Path | None, config_file: Path | None, as_json: bool,
            envelope_to: tuple[str, ...], kind: str | None, agent: bool, customer: str | None) -> None:
    """Show every rule with hit or miss and the reason, then the decision, for one .eml file."""
    _, ruleset, settings = _setup(rules_dir, config_file)
    raw = mail.read_bytes()
    parsed = parse(raw)
    facts = facts_from(parsed, envelope_to=envelope_to, attachment_names=attachment_names(raw), is_agent=agent,
                       customer=customer, kind=kind or guess_kind(parsed, raw, settings),
                       agents=settings.agent_emails if settings is not None else (),
                       customers_by_domain=settings.customers_by_domain if settings is not None else None)
    decision = evaluate(ruleset, facts)
    source = settings.source if settings is not None else None
    if as_json:
        click.echo(json.dumps(_document(mail, ruleset, facts, decision, source), ensure_ascii=False, indent=2))
    else:
        click.echo(_text(mail, ruleset, facts, decision, kind_guessed=kind is None, config=source))


def _load(rules_dir: Path, known: Known | None) -> RuleSet:
    try:
        return load_rules(rules_dir, known)
    except RulesError as exc:
        for error in exc.errors:
            click.echo(error, err=True)
        click.echo(f"mailgate: {len(exc.errors)} error(s) in {rules_dir}", err=True)
        sys.exit(EX_CONFIG)


def guess_kind(mail: ParsedMail, raw: bytes = b"", settings: Settings | None = None) -> str:
    """The mail's kind as the daemon classifies it (without the config: our own addresses unknown)."""
    if settings is None:
        return classify.classify(mail, raw or None, None, loop_token="", own_addresses=frozenset(),
                                 own_msgid_domain="").kind
    return classify.classify(mail, raw or None, None, loop_token=settings.loop_token,
                             own_addresses=settings.own_addresses, own_msgid_domain=settings.message_id_domain).kind


def _facts_json(facts: MailFacts) -> dict[str, Any]:
    return {"sender": facts.sender, "sender_domain": facts.sender_domain, "recipients": list(facts.recipients),
            "subject": facts.subject, "attachment_names": list(facts.attachment_names), "is_agent": facts.is_agent,
            "customer": facts.customer, "kind": facts.kind, "body_truncated": facts.body_truncated}


def _document(mail: Path, ruleset: RuleSet, facts: MailFacts, decision: Decision,
              config: str | None) -> dict[str, Any]:
    considered = len(decision.hits)
    result = decision.as_json()
    hits = result.pop("hits")
    return {
        "rules": ruleset.folder, "config": config, "mail": str(mail), "facts": _facts_json(facts), "hits": hits,
        "not_evaluated": [{"rule": r.name, "file": r.file, "line": r.line} for r in ruleset.rules[considered:]],
        "decision": result,
    }


def _text(mail: Path, ruleset: RuleSet, facts: MailFacts, decision: Decision, *, kind_guessed: bool,
          config: str | None) -> str:
    lines = [
        f"rules: {ruleset.folder} ({len(ruleset)} rules in {len(ruleset.files)} files)"
        + (f"; config {config}" if config else ""),
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
        mark = "HIT " if hit.matched else "miss" if hit.enabled else "off "
        lines.append(f"{mark}  {where:<{width}}  {hit.rule:<{name_width}}  {hit.reason}")
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
