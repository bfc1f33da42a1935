"""Core: a ticket past a service target (first response, resolution) -> the supervisors are told, once."""

from __future__ import annotations

from datetime import datetime

from mailgate.core.model import Address, TicketView
from mailgate.core.outcome import UNSET, Disposition, EventSpec, MailKind, Outcome, TicketChange
from mailgate.core.workflow import drafts


def notice(view: TicketView, supervisors: tuple[str, ...], now: datetime) -> Outcome | None:
    """The targets to tell of now (ServiceTarget.to_tell) marked told, and the supervisors mailed; None: none."""
    targets = [(t.name, t.due) for t in view.targets if t.due is not None and t.to_tell(now)]
    if not targets:
        return None
    told = {name for name, _ in targets}
    change = TicketChange(response_breached_at=now if "response" in told else UNSET,
                          resolution_breached_at=now if "resolution" in told else UNSET)
    events = tuple(EventSpec("sla_breached", {"target": name, "due": due.isoformat()}) for name, due in targets)
    values: dict[str, object] = {"targets": [{"name": n, "due": d.isoformat(timespec="minutes")} for n, d in targets]}
    outgoing = tuple(drafts.to_agent(Address(s), MailKind.NOTIFY_BREACH, locale=view.locale, view=view,
                                     values=values) for s in supervisors)
    return Outcome(disposition=Disposition.APPENDED, ticket_id=view.id, events=events, outgoing=outgoing,
                   change=change)
