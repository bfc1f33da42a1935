"""Shell, command line: `mailgate report`: the supervisors' figures of a month or of a span of days (backlog,
ageing, response and resolution times, breaches, escalations, reopenings, time, billing) as text, JSON or CSV;
every figure is defined in docs/reports.md."""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import click

from mailgate.cli.common import fail, query, settings_of
from mailgate.core import report as core
from mailgate.core.model import Status
from mailgate.core.workflow import billing


@click.command()
@click.option("--month", default=None, help="The month reported, YYYY-MM (UTC); the current month by default.")
@click.option("--from", "first", default=None, help="First day reported, YYYY-MM-DD (UTC), with --to.")
@click.option("--to", "last", default=None, help="Last day reported, YYYY-MM-DD (UTC), included.")
@click.option("--json", "as_json", is_flag=True, help="A JSON object (docs/reports.md).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV on stdout: section,group,key,figure,value.")
@click.pass_context
def report(ctx: click.Context, month: str | None, first: str | None, last: str | None, as_json: bool,
           as_csv: bool) -> None:
    """Backlog and ageing at the period's end; response and resolution times (p50, p90), breaches of the tickets
    created in it; escalations, reopenings, time logged and billing in it."""
    from mailgate.clock import utcnow
    from mailgate.store import imputation
    from mailgate.store import report as store

    if as_json and as_csv:
        fail("--json and --csv: choose one", 2)
    now = utcnow()
    period = period_of(month, first, last, now)
    if period.start >= now:
        fail(f"the period {period.label} has not begun", 2)
    settings = settings_of(ctx)
    rates = {c.name: c.hourly_rate for c in settings.customers}
    whole = whole_months(period)

    def read(conn: Any) -> core.History:
        history = store.history(conn, period.start, period.end)
        months = tuple(core.MonthLines(month=f"{y:04d}-{m:02d}", lines=tuple(billing.lines(
            imputation.month_basis(conn, y, m), rates))) for y, m in whole)
        return core.History(tickets=history.tickets, events=history.events, logged=history.logged, months=months)

    result = core.report(query(ctx, read), period, now=now)
    doc = as_document(result, settings.workflow.currency)
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    elif as_csv:
        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerow(["section", "group", "key", "figure", "value"])
        out.writerows(csv_rows(doc))
    else:
        for line in text(result, settings.workflow.currency):
            click.echo(line)


def period_of(month: str | None, first: str | None, last: str | None, now: datetime) -> core.Period:
    """The period the options name: a month, or --from..--to (both days included); the current month else."""
    if month is not None and (first or last):
        fail("--month, or --from with --to: not both", 2)
    if first or last:
        if not (first and last):
            fail("--from and --to go together", 2)
        start, stop = _day(first, "--from"), _day(last, "--to")
        if stop < start:
            fail(f"--to {last} is before --from {first}", 2)
        return core.Period(start=_midnight(start), end=_midnight(stop + timedelta(days=1)), label=f"{start}..{stop}")
    if month is None:
        month = f"{now.astimezone(UTC):%Y-%m}"
    found = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if found is None or not 1 <= int(found.group(2)) <= 12:
        fail(f"--month {month!r}: expected YYYY-MM, e.g. 2022-01", 2)
    year, number = int(found.group(1)), int(found.group(2))
    return core.Period(start=datetime(year, number, 1, tzinfo=UTC), label=month,
                       end=datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC))


def _day(text: str, option: str) -> date:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    fail(f"{option} {text!r}: expected YYYY-MM-DD, e.g. 2022-01-31", 2)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def whole_months(period: core.Period) -> list[tuple[int, int]]:
    """(year, month) of every calendar month wholly inside the period: the months billed."""
    found = []
    for name in core.months(period):
        year, month = int(name[:4]), int(name[5:])
        after = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
        if datetime(year, month, 1, tzinfo=UTC) >= period.start and after <= period.end:
            found.append((year, month))
    return found


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _counts(counts: tuple[core.Count, ...]) -> dict[str, int]:
    return {c.key: c.value for c in counts}


def _times(t: core.Times) -> dict[str, Any]:
    return {"n": t.n, "pending": t.pending, "p50_seconds": t.p50, "p90_seconds": t.p90}


def _group(g: core.Group) -> dict[str, Any]:
    return {"tickets": g.tickets, "response": _times(g.response), "resolution": _times(g.resolution)}


def as_document(r: core.Report, currency: str) -> dict[str, Any]:
    """The report as the stable JSON object of docs/reports.md (durations in seconds, money as text)."""
    b, created = r.backlog, r.all.tickets
    months: dict[str, dict[str, Any]] = {}
    for bill in r.billing:
        month = months.setdefault(bill.month, {"total": Decimal(0), "customers": {}})
        month["total"] += bill.amount
        month["customers"][bill.customer] = {"tickets": bill.tickets, "amount": str(bill.amount)}
    return {
        "period": {"label": r.period.label, "start": r.period.start.isoformat(), "end": r.period.end.isoformat(),
                   "as_of": r.as_of.isoformat()},
        "backlog": {"total": b.total, "by_status": _counts(b.by_status), "by_level": _counts(b.by_level),
                    "by_type": _counts(b.by_type), "by_queue": _counts(b.by_queue), "ageing": _counts(b.ageing)},
        "times": {"all": _group(r.all), **{name: {g.key: _group(g) for g in groups} for name, groups in (
            ("by_level", r.by_level), ("by_type", r.by_type), ("by_month", r.by_month))}},
        "breaches": {"tickets": created, "response": r.response_breached, "resolution": r.resolution_breached,
                     "either": r.breached, "response_rate": _rate(r.response_breached, created),
                     "resolution_rate": _rate(r.resolution_breached, created),
                     "either_rate": _rate(r.breached, created)},
        "escalations": _counts(r.escalations),
        "reopenings": {"reopened": r.reopened, "closed": r.closed, "rate": _rate(r.reopened, r.closed)},
        "time": {"total_minutes": sum(c.value for c in r.time_by_agent), "by_agent": _counts(r.time_by_agent),
                 "by_customer": _counts(r.time_by_customer)},
        "billing": {"currency": currency, "months": {k: dict(v, total=str(v["total"])) for k, v in months.items()}},
    }


