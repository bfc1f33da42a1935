"""Shell: the `mailgate` command line (click): run, ingest, replay, check, db, tickets, status."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import click

from mailgate import log
from mailgate.config import ConfigError, Settings, load
from mailgate.outbound.render import Renderer

T = TypeVar("T")

EX_DATAERR = 65  # sysexits: the input is bad (the MTA bounces it)
EX_TEMPFAIL = 75  # sysexits: try again later (the MTA keeps the mail queued)
EX_CONFIG = 78  # sysexits: configuration error


def _fail(message: str, code: int) -> NoReturn:
    click.echo(f"mailgate: {message}", err=True)
    sys.exit(code)


def _settings(ctx: click.Context, *, exit_code: int = EX_CONFIG) -> Settings:
    path = ctx.obj["config_path"]
    try:
        settings = load(path)
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", exit_code)
    log.configure(settings.log.level, settings.log.format)
    return settings


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


@click.group()
@click.option("-c", "--config", "config_path", envvar="MAILGATE_CONFIG", default="config.toml",
              show_default=True, type=click.Path(dir_okay=False), help="Config file (or $MAILGATE_CONFIG).")
@click.version_option(package_name="mailgate")
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """mailgate: email-first helpdesk gateway."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the daemon: SMTP listener, worker and outbox sender, until SIGTERM/SIGINT."""
    from mailgate.daemon import serve
    from mailgate.store.schema import SchemaError

    settings = _settings(ctx)
    try:
        _run(serve(settings))
    except (ConfigError, SchemaError) as exc:
        _fail(f"refusing to start:\n{exc}", EX_CONFIG)
    except OSError as exc:
        _fail(f"cannot start: {exc}", 1)


@main.command()
@click.option("--sender", "envelope_from", default=None,
              help="Envelope sender as the MTA saw it (Postfix: ${sender}); empty for a bounce.")
@click.option("--recipient", "recipients", multiple=True, help="Envelope recipient(s) (Postfix: ${recipient}).")
@click.pass_context
def ingest(ctx: click.Context, envelope_from: str | None, recipients: tuple[str, ...]) -> None:
    """Store one mail read from standard input (an MTA pipe). Exit 0 once stored, 75 to retry later."""
    from mailgate.ingest.pipe import IngestError, ingest_bytes
    from mailgate.store.db import one_line

    raw = sys.stdin.buffer.read()
    settings = _settings(ctx, exit_code=EX_TEMPFAIL)  # a broken config must not bounce customer mail
    try:
        inbound_id = _run(ingest_bytes(settings, raw, envelope_from=envelope_from, recipients=list(recipients)))
    except IngestError as exc:
        _fail(str(exc), EX_DATAERR)
    except Exception as exc:  # the mail is not stored: the MTA must keep it
        _fail(f"temporary failure, mail not stored: {one_line(exc)}", EX_TEMPFAIL)
    click.echo(f"stored as {inbound_id}" if inbound_id else "already stored (duplicate delivery)")


@main.command()
@click.argument("inbound_id", type=int)
@click.pass_context
def replay(ctx: click.Context, inbound_id: int) -> None:
    """Process a shunted mail again, now, in this process."""
    from mailgate.ingest.pipe import replay as do_replay

    settings = _settings(ctx)
    result = _run(do_replay(settings, inbound_id))
    if result is None:
        _fail(f"no shunted mail with id {inbound_id}", 1)
    click.echo(f"mail {result.inbound_id}: {result.status}"
               + (f", ticket #{result.ticket_id}" if result.ticket_id else "")
               + (f" ({result.detail})" if result.detail else ""))
    if result.status == "shunted":
        sys.exit(1)


@main.command()
@click.argument("inbound_id", type=int)
@click.pass_context
def release(ctx: click.Context, inbound_id: int) -> None:
    """Process a mail a rule quarantined, now, without the rules (the configured defaults apply)."""
    from mailgate.ingest.pipe import replay as do_replay

    result = _run(do_replay(_settings(ctx), inbound_id, release=True))
    if result is None:
        _fail(f"no quarantined mail with id {inbound_id}", 1)
    click.echo(f"mail {result.inbound_id}: {result.status}"
               + (f", ticket #{result.ticket_id}" if result.ticket_id else ""))


