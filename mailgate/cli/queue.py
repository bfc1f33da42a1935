"""Shell, command line: `mailgate queue`: the open work as an ordered checklist (priority, then time waiting),
per level or per agent, with service-target breaches marked."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from mailgate.cli.common import query
from mailgate.core.model import Status
from mailgate.core.workflow.lookups import rank_of


@click.command()
@click.option("--by", type=click.Choice(["level", "agent"]), default="level", show_default=True,
              help="Group the checklist by level (N1..N4) or by assignee.")
@click.option("--level", type=click.IntRange(1, 4), default=None, help="Only this level.")
@click.option("--agent", default=None, help="Only tickets assigned to this address.")
@click.option("--json", "as_json", is_flag=True, help="A JSON object: group -> ordered tickets.")
@click.pass_context
def queue(ctx: click.Context, by: str, level: int | None, agent: str | None, as_json: bool) -> None:
    """Open tickets (not Fermé), most urgent first, then the longest waiting."""
    from mailgate.clock import utcnow
    from mailgate.store import tickets

    def rows(conn: Any) -> list[dict[str, Any]]:
        return [dict(r._mapping) | {"targets": tickets.targets_of(r._mapping)}
                for r in tickets.open_work(conn, level=level, agent=agent)]

    now = utcnow()
    groups: dict[str, list[dict[str, Any]]] = {}
    for t in sorted(query(ctx, rows), key=lambda t: (rank_of(t["priority"]), _since(t))):
        key = f"N{t['level']}" if by == "level" else (t["assignee"] or "(unassigned)")
        groups.setdefault(key, []).append(_item(t, now))
    if as_json:
        click.echo(json.dumps(groups, ensure_ascii=False, indent=2))
        return
    if not groups:
        click.echo("no open ticket")
    for key in sorted(groups):
        click.echo(f"{key} ({len(groups[key])})")
        for item in groups[key]:
            flags = "".join(f" [{b} target breached]" for b in item["breached"])
            click.echo(f"  [ ] #{item['id']:<6} {item['priority']:<7} {item['status_label']:<32} "
                       f"waiting {item['waiting']:<8} {item['title']}{flags}")


def _since(t: dict[str, Any]) -> datetime:
    since: datetime = t["status_changed_at"] or t["updated_at"]
    return since


def _item(t: dict[str, Any], now: datetime) -> dict[str, Any]:
    waited = now - _since(t)
    hours = int(waited.total_seconds() // 3600)
    breached = [target.name for target in t["targets"] if target.breached(now)]
    return {"id": t["id"], "priority": t["priority"], "status": t["status"],
            "status_label": Status(t["status"]).label, "level": t["level"], "assignee": t["assignee"],
            "title": t["title"], "waiting": f"{hours // 24}d{hours % 24:02d}h", "waiting_seconds":
            int(waited.total_seconds()), "breached": breached,
            "response_due": t["response_due"].isoformat() if t["response_due"] else None,
            "resolution_due": t["resolution_due"].isoformat() if t["resolution_due"] else None}
