"""Store: the inbound_mail table: persist raw mail once, claim it for processing, record the result."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, RowMapping
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.store import blobs
from mailgate.store.columns import fit
from mailgate.store.driver_sql import Statement
from mailgate.store.later import Later
from mailgate.store.tables import inbound_mail, inbound_raw

STATUSES = ("received", "processed", "ignored", "quarantined", "shunted")  # every status a stored mail can have


@dataclass(frozen=True, slots=True)
class InboundRow:
    id: int
    envelope_from: str | None
    raw: bytes
    status: str
    envelope_to: list[str]
    attempts: int = 0


def dedupe_key(message_id: str | None, sender: str | None, raw: bytes) -> str:
    """Same Message-ID from the same sender = the same mail; without a Message-ID, the same bytes."""
    if message_id:
        basis = f"mid\0{message_id.strip().lower()}\0{(sender or '').strip().lower()}".encode()
    else:
        basis = b"raw\0" + raw
    return hashlib.sha256(basis).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    """One mail as an edge received it, to be stored before it is acknowledged."""

    raw: bytes
    source: str  # smtp | imap | pipe
    source_ref: str  # the SMTP peer, mailbox/uidvalidity/uid, stdin
    envelope_from: str | None
    envelope_to: list[str]
    message_id: str | None  # from the header block (dedupe_fields), for the dedupe key
    sender: str | None


def store(conn: Connection, arrival: Arrival, now: datetime) -> int | None:
    """Insert a received mail: its id, or None for a duplicate delivery (same Message-ID and sender, or bytes)."""
    return store_all(conn, [(arrival, now)])[0]


def store_many(conn: Connection, arrivals: list[Arrival], now: datetime) -> list[int | None]:
    """Several received mails in the caller's one transaction (one commit, one fsync for all)."""
    return store_all(conn, [(a, now) for a in arrivals])


def store_all(conn: Connection, arrivals: Sequence[tuple[Arrival, datetime]]) -> list[int | None]:
    """Received mails (each with when it arrived), in order: their ids, None for a duplicate. The new ones'
    raw bytes go in with one statement for all (a big one through blob I/O on SQLite, store/blobs.py, and by
    COPY on PostgreSQL)."""
    ids = [_insert(conn, arrival, at) for arrival, at in arrivals]
    new = [(new_id, arrival.raw) for new_id, (arrival, _) in zip(ids, arrivals, strict=True) if new_id is not None]
    postgresql = conn.dialect.name == "postgresql"
    big = [(new_id, raw) for new_id, raw in new if (len(raw) > PG_SLICE if postgresql else blobs.big(conn, raw))]
    apart = {new_id for new_id, _ in big}
    small = [dict(inbound_id=new_id, raw=raw) for new_id, raw in new if new_id not in apart]
    if small:
        conn.execute(_INSERT_RAW, small)
    for new_id, raw in big:  # each without a second copy of it in memory
        if postgresql:
            _pg_copied(conn, new_id, raw)
        else:
            conn.execute(_INSERT_EMPTY_RAW, dict(inbound_id=new_id, b_size=len(raw)))
            blobs.write(conn, inbound_raw, "raw", new_id, raw)
    return ids


def _insert(conn: Connection, arrival: Arrival, now: datetime) -> int | None:
    values = dict(
        received_at=now, source=arrival.source, source_ref=fit(inbound_mail.c.source_ref, arrival.source_ref),
        envelope_from=fit(inbound_mail.c.envelope_from, arrival.envelope_from), envelope_to=arrival.envelope_to,
        message_id=fit(inbound_mail.c.message_id, arrival.message_id or None),
        dedupe_key=dedupe_key(arrival.message_id, arrival.sender, arrival.raw), size=len(arrival.raw),
        status="received", attempts=0,
    )
    return _INSERT[conn.dialect.name].new_id_or_none(conn, values)


# Statements are built once: building and cache-keying them per mail cost more than running them.
_INSERT = {
    name: Statement(dialect.insert(inbound_mail).on_conflict_do_nothing(index_elements=["dedupe_key"]), returning=True)
    for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
}
# A claim returns these, then reads the raw bytes from their own table: RETURNING them made SQLite hold a
# 34 MB mail six times over (206 MB at the peak, against 68 for the SELECT; benchmarks/attachment_memory.py).
_INSERT_RAW = sa.insert(inbound_raw)
_INSERT_EMPTY_RAW = sa.insert(inbound_raw).values(raw=blobs.empty("b_size"))  # store/blobs.py
_COLUMNS = (inbound_mail.c.id, inbound_mail.c.envelope_from, inbound_mail.c.status, inbound_mail.c.envelope_to,
            inbound_mail.c.attempts)
_c = inbound_mail.c
_CLAIMABLE = sa.and_(_c.status == "received", sa.or_(_c.lease_until.is_(None), _c.lease_until < sa.bindparam("b_now"),
                                                      _c.claimed_by == sa.bindparam("b_me")))
