"""Store: the imap_state table: each mailbox's UIDVALIDITY, last stored UID, connection and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.store.tables import SHORT_TEXT, imap_state


@dataclass(frozen=True, slots=True)
class Position:
    uidvalidity: int | None
    last_uid: int


async def position(conn: AsyncConnection, mailbox: str) -> Position:
    row = (await conn.execute(
        sa.select(imap_state.c.uidvalidity, imap_state.c.last_uid).where(imap_state.c.mailbox == mailbox)
    )).first()
    return Position(row.uidvalidity, row.last_uid) if row else Position(None, 0)


async def update(conn: AsyncConnection, mailbox: str, **values: Any) -> None:
    """Set some columns of a mailbox's row, creating it on first use."""
    changed = (await conn.execute(
        sa.update(imap_state).where(imap_state.c.mailbox == mailbox).values(**values)
    )).rowcount
    if not changed:
        await conn.execute(sa.insert(imap_state).values(mailbox=mailbox, **values))


async def record_error(conn: AsyncConnection, mailbox: str, error: str, now: datetime) -> None:
    await update(conn, mailbox, connected=False, last_error=error[:SHORT_TEXT], last_error_at=now)
    await conn.execute(
        sa.update(imap_state).where(imap_state.c.mailbox == mailbox).values(errors=imap_state.c.errors + 1)
    )


async def add_stored(conn: AsyncConnection, mailbox: str, count: int) -> None:
    await conn.execute(
        sa.update(imap_state).where(imap_state.c.mailbox == mailbox)
        .values(stored=imap_state.c.stored + count)
    )


async def all_states(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(sa.select(imap_state).order_by(imap_state.c.mailbox))
    return [
        dict(mailbox=r.mailbox, connected=r.connected, uidvalidity=r.uidvalidity, last_uid=r.last_uid,
             last_poll_at=r.last_poll_at.isoformat() if r.last_poll_at else None, stored=r.stored,
             errors=r.errors, last_error=r.last_error,
             last_error_at=r.last_error_at.isoformat() if r.last_error_at else None)
        for r in rows
    ]