def csv_rows(doc: dict[str, Any]) -> Iterator[tuple[object, ...]]:
    """The JSON object as rows of (section, group, key, figure, value), in its order (docs/reports.md)."""
    for figure, value in doc["period"].items():
        yield "period", "", "", figure, value
    yield "backlog", "", "", "total", doc["backlog"]["total"]
    for by, counts in doc["backlog"].items():
        for key, n in counts.items() if isinstance(counts, dict) else ():
            yield "backlog", by, key, "open", n
    for by, groups in doc["times"].items():
        for key, g in ({"all": groups} if by == "all" else groups).items():
            yield "times", by, key, "tickets", g["tickets"]
            for what in ("response", "resolution"):
                for figure, value in g[what].items():
                    yield "times", by, key, f"{what}_{figure}", "" if value is None else value
    for section in ("breaches", "reopenings"):
        for figure, value in doc[section].items():
            yield section, "", "", figure, "" if value is None else value
    for move, n in doc["escalations"].items():
        yield "escalations", "", move, "moves", n
    yield "time", "", "", "total_minutes", doc["time"]["total_minutes"]
    for by in ("by_agent", "by_customer"):
        for key, minutes in doc["time"][by].items():
            yield "time", by, key, "minutes", minutes
    currency = doc["billing"]["currency"]
    for month, bill in doc["billing"]["months"].items():
        yield "billing", month, "", f"total_{currency}", bill["total"]
        for customer, line in bill["customers"].items():
            yield "billing", month, customer, "tickets", line["tickets"]
            yield "billing", month, customer, f"amount_{currency}", line["amount"]


def duration(seconds: int | None) -> str:
    """3725 -> '1h02'; 93600 -> '1d02h'; None -> '-'."""
    if seconds is None:
        return "-"
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if days:
        return f"{days}d{hours % 24:02d}h"
    if hours:
        return f"{hours}h{minutes % 60:02d}"
    return f"{minutes}m" if minutes else f"{seconds}s"


def table(header: list[str], rows: list[list[object]]) -> list[str]:
    """Aligned columns, two spaces in: the first left, the others right."""
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip() for row in cells]


def _hours(minutes: int) -> str:
    return f"{minutes // 60}h{minutes % 60:02d}"


def _percent(part: int, whole: int) -> str:
    return f"{part} ({part / whole:.1%})" if whole else f"{part}"


def text(r: core.Report, currency: str) -> Iterator[str]:
    b = r.backlog
    yield (f"Report {r.period.label}: {r.period.start:%Y-%m-%d %H:%M} to {r.period.end:%Y-%m-%d %H:%M} UTC "
           f"(the period's end excluded)")
    yield ""
    yield f"Backlog at {r.as_of:%Y-%m-%d %H:%M} UTC: {b.total} open (not Fermé)"
    yield from table(["status", "open"], [[Status(c.key).label, c.value] for c in b.by_status])
    for name, counts in (("level", b.by_level), ("type", b.by_type), ("queue", b.by_queue), ("age", b.ageing)):
        if counts:
            yield from table([name, "open"], [[c.key, c.value] for c in counts])
    yield ""
    yield f"Tickets created: {r.all.tickets} (merged ones left out); times from creation, nearest-rank p50 and p90"
    rows = [[g.key, g.tickets, g.response.n, duration(g.response.p50), duration(g.response.p90), g.resolution.n,
             duration(g.resolution.p50), duration(g.resolution.p90)]
            for g in (r.all, *r.by_level, *r.by_type, *r.by_month)]
    yield from table(["", "tickets", "answered", "resp p50", "resp p90", "resolved", "resol p50", "resol p90"], rows)
    yield ""
    n = r.all.tickets
    yield (f"Service targets breached, of {n} created: response {_percent(r.response_breached, n)}, "
           f"resolution {_percent(r.resolution_breached, n)}, either {_percent(r.breached, n)}")
    yield "Escalations: " + ", ".join(f"{c.key} {c.value}" for c in r.escalations)
    yield f"Tickets reopened: {r.reopened}; closed: {r.closed}" + (
        f" (reopen rate {r.reopened / r.closed:.1%})" if r.closed else "")
    yield ""
    yield f"Time logged: {_hours(sum(c.value for c in r.time_by_agent))}"
    for name, counts in (("consultant", r.time_by_agent), ("customer", r.time_by_customer)):
        if counts:
            yield from table([name, "time", "minutes"], [[c.key, _hours(c.value), c.value] for c in counts])
    yield ""
    if not r.billing:
        yield "Billing: no whole month in the period"
    else:
        yield f"Billing ({currency}), as `mailgate billing --month`:"
        yield from table(["month", "customer", "tickets", "amount"],
                         [[bill.month, bill.customer, bill.tickets, bill.amount] for bill in r.billing])