# The rows to take are chosen once, in a materialised CTE: as a plain `IN (SELECT ... LIMIT n FOR UPDATE SKIP
# LOCKED)`, PostgreSQL may run the subquery again for each row and take far more than n.
_TAKEN = (sa.select(_c.id).where(_CLAIMABLE).order_by(_c.id).limit(sa.bindparam("b_limit"))
          .with_for_update(skip_locked=True).cte("taken").prefix_with("MATERIALIZED"))
_CLAIM = (
    sa.update(inbound_mail)
    .where(_c.id.in_(sa.select(_TAKEN.c.id)), _CLAIMABLE)
    .values(claimed_by=sa.bindparam("b_me"), lease_until=sa.bindparam("b_until"), attempts=_c.attempts + 1)
    .returning(*_COLUMNS)
)
_MINE = sa.and_(_c.id == sa.bindparam("b_id"), _c.claimed_by == sa.bindparam("b_me"))
_FINISH = Statement(
    sa.update(inbound_mail)
    .where(_MINE)
    .values(status=sa.bindparam("b_status"), ticket_id=sa.bindparam("b_ticket"),
            processed_at=sa.bindparam("b_now"), error=sa.bindparam("b_error"), claimed_by=None, lease_until=None)
)


def claim(conn: Connection, me: str, now: datetime, until: datetime, limit: int, *,
          known: dict[int, bytes] | None = None, max_bytes: int | None = None) -> list[InboundRow]:
    """Take up to `limit` of the oldest stored mails nobody else holds (SKIP LOCKED on PostgreSQL), for `me`
    until `until`: committed at once, so other workers pass them by while `me` prepares them. A worker that
    dies leaves its mails to be taken again when the lease runs out; `me` takes its own back at once.
    `max_bytes`: no more mails than fit in that size (one at least), so that a burst of big mails is taken a
    few at a time rather than 50 times 25 MB at once."""
    if max_bytes is not None:
        limit = fitting(conn.execute(_SIZES, dict(b_me=me, b_now=now, b_limit=limit)).scalars().all(), max_bytes)
    rows = conn.execute(_CLAIM, dict(b_me=me, b_now=now, b_until=until, b_limit=limit)).mappings().all()
    return _with_raw(conn, rows, known or {})


def fitting(sizes: Sequence[int], max_bytes: int) -> int:
    """How many of these mails (their sizes, oldest first) a batch takes: as many as fit in `max_bytes`, one
    at least."""
    total = 0
    for n, size in enumerate(sizes):
        total += size
        if n and total > max_bytes:
            return n
    return len(sizes)


_SIZES = sa.select(_c.size).where(_CLAIMABLE).order_by(_c.id).limit(sa.bindparam("b_limit"))


def _with_raw(conn: Connection, rows: Sequence[RowMapping], known: dict[int, bytes]) -> list[InboundRow]:
    """The claimed rows with their raw bytes: those `known` (the caller has them), the others read by id."""
    unread = [r["id"] for r in rows if r["id"] not in known]
    raws = {**known, **_raws(conn, unread)} if unread else known
    return sorted((InboundRow(id=r["id"], envelope_from=r["envelope_from"], raw=bytes(raws[r["id"]]),
                              status=r["status"], envelope_to=r["envelope_to"], attempts=r["attempts"])
                   for r in rows), key=lambda r: r.id)


def _raws(conn: Connection, ids: list[int]) -> dict[int, bytes]:
    """The raw bytes of these mails, each big one read without a second copy of it in memory (P5)."""
    if conn.dialect.name != "postgresql":  # SQLite: a big one through its blob (store/blobs.py)
        return {i: raw if raw is not None else blobs.read(conn, inbound_raw, "raw", i)
                for i, raw in conn.execute(_RAW, dict(b_ids=ids)).all()}
    with conn.connection.dbapi_connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        cursor.execute(_PG_RAW, (PG_SLICE, ids))
        return {int(i): bytes(raw) if raw is not None else _pg_sliced(cursor, int(i), size)
                for i, raw, size in cursor.fetchall()}


