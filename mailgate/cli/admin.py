"""Shell, command line: the operator's commands: `check` the config, `db upgrade|current`, `status`."""

from __future__ import annotations

import json
from typing import Any

import click

from mailgate.cli.common import config_path, fail, query, settings_of, with_engine
from mailgate.exits import EX_CONFIG


@click.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config file, the templates and the rules; print every problem."""
    from mailgate.config import checks
    from mailgate.config.sections import ConfigError
    from mailgate.config.settings import load
    from mailgate.outbound.render import Renderer
    from mailgate.rules.load import RulesError, load_rules
    from mailgate.rules.refs import Known

    try:
        settings = load(config_path(ctx))
    except ConfigError as exc:
        fail(f"invalid configuration:\n{exc}", EX_CONFIG)
    found = checks.problems(settings) + checks.advice(settings)
    if found:
        fail("invalid configuration:\n" + "\n".join(found), EX_CONFIG)
    for warning in checks.warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    problems = Renderer(settings.templates_dir).check()
    if problems:
        fail("invalid templates:\n" + "\n".join(problems), EX_CONFIG)
    try:
        ruleset = load_rules(settings.rules_dir, Known.of(settings))
    except RulesError as exc:
        fail("invalid rules:\n" + "\n".join(exc.errors), EX_CONFIG)
    click.echo(f"{settings.source}: OK ({len(settings.gateway.addresses)} address(es), "
               f"{len(settings.agents)} agent(s), templates in {settings.templates_dir}, "
               f"{len(ruleset)} rule(s) in {settings.rules_dir})")


@click.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema up to date."""
    from mailgate.store import migrate

    def upgrade(engine: Any) -> str | None:
        migrate.upgrade(engine)
        return migrate.current(engine)

    click.echo(f"schema at revision {with_engine(ctx, upgrade)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the database's schema revision and the one this code needs."""
    from mailgate.store import migrate

    click.echo(f"database: {with_engine(ctx, migrate.current) or '(empty)'}; code: {migrate.head()}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Whether a daemon runs on this database (one holds the sweeper's lease), counts of inbound mail (total,
    then every status: received (waiting), processed, ignored, quarantined, shunted), of the outbox (queued,
    sent, failed), and each IMAP mailbox's state."""
    from mailgate.clock import utcnow
    from mailgate.store import imap_state, inbound, intake, leases, outbox
    from mailgate.store.db import sqlite_path

    def counts(conn: Any) -> dict[str, Any]:
        o, now = outbox.counts(conn), utcnow()
        i, waiting = intake.counted(sqlite_path(settings_of(ctx).database_url), inbound.counts(conn),
                                    inbound.oldest_waiting(conn))
        return {
            "daemon": {"running": leases.probe(conn, leases.SWEEPER)},
            "imap": imap_state.all_states(conn),
            "inbound": {"total": sum(i.values()),
                        **{k: i.get(k, 0) for k in inbound.STATUSES}},
            "outbox": {k: o.get(k, 0) for k in outbox.STATUSES},
            "oldest": {"inbound_received": _age(waiting, now),
                       "outbox_queued": _age(outbox.oldest_queued(conn), now)},
        }

    result = query(ctx, counts)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo("daemon: running (leader lock held)" if result["daemon"]["running"]
               else "daemon: not running (leader lock free)")
    for area, oldest in (("inbound", "inbound_received"), ("outbox", "outbox_queued")):
        waiting = result["oldest"][oldest]
        since = f"; the oldest {'waiting' if area == 'inbound' else 'queued'} since {waiting['at']} " \
                f"({_duration(waiting['age_seconds'])} ago)" if waiting else ""
        click.echo(f"{area}: " + ", ".join(f"{k} {v}" for k, v in result[area].items()) + since)
    for box in result["imap"]:
        state = "connected" if box["connected"] else "disconnected"
        click.echo(f"imap {box['mailbox']}: {state}, last poll {box['last_poll_at'] or 'never'}, "
                   f"last uid {box['last_uid']} (uidvalidity {box['uidvalidity']}), {box['stored']} stored, "
                   f"{box['errors']} error(s) since last success"
                   + (f", last: {box['last_error']}" if box["last_error"] else ""))


def _age(at: Any, now: Any) -> dict[str, Any] | None:
    """When, and how many seconds ago: the age of the oldest waiting mail (an operator's first question)."""
    return None if at is None else {"at": at.isoformat(timespec="seconds"),
                                    "age_seconds": max(0, int((now - at).total_seconds()))}


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
