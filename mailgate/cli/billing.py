"""Shell: `mailgate billing --month YYYY-MM [--csv|--json]`: the billable basis per customer and ticket."""

from __future__ import annotations

import csv
import json
import re
import sys
from decimal import Decimal
from typing import Any

import click

from mailgate.cli.common import fail, query, settings_of
from mailgate.core.workflow import billing as core


@click.command()
@click.option("--month", required=True, help="The month billed, YYYY-MM (UTC).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout, one line per ticket.")
@click.option("--json", "as_json", is_flag=True, help="A JSON object.")
@click.pass_context
def billing(ctx: click.Context, month: str, as_csv: bool, as_json: bool) -> None:
    """Per customer and ticket: time × hourly rate for assistance and incident tickets; the approved
    estimate for évolution tickets, in the month it was approved."""
    from mailgate.store import imputation

    match = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        fail(f"--month {month!r}: expected YYYY-MM, e.g. 2022-01", 2)
    year, number = int(match.group(1)), int(match.group(2))
    settings = settings_of(ctx)
    rates = {c.name: c.hourly_rate for c in settings.customers}
    basis = query(ctx, lambda conn: imputation.month_basis(conn, year, number))
    lines = core.lines(basis, rates)
    totals = core.totals(lines)
    currency = settings.workflow.currency
    if as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["month", "customer", "ticket", "title", "type", "basis", "minutes", "hours", "rate",
                      "amount", "currency"])
        for line in lines:
            out.writerow([month, line.customer, line.ticket_id, line.title, line.type, line.basis, line.minutes,
                          _hours(line.minutes), line.rate, line.amount, currency])
        return
    if as_json:
        result: dict[str, Any] = {
            "month": month, "currency": currency,
            "customers": [{"customer": name, "total": str(total), "tickets": [
                {"ticket": line.ticket_id, "title": line.title, "type": line.type, "basis": line.basis,
                 "minutes": line.minutes, "rate": str(line.rate), "amount": str(line.amount)}
                for line in lines if line.customer == name]} for name, total in totals.items()],
        }
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    if not lines:
        click.echo(f"nothing billable in {month}")
    for name, total in totals.items():
        click.echo(f"{name}: {total} {currency}")
        for line in lines:
            if line.customer == name:
                how = (f"{_hours(line.minutes)} h x {line.rate}" if line.basis == "time"
                       else "approved estimate")
                click.echo(f"  #{line.ticket_id:<6} {line.type:<10} {how:<22} {line.amount:>12} {line.title}")


def _hours(minutes: int) -> Decimal:
    return (Decimal(minutes) / 60).quantize(Decimal("0.01"))
