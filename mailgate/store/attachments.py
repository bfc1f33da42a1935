"""Store: attachments of inbound mail: rows in the database, the bytes there or as content-addressed files
written and synced before the transaction naming them commits (docs/hygiene.md)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.config.settings import Settings
from mailgate.core.mail.attachments import Attachment
from mailgate.store import blobs
from mailgate.store.columns import fit
from mailgate.store.driver_sql import Statement
from mailgate.store.tables import attachment


def store(conn: Connection, files: tuple[Attachment, ...], *, ticket_id: int, inbound_id: int,
          settings: Settings) -> None:
    """Rows for the attachments the core kept (their files written and synced first in folder mode)."""
    rows: list[dict[str, Any]] = []
    folder = settings.attachments_dir if settings.hygiene.attachments == "folder" else None
    big: list[tuple[dict[str, Any], bytes]] = []  # through blob I/O (store/blobs.py)
    for a in files:
        path: str | None = None
        if folder is not None:
            path = f"{a.sha256[:2]}/{a.sha256}"
            _write_once(folder / path, a.content)  # on the database thread, before the commit names it
        row = dict(ticket_id=ticket_id, inbound_id=inbound_id, filename=fit(attachment.c.filename, a.filename),
                   original_name=a.original_name, content_type=fit(attachment.c.content_type, a.content_type),
                   size=a.size, sha256=a.sha256, inline=a.inline, content_id=fit(attachment.c.content_id, a.content_id),
                   content=None if folder is not None else a.content, path=path)
        if folder is None and blobs.big(conn, a.content):
            big.append((row, a.content))
        else:
            rows.append(row)
    if rows:
        _INSERT.many(conn, rows)
    for row, content in big:
        del row["content"]
        rowid = conn.execute(_INSERT_EMPTY, dict(row, b_size=len(content))).scalar_one()
        blobs.write(conn, attachment, "content", int(rowid), content)


_INSERT = Statement(sa.insert(attachment))  # run by its text (store/driver_sql)
_INSERT_EMPTY = sa.insert(attachment).values(content=blobs.empty("b_size")).returning(attachment.c.id)


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


def of_ticket(conn: Connection, ticket_id: int) -> list[dict[str, Any]]:
    """The attachments of a ticket, without their bytes (for `tickets show`)."""
    return [dict(id=r.id, filename=r.filename, original_name=r.original_name, content_type=r.content_type,
                 size=r.size, sha256=r.sha256, inline=r.inline, inbound_id=r.inbound_id, stored_in=(
                     "folder" if r.path else "database"), path=r.path)
            for r in conn.execute(sa.select(
                attachment.c.id, attachment.c.filename, attachment.c.original_name, attachment.c.content_type,
                attachment.c.size, attachment.c.sha256, attachment.c.inline, attachment.c.inbound_id,
                attachment.c.path).where(attachment.c.ticket_id == ticket_id).order_by(attachment.c.id))]
