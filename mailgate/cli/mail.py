"""Shell, command line: the mail itself: `run` the daemon, `ingest` from an MTA pipe, `replay` a shunted
mail, `release` a quarantined one."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from mailgate import log
from mailgate.cli.common import fail, settings_of
from mailgate.cli.common import run as run_async
from mailgate.exits import EX_CONFIG, EX_DATAERR, EX_TEMPFAIL

if TYPE_CHECKING:
    from mailgate.config.settings import Settings


@click.command()
@click.option("--worker-process", is_flag=True, hidden=True,
              help="Run as the worker process of a two-process daemon (started by the daemon itself).")
@click.pass_context
def run(ctx: click.Context, worker_process: bool) -> None:
    """Run the daemon: SMTP listener, IMAP pollers, worker, outbox sender and sweeper, until SIGTERM/SIGINT."""
    from mailgate.prefork import fork_worker
    from mailgate.processes import forks_worker

    settings = settings_of(ctx)
    log.configure(settings.log.level, settings.log.format, cached=True)  # the daemon: configured once
    if worker_process or not forks_worker(settings):
        _serve(settings, worker_process=worker_process)
        return
    forked = fork_worker(lambda: _serve(settings, worker_process=True))
    try:
        _serve(settings, forked=forked)
    finally:
        if forked is not None:
            forked.abandon()


def _serve(settings: Settings, **how: Any) -> None:
    """The daemon (processes.serve) until it stops; a refused start-up ends the command with its exit code."""
    from mailgate.config.sections import ConfigError
    from mailgate.processes import serve
    from mailgate.store.schema import SchemaError

    try:
        run_async(serve(settings, **how))
    except (ConfigError, SchemaError) as exc:
        fail(f"refusing to start:\n{exc}", EX_CONFIG)
    except OSError as exc:
        fail(f"cannot start: {exc}", 1)


@click.command()
@click.option("--sender", "envelope_from", default=None,
              help="Envelope sender as the MTA saw it (Postfix: ${sender}); empty for a bounce.")
@click.option("--recipient", "recipients", multiple=True, help="Envelope recipient(s) (Postfix: ${recipient}).")
@click.pass_context
def ingest(ctx: click.Context, envelope_from: str | None, recipients: tuple[str, ...]) -> None:
    """Store one mail read from standard input (an MTA pipe). Exit 0 once stored, 75 to retry later."""
    from mailgate.ingest.pipe import IngestError, StoreFailed, ingest_bytes
    from mailgate.store.db import one_line, without_password

    raw = sys.stdin.buffer.read()
    settings = settings_of(ctx, exit_code=EX_TEMPFAIL)  # a broken config must not bounce customer mail
    try:
        inbound_id = ingest_bytes(settings, raw, envelope_from=envelope_from, recipients=list(recipients))
    except IngestError as exc:
        fail(str(exc), EX_DATAERR)
    except Exception as exc:  # the mail is not stored: the MTA must keep it (a bug here too)
        what = str(exc) if isinstance(exc, StoreFailed) else \
            f"mail not stored: {without_password(one_line(exc), settings.database_url)}"
        click.echo(f"mailgate ingest: {what}; the MTA will retry (exit {EX_TEMPFAIL})", err=True)
        sys.exit(EX_TEMPFAIL)
    click.echo(f"stored as {inbound_id}" if inbound_id else "already stored (duplicate delivery)")


@click.command()
@click.argument("inbound_id", type=int)
@click.pass_context
def replay(ctx: click.Context, inbound_id: int) -> None:
    """Process a shunted mail again, now, in this process."""
    from mailgate.worker import replay as do_replay

    settings = settings_of(ctx)
    result = run_async(do_replay(settings, inbound_id))
    if result is None:
        fail(f"no shunted mail with id {inbound_id}", 1)
    click.echo(f"mail {result.inbound_id}: {result.status}"
               + (f", ticket #{result.ticket_id}" if result.ticket_id else "")
               + (f" ({result.detail})" if result.detail else ""))
    if result.status == "shunted":
        sys.exit(1)


@click.command()
@click.argument("inbound_id", type=int)
@click.pass_context
def release(ctx: click.Context, inbound_id: int) -> None:
    """Process a mail a rule quarantined, now, without the rules (the configured defaults apply)."""
    from mailgate.worker import replay as do_replay

    result = run_async(do_replay(settings_of(ctx), inbound_id, release=True))
    if result is None:
        fail(f"no quarantined mail with id {inbound_id}", 1)
    click.echo(f"mail {result.inbound_id}: {result.status}"
               + (f", ticket #{result.ticket_id}" if result.ticket_id else ""))