@main.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config file, the templates and the rules; print every problem."""
    try:
        settings = load(ctx.obj["config_path"])
    except ConfigError as exc:
        _fail(f"invalid configuration:\n{exc}", 1)
    problems = Renderer(settings.templates_dir).check()
    if problems:
        _fail("invalid templates:\n" + "\n".join(problems), 1)
    from mailgate.rules.load import RulesError, load_rules

    try:
        ruleset = load_rules(settings.rules_dir)
    except RulesError as exc:
        _fail("invalid rules:\n" + "\n".join(exc.errors), 1)
    click.echo(f"{settings.source}: OK ({len(settings.gateway.addresses)} address(es), "
               f"{len(settings.agents)} agent(s), templates in {settings.templates_dir}, "
               f"{len(ruleset)} rule(s) in {settings.rules_dir})")


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Bring the database schema up to date."""
    from mailgate.store import migrate

    async def upgrade(engine: Any) -> str | None:
        await migrate.upgrade(engine)
        return await migrate.current(engine)

    click.echo(f"schema at revision {_with_engine(ctx, upgrade)}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the database's schema revision and the one this code needs."""
    from mailgate.store import migrate

    click.echo(f"database: {_with_engine(ctx, migrate.current) or '(empty)'}; code: {migrate.head()}")


def _with_engine(ctx: click.Context, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(engine)` on the configured database, whatever its schema revision."""
    from mailgate.store.schema import engine_for

    settings = _settings(ctx)

    async def go() -> T:
        engine = engine_for(settings)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return _run(go())


def _query(ctx: click.Context, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
    """Run a read-only store query against a database at the current schema."""
    from mailgate.store.schema import SchemaError, open_engine

    settings = _settings(ctx)

    async def go() -> T:
        engine = await open_engine(settings, upgrade_sqlite=False)
        try:
            async with engine.connect() as conn:
                return await fn(conn, *args)
        finally:
            await engine.dispose()

    try:
        return _run(go())
    except SchemaError as exc:
        _fail(str(exc), 1)


@main.group()
def tickets() -> None:
    """Look at tickets."""


@tickets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--status", default=None, help="Only tickets in this status (e.g. open).")
@click.pass_context
def tickets_list(ctx: click.Context, as_json: bool, status: str | None) -> None:
    """List tickets, newest first."""
    from mailgate.store import tickets as store

    rows = _query(ctx, lambda conn: store.list_all(conn, status=status))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for t in rows:
        click.echo(f"#{t['id']:<6} {t['status_label']:<32} N{t['level']} {t['priority']:<7} "
                   f"{t['requester']:<30} {t['title']}")


@tickets.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def tickets_show(ctx: click.Context, number: int, as_json: bool) -> None:
    """Show one ticket with its messages and events."""
    from mailgate import hygiene
    from mailgate.store import estimates, imputation
    from mailgate.store import tickets as store

    async def full(conn: Any) -> dict[str, Any] | None:
        found = await store.detail(conn, number)
        if found is not None:
            found["tasks"] = await imputation.tasks_of(conn, number)
            found["estimates"] = await estimates.of_ticket(conn, number)
            found["estimate"] = found["estimates"][-1] if found["estimates"] else None
            found["attachments"] = await hygiene.of_ticket(conn, number)
        return found

    t = _query(ctx, full)
    if t is None:
        _fail(f"no ticket #{number}", 1)
    if as_json:
        click.echo(json.dumps(t, ensure_ascii=False, indent=2))
        return
    click.echo(f"#{t['id']} {t['title']}\n  status: {t['status_label']} ({t['status']}), type {t['type']}, "
               f"level N{t['level']}, priority {t['priority']}\n  requester: {t['requester']}, "
               f"customer: {t['customer'] or '-'}, assignee: {t['assignee'] or '-'}, created {t['created_at']}")
    for name in ("response", "resolution"):
        due = t["sla"][f"{name}_due"]
        if due:
            breached = t["sla"][f"{name}_breached_at"]
            click.echo(f"  {name} due {due}" + (f": BREACHED (supervisors told {breached})" if breached else ""))
    for e in t["estimates"]:
        click.echo(f"  estimate: {e['amount'] or '-'} / {e['days'] or '-'} day(s), {e['state']}")
    for task in t["tasks"]:
        click.echo(f"  task {task['title']}: {task['minutes'] // 60}h{task['minutes'] % 60:02d}")
        for entry in task["entries"]:
            click.echo(f"    {entry['day']} {entry['agent']} {entry['minutes']} min {entry['comment']}")
    for m in t["messages"]:
        click.echo(f"\n--- {m['direction']} {m['at']} from {m['from']} to {', '.join(m['to'])}\n"
                   f"Subject: {m['subject']}\n\n{m['text'].rstrip()}")
    for a in t["attachments"]:
        click.echo(f"  attachment {a['filename']} ({a['content_type']}, {a['size']} bytes, sha256 {a['sha256']})")
    click.echo("\nevents:")
    for e in t["events"]:
        click.echo(f"  {e['at']} {e['kind']} {json.dumps(e['data'], ensure_ascii=False)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Counts of inbound mail (total; waiting as received, processed, ignored, shunted), of the
    outbox (queued, sent, failed), and each IMAP mailbox's state."""
    from mailgate.store import imap_state, inbound, outbox

    async def counts(conn: Any) -> dict[str, Any]:
        i, o = await inbound.counts(conn), await outbox.counts(conn)
        return {
            "imap": await imap_state.all_states(conn),
            "inbound": {"total": sum(i.values()),
                        **{k: i.get(k, 0) for k in ("received", "processed", "ignored", "shunted")}},
            "outbox": {k: o.get(k, 0) for k in ("queued", "sent", "failed")},
        }

    result = _query(ctx, counts)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for area in ("inbound", "outbox"):
        click.echo(f"{area}: " + ", ".join(f"{k} {v}" for k, v in result[area].items()))
    for box in result["imap"]:
        state = "connected" if box["connected"] else "disconnected"
        click.echo(f"imap {box['mailbox']}: {state}, last poll {box['last_poll_at'] or 'never'}, "
                   f"last uid {box['last_uid']} (uidvalidity {box['uidvalidity']}), {box['stored']} stored, "
                   f"{box['errors']} error(s) since last success"
                   + (f", last: {box['last_error']}" if box["last_error"] else ""))


def _register() -> None:
    from mailgate.cli.billing import billing
    from mailgate.cli.queue import queue
    from mailgate.cli.rules import rules

    main.add_command(billing)
    main.add_command(queue)
    main.add_command(rules)


_register()

if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
