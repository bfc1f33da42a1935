"""Shell, beside the worker's transaction: addresses flagged after a permanent bounce, limits on automatic
mail, and attachments stored in the database or as content-addressed files (docs/hygiene.md)."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from mailgate.config import Settings
from mailgate.core.mail.attachments import Extracted
from mailgate.core.model import EventSpec, OutgoingDraft
from mailgate.core.workflow.authn import AGENT_KINDS
from mailgate.store.tables import address_flag, attachment, outbox


async def flag(conn: AsyncConnection, emails: tuple[str, ...], reason: str, now: datetime, days: float) -> None:
    """No automatic mail to these addresses until `now + days` (a later bounce extends it)."""
    wanted = sorted({e.lower() for e in emails if e})
    if not wanted or days <= 0:
        return
    await conn.execute(sa.delete(address_flag).where(address_flag.c.email.in_(wanted)))
    await conn.execute(sa.insert(address_flag), [
        dict(email=e[:320], reason=reason[:1000], flagged_at=now, until=now + timedelta(days=days)) for e in wanted])


async def suppressed(conn: AsyncConnection, draft: OutgoingDraft, ticket_id: int, now: datetime,
                     settings: Settings, agents: frozenset[str]) -> str | None:
    """Why an automatic mail must not go, or None. Consultants' mail and human answers always go."""
    to = draft.to.email
    if not draft.automatic or to in agents or draft.kind in AGENT_KINDS:
        return None
    hour = now - timedelta(hours=1)
    limits = settings.hygiene
    recent = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.automatic.is_(True),
                                                                  outbox.c.created_at > hour)
    row = (await conn.execute(sa.select(  # one trip: the flag and both counts
        sa.select(address_flag.c.until).where(address_flag.c.email == to, address_flag.c.until > now)
        .scalar_subquery().label("until"),
        sa.select(address_flag.c.reason).where(address_flag.c.email == to, address_flag.c.until > now)
        .scalar_subquery().label("reason"),
        recent.where(outbox.c.recipient == to).scalar_subquery().label("to_recipient"),
        recent.where(outbox.c.ticket_id == ticket_id, outbox.c.recipient.not_in(sorted(agents) or [""]))
        .scalar_subquery().label("on_ticket"),
    ))).one()
    if row.until is not None:
        until = row.until if isinstance(row.until, datetime) else datetime.fromisoformat(str(row.until))
        return f"{to} bounced permanently ({row.reason}); no automatic mail until {until.isoformat()}"
    if row.to_recipient >= limits.auto_mail_per_recipient_per_hour:
        return (f"{row.to_recipient} automatic mails to {to} in the last hour "
                f"(limit {limits.auto_mail_per_recipient_per_hour})")
    if row.on_ticket >= limits.auto_mail_per_ticket_per_hour:
        return (f"{row.on_ticket} automatic mails on ticket #{ticket_id} in the last hour "
                f"(limit {limits.auto_mail_per_ticket_per_hour})")
    return None


async def drop_flagged_cc(conn: AsyncConnection, draft: OutgoingDraft,
                          now: datetime) -> tuple[OutgoingDraft, list[EventSpec]]:
    """An automatic mail goes without its Cc addresses that bounced permanently (one event for each)."""
    if not draft.automatic or not draft.cc:
        return draft, []
    flagged = set((await conn.execute(sa.select(address_flag.c.email).where(
        address_flag.c.email.in_(sorted({a.email for a in draft.cc})), address_flag.c.until > now))).scalars())
    if not flagged:
        return draft, []
    events = [EventSpec("mail_suppressed", {"kind": draft.kind, "to": e, "why": f"Cc {e} bounced permanently; "
                                            "no automatic mail to it for now"}) for e in sorted(flagged)]
    return replace(draft, cc=tuple(a for a in draft.cc if a.email not in flagged)), events


async def store_attachments(conn: AsyncConnection, extracted: Extracted, *, ticket_id: int, inbound_id: int,
                            settings: Settings) -> list[EventSpec]:
    """Rows for the attachments (their files written and synced first in folder mode); events for refusals."""
    rows: list[dict[str, Any]] = []
    folder = settings.attachments_dir if settings.hygiene.attachments == "folder" else None
    for a in extracted.attachments:
        path: str | None = None
        if folder is not None:
            path = f"{a.sha256[:2]}/{a.sha256}"
            await asyncio.to_thread(_write_once, folder / path, a.content)  # fsync off the event loop
        rows.append(dict(ticket_id=ticket_id, inbound_id=inbound_id, filename=a.filename[:300],
                         original_name=a.original_name, content_type=a.content_type[:200], size=a.size,
                         sha256=a.sha256, inline=a.inline, content_id=a.content_id and a.content_id[:998],
                         content=None if folder is not None else a.content, path=path))
    if rows:
        await conn.execute(sa.insert(attachment), rows)
    return [EventSpec("attachment_refused", {"name": r.name, "reason": r.reason, "size": r.size})
            for r in extracted.refused]


def _write_once(path: Path, content: bytes) -> None:
    """Content-addressed: a file already there has these bytes. Written to a temporary name, synced, renamed,
    and the rename synced (its folder), so the file is on disk before the transaction naming it commits."""
    if path.exists():
        return
    created = not path.parent.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path)
    _sync_dir(path.parent)
    if created:
        _sync_dir(path.parent.parent)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def of_ticket(conn: AsyncConnection, ticket_id: int) -> list[dict[str, Any]]:
    """The attachments of a ticket, without their bytes (for `tickets show`)."""
    return [dict(id=r.id, filename=r.filename, original_name=r.original_name, content_type=r.content_type,
                 size=r.size, sha256=r.sha256, inline=r.inline, inbound_id=r.inbound_id, stored_in=(
                     "folder" if r.path else "database"), path=r.path)
            for r in await conn.execute(sa.select(
                attachment.c.id, attachment.c.filename, attachment.c.original_name, attachment.c.content_type,
                attachment.c.size, attachment.c.sha256, attachment.c.inline, attachment.c.inbound_id,
                attachment.c.path).where(attachment.c.ticket_id == ticket_id).order_by(attachment.c.id))]
