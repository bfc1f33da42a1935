"""Shell, command line: `tickets list|show`: the tickets with their messages, events, time and attachments."""

from __future__ import annotations

import json
from typing import Any

import click

from mailgate.cli.common import fail, query


@click.group()
def tickets() -> None:
    """Look at tickets."""


@tickets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--status", default=None, help="Only tickets in this status: its code (open, in_progress...) or "
                                             "its label as printed (Ouvert, \"En cours\"...).")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="At most this many.")
@click.pass_context
def tickets_list(ctx: click.Context, as_json: bool, status: str | None, limit: int) -> None:
    """List tickets, newest first."""
    from mailgate.store import tickets as store

    code = _status_code(status) if status else None
    rows = query(ctx, lambda conn: store.list_all(conn, status=code, limit=limit))
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no ticket" + (f" in status {status}" if status else ""))
        return
    click.echo(f"{'ticket':<7} {'status':<32} {'lvl':<3} {'prio':<7} {'requester':<30} title")
    for t in rows:
        click.echo(f"#{t['id']:<6} {t['status_label']:<32} N{t['level']} {t['priority']:<7} "
                   f"{t['requester']:<30} {t['title']}")


def _status_code(written: str) -> str:
    """The stored code of a status given by its code or its label (any letter case), or a usage error."""
    from mailgate.core.model import Status

    wanted = " ".join(written.split()).casefold()
    for status in Status:
        if wanted in (status.value, status.label.casefold(), status.name.casefold()):
            return status.value
    choices = ", ".join(f"{s.value} ({s.label})" for s in Status)
    raise click.BadParameter(f"{written!r} is no ticket status; one of {choices}", param_hint="--status")


@tickets.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def tickets_show(ctx: click.Context, number: int, as_json: bool) -> None:
    """Show one ticket with its messages and events."""
    from mailgate.cli.kb import hit_json
    from mailgate.store import attachments, estimates, imputation, kb
    from mailgate.store import tickets as store

    def full(conn: Any) -> dict[str, Any] | None:
        found = store.detail(conn, number)
        if found is not None:
            found["tasks"] = imputation.tasks_of(conn, number)
            found["estimates"] = estimates.of_ticket(conn, number)
            found["estimate"] = found["estimates"][-1] if found["estimates"] else None
            found["attachments"] = attachments.of_ticket(conn, number)
            first = next((m["text"] for m in found["messages"] if m["direction"] == "in"), "")
            found["similar"] = [hit_json(h) for h in kb.similar(conn, f"{found['title']}\n{first}", limit=3,
                                                               exclude_ticket=number)]
        return found

    t = query(ctx, full)
    if t is None:
        fail(f"no ticket #{number}", 1)
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
    if t["similar"]:
        click.echo("\nsimilar (knowledge base):")
    for h in t["similar"]:
        click.echo(f"  {h['label']:<8} {round(h['score'] * 100):>3} %  {h['title']}: {h['summary']}")
    click.echo("\nevents:")
    for e in t["events"]:
        if e["kind"] == "rules" and isinstance(e["data"], dict):
            click.echo("\n".join([f"  {e['at']} rules:", *rules_table(e["data"])]))
        else:
            click.echo(f"  {e['at']} {e['kind']} {json.dumps(e['data'], ensure_ascii=False)}")


ALL_MISSES_UP_TO = 30  # more rules than this: the misses are counted, not listed (--json has them)


def rules_table(data: dict[str, Any]) -> list[str]:
    """The rules event of a ticket as lines: every rule considered (rule, where, matched or not, what it set),
    then the decision. Made from the event alone: the rules may have changed since."""
    hits = [h for h in data.get("hits", []) if isinstance(h, dict)]
    fields, set_by = data.get("fields", {}), data.get("set_by", {})
    listed = hits if len(hits) <= ALL_MISSES_UP_TO else [h for h in hits if h.get("matched")]
    rows = [(str(h.get("rule")), f"{h.get('file')}:{h.get('line')}",
             "yes" if h.get("matched") else "disabled" if h.get("disabled") else "no",
             _actions(str(h.get("rule")), fields, set_by, data.get("stopped_by")) if h.get("matched") else "")
            for h in listed]
    if not rows:
        return ["    no rule was considered"]
    header = ("rule", "where", "matched", "actions")
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(3)]
    lines = [("    " + "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]).rstrip()
             for r in (header, *rows)]
    if len(listed) < len(hits):
        lines.append(f"    ({len(hits) - len(listed)} other rules did not match; --json lists them)")
    decided = "; ".join(f"{name}={_value(value)}" for name, value in fields.items())
    lines.append(f"    decision: {decided or 'no rule set anything: the configured defaults apply'}")
    lines += [f"    note: {note}" for note in data.get("notes", [])]
    return lines


def _actions(rule: str, fields: dict[str, Any], set_by: dict[str, list[str]], stopped_by: str | None) -> str:
    """What one matching rule set: `field=value` when its value stands, the rules it shared or lost it to."""
    done = []
    for name, setters in set_by.items():
        if rule not in setters:
            continue
        others = [r for r in setters if r != rule]
        if isinstance(fields.get(name), list):  # tags, notify: the rules add up
            done.append(f"{name}={_value(fields[name])}" + (f" (with {', '.join(others)})" if others else ""))
        elif setters[-1] == rule:
            done.append(f"{name}={_value(fields.get(name))}")
        else:
            done.append(f"{name} (overridden by {setters[-1]})")
    if stopped_by == rule:
        done.append("stop")
    return "; ".join(done) or "-"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
