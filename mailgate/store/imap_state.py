"""Store: the imap_state table: each mailbox's UIDVALIDITY, last stored UID, connection and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.store.columns import SHORT_TEXT
from mailgate.store.tables import imap_state


@dataclass(frozen=True, slots=True)
class Position:
    uidvalidity: int | None
    last_uid: int


def position(conn: Connection, mailbox: str) -> Position:
    row = (conn.execute(
        sa.select(imap_state.c.uidvalidity, imap_state.c.last_uid).where(imap_state.c.mailbox == mailbox)
    )).first()
    return Position(row.uidvalidity, row.last_uid) if row else Position(None, 0)


def update(conn: Connection, /, mailbox: str, **values: Any) -> None:
    """Set some columns of a mailbox's row, creating it on first use."""
    changed = (conn.execute(
        sa.update(imap_state).where(imap_state.c.mailbox == mailbox).values(**values)
    )).rowcount
    if not changed:
        conn.execute(sa.insert(imap_state).values(mailbox=mailbox, **values))


def selected(conn: Connection, mailbox: str, uidvalidity: int) -> Position:
    """The folder was selected with this UIDVALIDITY: a new one voids every UID we knew. Returns what was known."""
    known = position(conn, mailbox)
    if known.uidvalidity is not None and known.uidvalidity != uidvalidity:
        update(conn, mailbox, uidvalidity=uidvalidity, last_uid=0, connected=True)
    else:
        update(conn, mailbox, uidvalidity=uidvalidity, connected=True)
    return known


def advanced(conn: Connection, mailbox: str, last_uid: int, stored: int) -> None:
    """A batch is stored and marked on the server: the next poll starts after `last_uid`."""
    update(conn, mailbox, last_uid=last_uid)
    add_stored(conn, mailbox, stored)


def record_error(conn: Connection, mailbox: str, error: str, now: datetime) -> None:
    update(conn, mailbox, connected=False, last_error=error[:SHORT_TEXT], last_error_at=now)
    conn.execute(
        sa.update(imap_state).where(imap_state.c.mailbox == mailbox).values(errors=imap_state.c.errors + 1)
    )


def add_stored(conn: Connection, mailbox: str, count: int) -> None:
    conn.execute(
        sa.update(imap_state).where(imap_state.c.mailbox == mailbox)
        .values(stored=imap_state.c.stored + count)
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class MailboxState:
    mailbox: str
    connected: bool
    uidvalidity: int | None
    last_uid: int
    last_poll_at: datetime | None
    stored: int
    errors: int  # failed polls since the last success
    last_error: str | None
    last_error_at: datetime | None


def states(conn: Connection) -> list[MailboxState]:
    """Every mailbox's row, by name."""
    c = imap_state.c
    rows = conn.execute(sa.select(c.mailbox, c.connected, c.uidvalidity, c.last_uid, c.last_poll_at, c.stored,
                                  c.errors, c.last_error, c.last_error_at).order_by(c.mailbox))
    return [MailboxState(mailbox=r.mailbox, connected=r.connected, uidvalidity=r.uidvalidity, last_uid=r.last_uid,
                         last_poll_at=r.last_poll_at, stored=r.stored, errors=r.errors, last_error=r.last_error,
                         last_error_at=r.last_error_at) for r in rows]


def all_states(conn: Connection) -> list[dict[str, Any]]:
    """`states` as JSON values (mailgate status, /healthz)."""
    return [
        dict(mailbox=r.mailbox, connected=r.connected, uidvalidity=r.uidvalidity, last_uid=r.last_uid,
             last_poll_at=r.last_poll_at.isoformat() if r.last_poll_at else None, stored=r.stored,
             errors=r.errors, last_error=r.last_error,
             last_error_at=r.last_error_at.isoformat() if r.last_error_at else None)
        for r in states(conn)
    ]
