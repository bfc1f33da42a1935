"""Store: addresses flagged after a permanent bounce (no automatic mail to them until a date), and the counts
of recent automatic mail that the limits compare (docs/hygiene.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.store.tables import SHORT_TEXT, address_flag, fit, outbox


async def flag(conn: AsyncConnection, emails: tuple[str, ...], reason: str, now: datetime, days: float) -> None:
    """No automatic mail to these addresses until `now + days` (a later bounce extends it)."""
    wanted = sorted({e.lower() for e in emails if e})
    if not wanted or days <= 0:
        return
    await conn.execute(sa.delete(address_flag).where(address_flag.c.email.in_(wanted)))
    await conn.execute(sa.insert(address_flag), [
        dict(email=fit(address_flag.c.email, e), reason=reason[:SHORT_TEXT], flagged_at=now,
             until=now + timedelta(days=days)) for e in wanted])


@dataclass(frozen=True, slots=True)
class Recent:
    """What the limits on automatic mail look at for one recipient on one ticket."""

    flagged_until: datetime | None  # the address bounced permanently: no automatic mail until then
    flag_reason: str | None
    to_recipient: int  # automatic mails to this address in the last hour
    on_ticket: int  # automatic mails on this ticket in the last hour, to anyone but the consultants


async def recent(conn: AsyncConnection, to: str, ticket_id: int, now: datetime, agents: frozenset[str]) -> Recent:
    """The flag of `to` and the hour's automatic-mail counts, in one trip."""
    hour = now - timedelta(hours=1)
    counted = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.automatic.is_(True),
                                                                   outbox.c.created_at > hour)
    row = (await conn.execute(sa.select(
        sa.select(address_flag.c.until).where(address_flag.c.email == to, address_flag.c.until > now)
        .scalar_subquery().label("until"),
        sa.select(address_flag.c.reason).where(address_flag.c.email == to, address_flag.c.until > now)
        .scalar_subquery().label("reason"),
        counted.where(outbox.c.recipient == to).scalar_subquery().label("to_recipient"),
        counted.where(outbox.c.ticket_id == ticket_id, outbox.c.recipient.not_in(sorted(agents) or [""]))
        .scalar_subquery().label("on_ticket"),
    ))).one()
    until = row.until
    if until is not None and not isinstance(until, datetime):  # a scalar subquery loses the column type
        until = datetime.fromisoformat(str(until))
    return Recent(flagged_until=until, flag_reason=row.reason, to_recipient=int(row.to_recipient),
                  on_ticket=int(row.on_ticket))


async def flagged(conn: AsyncConnection, emails: set[str], now: datetime) -> set[str]:
    """Which of these addresses are flagged now."""
    if not emails:
        return set()
    return set((await conn.execute(sa.select(address_flag.c.email).where(
        address_flag.c.email.in_(sorted(emails)), address_flag.c.until > now))).scalars())
