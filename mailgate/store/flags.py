"""Store: addresses flagged after a permanent bounce (no automatic mail to them until a date), and the counts
of recent automatic mail that the core's limits compare (docs/hygiene.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.desk import Flag
from mailgate.store.tables import SHORT_TEXT, address_flag, fit, outbox


def flag(conn: Connection, emails: tuple[str, ...], reason: str, now: datetime, days: float) -> None:
    """No automatic mail to these addresses until `now + days` (a later bounce extends it)."""
    wanted = sorted({e.lower() for e in emails if e})
    if not wanted or days <= 0:
        return
    conn.execute(sa.delete(address_flag).where(address_flag.c.email.in_(wanted)))
    conn.execute(sa.insert(address_flag), [
        dict(email=fit(address_flag.c.email, e), reason=reason[:SHORT_TEXT], flagged_at=now,
             until=now + timedelta(days=days)) for e in wanted])


def flagged(conn: Connection, emails: set[str], now: datetime) -> dict[str, Flag]:
    """The addresses among these that are flagged now, with until when and why."""
    if not emails:
        return {}
    rows = conn.execute(sa.select(address_flag.c.email, address_flag.c.until, address_flag.c.reason).where(
        address_flag.c.email.in_(sorted(emails)), address_flag.c.until > now))
    return {r.email: Flag(until=r.until, reason=r.reason) for r in rows}


_AUTOMATIC = sa.and_(outbox.c.automatic.is_(True), outbox.c.created_at > sa.bindparam("b_since"))


def recent_to(conn: Connection, emails: set[str], since: datetime) -> dict[str, int]:
    """Automatic mails queued to each of these addresses since `since`."""
    if not emails:
        return {}
    rows = conn.execute(sa.select(outbox.c.recipient, sa.func.count()).where(
        _AUTOMATIC, outbox.c.recipient.in_(sorted(emails))).group_by(outbox.c.recipient), dict(b_since=since))
    return {recipient: int(n) for recipient, n in rows}


def recent_on(conn: Connection, ticket_ids: set[int], since: datetime, agents: frozenset[str]) -> dict[int, int]:
    """Automatic mails queued on each of these tickets since `since`, to anyone but the consultants."""
    if not ticket_ids:
        return {}
    rows = conn.execute(sa.select(outbox.c.ticket_id, sa.func.count()).where(
        _AUTOMATIC, outbox.c.ticket_id.in_(sorted(ticket_ids)), outbox.c.recipient.not_in(sorted(agents) or [""]))
        .group_by(outbox.c.ticket_id), dict(b_since=since))
    return {int(ticket_id): int(n) for ticket_id, n in rows}
