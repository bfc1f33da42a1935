"""Shell: the `mailgate` command line (click): the root command and its command groups, one module each."""

from __future__ import annotations

import os
import sys

import click

from mailgate.cli import admin, billing, kb, mail, queue, report, rules, tickets, triage


@click.group()
@click.option("-c", "--config", "config_path", envvar="MAILGATE_CONFIG", default="config.toml",
              show_default=True, type=click.Path(dir_okay=False), help="Config file (or $MAILGATE_CONFIG).")
@click.version_option(package_name="mailgate")
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """mailgate: email-first helpdesk gateway."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


for command in (mail.run, mail.ingest, mail.replay, mail.release, admin.check, admin.db, admin.status,
                tickets.tickets, billing.billing, queue.queue, report.report, rules.rules, triage.inbound,
                triage.outbox, kb.kb):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
