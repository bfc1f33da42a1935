"""Core: a ticket past a service target (first response, resolution) -> the supervisors are told, once."""

from __future__ import annotations

from datetime import datetime

from mailgate.core.model import Address, EventSpec, Outcome, TicketView
from mailgate.core.workflow import drafts


def notice(view: TicketView, targets: tuple[tuple[str, datetime], ...], supervisors: tuple[str, ...],
           now: datetime) -> Outcome:
    """Mark each breached target (name, due) and mail the supervisors about them."""
    names = [name for name, _ in targets]
    changes: dict[str, object] = {f"{name}_breached_at": now for name in names}
    events = tuple(EventSpec("sla_breached", {"target": name, "due": due.isoformat()}) for name, due in targets)
    values: dict[str, object] = {"targets": [{"name": n, "due": d.isoformat(timespec="minutes")} for n, d in targets]}
    outgoing = tuple(drafts.to_agent(Address(s), "notify_breach", locale=view.locale, view=view, values=values)
                     for s in supervisors)
    return Outcome("appended", None, view.id, (), events, outgoing, changes=changes)
