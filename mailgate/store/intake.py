"""Store, SQLite only: the SMTP listener's intake, a file of its own (`<database>.intake`) where it stores
each mail it receives, committed (WAL, synchronous=FULL: on disk) before it answers 250.

On one SQLite file the listener's commit had to wait for the worker's transaction (one writer at a time):
the 250 of a mail arriving then waited up to a whole batch. The intake has its own write lock, so a 250 only
ever waits for other SMTP sessions' commits. The worker moves what the intake holds into `inbound_mail`, in
its claim transaction; only after that commit does it drop the moved rows from the intake. A crash between
the two leaves rows that are moved again: the move inserts on the mail's dedupe key and a row already there
is passed by, so nothing is lost and nothing doubled (the same rule turns away a second delivery of a mail).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate import log
from mailgate.store import blobs
from mailgate.store.columns import UTCDateTime
from mailgate.store.db import Database, make_engine
from mailgate.store.driver_sql import Statement
from mailgate.store.inbound import Arrival, InboundRow, claim, fitting, store_all

logger = log.get("intake")
intake_metadata = sa.MetaData()
intake_mail = sa.Table(
    "intake_mail", intake_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("source_ref", sa.String, nullable=False),
    sa.Column("envelope_from", sa.String),
    sa.Column("envelope_to", sa.JSON, nullable=False),
    sa.Column("message_id", sa.String),
    sa.Column("sender", sa.String),
    sa.Column("raw", sa.LargeBinary, nullable=False),
    sqlite_autoincrement=True,  # an id is never given twice, even after the rows before it were dropped
)
_c = intake_mail.c
_INSERT = Statement(sa.insert(intake_mail), returning=True)
_INSERT_EMPTY = sa.insert(intake_mail).values(raw=blobs.empty("b_size")).returning(_c.id)  # store/blobs.py
_WAITING = sa.select(*(blobs.small(c) if c is _c.raw else c for c in intake_mail.c)).order_by(_c.id).limit(
    sa.bindparam("b_limit"))  # a big mail's bytes are read through the blob (store/blobs.py)
_SIZES = sa.select(sa.func.length(_c.raw)).order_by(_c.id).limit(sa.bindparam("b_limit"))
_DROP = sa.delete(intake_mail).where(_c.id <= sa.bindparam("b_last"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrived:
    """A mail in the intake: its intake id, when it arrived, and the mail as the edge received it."""

    id: int
    received_at: datetime
    arrival: Arrival


def path_of(database_path: str) -> str:
    return f"{database_path}.intake"


def open_intake(database_path: str, *, busy_timeout_ms: int = 10_000) -> Database:
    """The intake of this SQLite database file, created when missing; IntakeError for one a newer mailgate made."""
    db = Database(make_engine(f"sqlite:///{path_of(database_path)}", busy_timeout_ms=busy_timeout_ms))
    try:
        db.write_now(_made)
    except BaseException:
        db.close()
        raise
    return db


class IntakeError(RuntimeError):
    """The intake file is of a format this mailgate does not know."""


FORMAT = 1  # PRAGMA user_version of the intake's file: its table as above


def _made(conn: Connection) -> None:
    found = conn.exec_driver_sql("PRAGMA user_version").scalar()
    if found not in (0, FORMAT):
        path = conn.engine.url.database
        raise IntakeError(f"{path}: intake format {found}, this mailgate knows {FORMAT}: run the mailgate that "
                          "made it until the file is empty (`mailgate status`), or a newer one")
    intake_metadata.create_all(conn)
    conn.exec_driver_sql(f"PRAGMA user_version = {FORMAT}")


def store_many(conn: Connection, arrivals: list[Arrival], now: datetime) -> list[int | None]:
    """Received mails into the intake, in the caller's one transaction: their intake ids, in order (a second
    delivery of a mail is told apart only when it is moved)."""
    return [_store(conn, a, now) for a in arrivals]


def _store(conn: Connection, a: Arrival, now: datetime) -> int:
    values = dict(received_at=now, source=a.source, source_ref=a.source_ref, envelope_from=a.envelope_from,
                  envelope_to=a.envelope_to, message_id=a.message_id, sender=a.sender)
    if not blobs.big(conn, a.raw):
        return _INSERT.new_id(conn, dict(values, raw=a.raw))
    new_id = int(conn.execute(_INSERT_EMPTY, dict(values, b_size=len(a.raw))).scalar_one())
    blobs.write(conn, intake_mail, "raw", new_id, a.raw)  # bound, SQLite copied it twice: listener +105 MB
    return new_id


def waiting(conn: Connection, limit: int, max_bytes: int | None = None) -> list[Arrived]:
    """The oldest `limit` mails of the intake, oldest first; no more than fit in `max_bytes` (one at least)."""
    if max_bytes is not None:
        limit = fitting(conn.execute(_SIZES, dict(b_limit=limit)).scalars().all(), max_bytes)
    return [Arrived(id=r["id"], received_at=r["received_at"], arrival=Arrival(
        raw=r["raw"] if r["raw"] is not None else blobs.read(conn, intake_mail, "raw", r["id"]), source=r["source"],
        source_ref=r["source_ref"], envelope_from=r["envelope_from"], envelope_to=list(r["envelope_to"]),
        message_id=r["message_id"], sender=r["sender"]))
        for r in conn.execute(_WAITING, dict(b_limit=limit)).mappings()]


def moved_and_claimed(conn: Connection, mails: list[Arrived], *, me: str, now: datetime, until: datetime,
                      limit: int, max_bytes: int | None = None) -> list[InboundRow]:
    """The worker's claim (inbound.claim), after moving these mails of the intake into inbound_mail, oldest
    first, in the same transaction. A mail already there (moved before a crash, or delivered twice) is passed
    by. The raw bytes of a mail moved now are the ones in hand, not read back: one copy of a big mail."""
    moved: dict[int, bytes] = {}
    for mail, new_id in zip(mails, store_all(conn, [(m.arrival, m.received_at) for m in mails]), strict=True):
        if new_id is None:
            logger.info("duplicate delivery ignored", message_id=mail.arrival.message_id, intake_id=mail.id)
        else:
            moved[new_id] = mail.arrival.raw
    return claim(conn, me, now, until, limit, known=moved, max_bytes=max_bytes)


def drop(conn: Connection, last_id: int) -> int:
    """Forget the intake's mails up to `last_id`, once the transaction that moved them is committed."""
    return int(conn.execute(_DROP, dict(b_last=last_id)).rowcount)


def peek(database_path: str) -> tuple[int, datetime | None]:
    """How many mails the intake holds and when the oldest arrived, read without writing (for `mailgate status`
    and /metrics); (0, None) when there is no intake."""
    file = Path(path_of(database_path))
    if not file.exists():
        return 0, None
    engine = sa.create_engine(f"sqlite:///{file.as_uri()}?mode=ro&uri=true", poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            count, oldest = conn.execute(sa.select(sa.func.count(), sa.func.min(_c.id))).one()
            at = conn.execute(sa.select(_c.received_at).where(_c.id == oldest)).scalar() if count else None
    except sa.exc.OperationalError:  # created, not yet given its table
        return 0, None
    finally:
        engine.dispose()
    return int(count), at


def counted(database_path: str | None, counts: dict[str, int],
            oldest: datetime | None) -> tuple[dict[str, int], datetime | None]:
    """Inbound counts by status and the oldest waiting mail's arrival, with the intake's mails counted as
    received (waiting for the worker): what `mailgate status` and /metrics show."""
    held, first = peek(database_path) if database_path else (0, None)
    if not held:
        return counts, oldest
    return ({**counts, "received": counts.get("received", 0) + held},
            min(at for at in (oldest, first) if at is not None))
