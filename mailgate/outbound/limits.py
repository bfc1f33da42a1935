"""Shell, outbound: the limits on automatic mail: none to an address that bounced permanently, at most so
many an hour to one recipient and on one ticket (docs/hygiene.md). Consultants' mail and human answers go."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.config.sections import Hygiene
from mailgate.core.model import EventSpec, OutgoingDraft
from mailgate.core.workflow.authn import AGENT_KINDS
from mailgate.store import flags


async def suppressed(conn: AsyncConnection, draft: OutgoingDraft, ticket_id: int, now: datetime,
                     limits: Hygiene, agents: frozenset[str]) -> str | None:
    """Why an automatic mail must not go, or None."""
    to = draft.to.email
    if not draft.automatic or to in agents or draft.kind in AGENT_KINDS:
        return None
    recent = await flags.recent(conn, to, ticket_id, now, agents)
    if recent.flagged_until is not None:
        return (f"{to} bounced permanently ({recent.flag_reason}); no automatic mail until "
                f"{recent.flagged_until.isoformat()}")
    if recent.to_recipient >= limits.auto_mail_per_recipient_per_hour:
        return (f"{recent.to_recipient} automatic mails to {to} in the last hour "
                f"(limit {limits.auto_mail_per_recipient_per_hour})")
    if recent.on_ticket >= limits.auto_mail_per_ticket_per_hour:
        return (f"{recent.on_ticket} automatic mails on ticket #{ticket_id} in the last hour "
                f"(limit {limits.auto_mail_per_ticket_per_hour})")
    return None


async def drop_flagged_cc(conn: AsyncConnection, draft: OutgoingDraft,
                          now: datetime) -> tuple[OutgoingDraft, list[EventSpec]]:
    """An automatic mail goes without its Cc addresses that bounced permanently (one event for each)."""
    if not draft.automatic or not draft.cc:
        return draft, []
    flagged = await flags.flagged(conn, {a.email for a in draft.cc}, now)
    if not flagged:
        return draft, []
    events = [EventSpec("mail_suppressed", {"kind": draft.kind, "to": e, "why": f"Cc {e} bounced permanently; "
                                            "no automatic mail to it for now"}) for e in sorted(flagged)]
    return replace(draft, cc=tuple(a for a in draft.cc if a.email not in flagged)), events
