"""Shell, command line: `inbound list` and `outbox list|retry`: the ids that `replay`, `release` and `retry`
need, with why each mail is where it is and since when."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from mailgate.cli.common import fail, query, settings_of

_LIMIT = click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True,
                      help="At most this many, oldest first.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")


@click.group()
def inbound() -> None:
    """Stored incoming mail: what waits, what a rule held, what could not be processed."""


@inbound.command("list")
@click.option("--status", type=click.Choice(["shunted", "quarantined", "ignored", "received"]), default="shunted",
              show_default=True, help="shunted: `replay ID`; quarantined: `release ID`; received: waiting.")
@_LIMIT
@_JSON
@click.pass_context
def inbound_list(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """Stored mails in one status, with the reason (the error, the rule that held it)."""
    from mailgate.store import inbound as store

    _show(query(ctx, store.listing, status, limit), as_json, ("id", "received_at", "source", "envelope_from",
                                                              "ticket", "reason"))


@click.group()
def outbox() -> None:
    """Outgoing mail: what is queued (retrying), what failed for good."""


@outbox.command("list")
@click.option("--status", type=click.Choice(["failed", "queued", "sent"]), default="failed", show_default=True)
@_LIMIT
@_JSON
@click.pass_context
def outbox_list(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """Outgoing mails in one status, with their attempts and last error."""
    from mailgate.store import outbox as store

    _show(query(ctx, store.listing, status, limit), as_json, ("id", "queued_at", "kind", "to", "ticket", "attempts",
                                                              "last_error"))


@outbox.command("retry")
@click.argument("outbox_id", type=int)
@click.pass_context
def outbox_retry(ctx: click.Context, outbox_id: int) -> None:
    """Queue a failed mail again: the daemon sends it at once, then retries as for a new mail."""
    from mailgate.clock import utcnow
    from mailgate.store import outbox as store
    from mailgate.store.schema import open_database

    settings = settings_of(ctx)
    now = utcnow()
    db = open_database(settings, upgrade_sqlite=False)
    try:
        done = db.write_now(store.retry, outbox_id, now, now + timedelta(seconds=settings.outbound.retry_deadline))
    finally:
        db.close()
    if not done:
        fail(f"no failed outgoing mail with id {outbox_id} (see: mailgate outbox list --status failed)", 1)
    click.echo(f"outgoing mail {outbox_id}: queued again")


def _show(rows: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("none")
        return
    click.echo("  ".join(columns))
    for row in rows:
        click.echo("  ".join("-" if row[c] is None else str(row[c]) for c in columns))
