"""Store: estimates (chiffrage) of évolution tickets: proposed by a consultant, decided by the customer."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.outcome import EstimateChange
from mailgate.store.tables import estimate
from mailgate.store.tickets import cents_to_text


def apply(conn: Connection, ticket_id: int, change: EstimateChange, now: datetime) -> None:
    """A new estimate supersedes the one still proposed; a decision settles the proposed one."""
    if change.state == "proposed":
        conn.execute(sa.update(estimate).where(estimate.c.ticket_id == ticket_id,
                                                     estimate.c.state == "proposed").values(state="superseded"))
        cents = None if change.amount is None else int((Decimal(change.amount) * 100).to_integral_value())
        conn.execute(sa.insert(estimate).values(
            ticket_id=ticket_id, amount_cents=cents, days=change.days, state="proposed",
            proposed_by=change.by, proposed_at=now))
        return
    conn.execute(sa.update(estimate).where(estimate.c.id == change.estimate_id,
                                                 estimate.c.state == "proposed")
                       .values(state=change.state, decided_by=change.by, decided_at=now))


def of_ticket(conn: Connection, ticket_id: int) -> list[dict[str, Any]]:
    return [dict(id=e.id, amount=cents_to_text(e.amount_cents), days=e.days, state=e.state,
                 proposed_by=e.proposed_by, proposed_at=e.proposed_at.isoformat(), decided_by=e.decided_by,
                 decided_at=e.decided_at.isoformat() if e.decided_at else None)
            for e in conn.execute(sa.select(estimate).where(estimate.c.ticket_id == ticket_id)
                                        .order_by(estimate.c.id))]