def _pg_sliced(cursor: Any, inbound_id: int, size: int) -> bytes:
    """A big mail's bytes read in slices of `PG_SLICE`, or a sixteenth of it for a bigger one (a compressed value
    is decompressed from its start to each slice's end: 16 slices cost 8.5 times its size at most): whole, it was
    in memory three times at once, in libpq's buffer, its result and the bytes (a 34 MB mail: +102 MB at the
    worker's peak; +69 so)."""
    step, slices = max(PG_SLICE, -(-size // 16)), []
    for at in range(0, size, step):
        row = cursor.execute(_PG_SLICE, (at + 1, step, inbound_id)).fetchone()
        if row is None:
            raise LookupError(f"inbound mail {inbound_id}: its raw bytes are gone")
        slices.append(bytes(row[0]))
    return b"".join(slices)


def _pg_copied(conn: Connection, inbound_id: int, raw: bytes) -> None:
    """A big mail's bytes into inbound_raw through COPY in its binary format, which psycopg sends in pieces:
    bound to an INSERT, the whole value went into libpq's buffer beside it (the listener: +69 MB for a
    34 MB mail; benchmarks/attachment_memory.py)."""
    with conn.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        with cursor.copy("COPY inbound_raw (inbound_id, raw) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!iihiii", 0, 0, 2, 4, inbound_id, len(raw)))
            copy.write(raw)  # psycopg writes a big buffer to libpq in slices
            copy.write(struct.pack("!h", -1))


# psycopg's binary format: as text, bytea comes as hex, twice the mail, before it is decoded
_PG_RAW = ("SELECT inbound_id, CASE WHEN octet_length(raw) <= %s THEN raw END, octet_length(raw) FROM inbound_raw "
           "WHERE inbound_id = ANY(%s)")
_PG_SLICE = "SELECT substring(raw FROM %s FOR %s) FROM inbound_raw WHERE inbound_id = %s"
PG_SLICE = 1024 * 1024  # bytes of a big mail read at a time on PostgreSQL (an uncompressed bytea out of line, as
# attachments are, is read by slice without the rest; a compressed one is decompressed up to the slice's end)


_RAW = sa.select(inbound_raw.c.inbound_id, blobs.small(inbound_raw.c.raw)).where(
    inbound_raw.c.inbound_id.in_(sa.bindparam("b_ids", expanding=True)))


def holders(conn: Connection) -> list[str]:
    """The workers holding stored mail now."""
    return [h for h in conn.execute(sa.select(_c.claimed_by).distinct().where(
        _c.status == "received", _c.claimed_by.is_not(None))).scalars()]


def release(conn: Connection, holder: str) -> int:
    """Give back the unfinished claims of `holder` (a worker that died). Returns how many."""
    return conn.execute(sa.update(inbound_mail).where(_c.status == "received", _c.claimed_by == holder)
                        .values(claimed_by=None, lease_until=None)).rowcount


def claim_for_replay(conn: Connection, inbound_id: int, statuses: tuple[str, ...], me: str,
                     until: datetime) -> InboundRow | None:
    """Claim one shunted (or stuck received) mail by id, for `mailgate replay`; a quarantined one for
    `mailgate release`. It goes back to `received`, claimed by `me`."""
    stmt = (
        sa.update(inbound_mail)
        .where(_c.id == inbound_id, _c.status.in_(statuses))
        .values(status="received", claimed_by=me, lease_until=until, attempts=_c.attempts + 1)
        .returning(*_COLUMNS)
    )
    row = conn.execute(stmt).mappings().first()
    return _with_raw(conn, [row], {})[0] if row else None


def mine(conn: Connection, ids: list[int], me: str) -> set[int]:
    """Of these mails, those still `me`'s claim (a lease that ran out may have let another worker take one),
    locked on PostgreSQL until the transaction ends (on SQLite it holds the write lock already): no other
    worker can take them before `finish` records their end."""
    stmt = _STILL_MINE.with_for_update() if conn.dialect.name == "postgresql" else _STILL_MINE
    return set(conn.execute(stmt, dict(b_ids=ids, b_me=me)).scalars())


_STILL_MINE = sa.select(_c.id).where(_c.id.in_(sa.bindparam("b_ids", expanding=True)),
                                     _c.claimed_by == sa.bindparam("b_me"))


def finish(later: Later, inbound_id: int, *, status: str, ticket_id: int | None, now: datetime, me: str,
           error: str | None = None) -> None:
    """Record the end of processing (processed, ignored, quarantined) with the batch's other rows (`later`),
    for a mail `mine` found still `me`'s in this transaction."""
    later.add(_FINISH, [dict(b_id=inbound_id, b_me=me, b_status=status, b_ticket=ticket_id, b_now=now,
                             b_error=error)])


def shunt(conn: Connection, inbound_id: int, error: str, now: datetime) -> None:
    """Mark a mail whose processing raised; its attempt count is kept for the record."""
    conn.execute(
        sa.update(inbound_mail)
        .where(_c.id == inbound_id)
        .values(status="shunted", error=error[-20000:], processed_at=now, claimed_by=None, lease_until=None)
    )


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        sa.select(inbound_mail.c.status, sa.func.count()).group_by(inbound_mail.c.status)
    )
    return {status: n for status, n in rows}


def oldest_waiting(conn: Connection) -> datetime | None:
    """When the oldest mail still waiting for the worker (`received`) arrived; None when none waits."""
    first = sa.select(sa.func.min(inbound_mail.c.id)).where(inbound_mail.c.status == "received").scalar_subquery()
    return conn.execute(sa.select(inbound_mail.c.received_at).where(inbound_mail.c.id == first)).scalar()


def listing(conn: Connection, status: str, limit: int) -> list[dict[str, Any]]:
    """Stored mails in one status, oldest first, with what `replay` / `release` need and why they are there."""
    c = inbound_mail.c
    rows = conn.execute(sa.select(c.id, c.received_at, c.source, c.envelope_from, c.message_id, c.size,
                                  c.ticket_id, c.error).where(c.status == status).order_by(c.id).limit(limit))
    return [{"id": r.id, "received_at": r.received_at.isoformat(timespec="seconds"), "source": r.source,
             "envelope_from": r.envelope_from, "message_id": r.message_id, "size": r.size, "ticket": r.ticket_id,
             "reason": (r.error or "").strip().splitlines()[-1][:300] if r.error else None} for r in rows]
