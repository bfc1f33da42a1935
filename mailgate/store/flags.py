"""Store: addresses flagged after a permanent bounce (no automatic mail to them until a date), and the counts
of recent automatic mail that the core's limits compare (docs/hygiene.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.desk import Flag
from mailgate.store.columns import SHORT_TEXT, fit
from mailgate.store.tables import address_flag, outbox


def flag(conn: Connection, emails: tuple[str, ...], reason: str, now: datetime, days: float) -> None:
    """No automatic mail to these addresses until `now + days` (a later bounce extends it)."""
    wanted = sorted({e.lower() for e in emails if e})
    if not wanted or days <= 0:
        return
    conn.execute(sa.delete(address_flag).where(address_flag.c.email.in_(wanted)))
    conn.execute(sa.insert(address_flag), [
        dict(email=fit(address_flag.c.email, e), reason=reason[:SHORT_TEXT], flagged_at=now,
             until=now + timedelta(days=days)) for e in wanted])


# The per-mail statements are built once (building and cache-keying them per mail cost more than running them).
_f, _o = address_flag.c, outbox.c
_FLAGGED = sa.select(_f.email, _f.until, _f.reason).where(
    _f.email.in_(sa.bindparam("b_emails", expanding=True)), _f.until > sa.bindparam("b_now"))
_AUTOMATIC = sa.and_(_o.automatic.is_(True), _o.created_at > sa.bindparam("b_since"))
_IS_ACK = (_o.kind == "ack").label("is_ack")
_RECENT_TO = (sa.select(_o.recipient, _IS_ACK, sa.func.count()).where(_AUTOMATIC, _o.recipient.in_(
    sa.bindparam("b_emails", expanding=True))).group_by(_o.recipient, _IS_ACK))
_RECENT_ON = (sa.select(_o.ticket_id, _o.recipient, sa.func.count()).where(
    _AUTOMATIC, _o.ticket_id.in_(sa.bindparam("b_ids", expanding=True))).group_by(_o.ticket_id, _o.recipient))


def flagged(conn: Connection, emails: set[str], now: datetime) -> dict[str, Flag]:
    """The addresses among these that are flagged now, with until when and why."""
    if not emails:
        return {}
    rows = conn.execute(_FLAGGED, dict(b_emails=sorted(emails), b_now=now))
    return {r.email: Flag(until=r.until, reason=r.reason) for r in rows}


def recent_to(conn: Connection, emails: set[str], since: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Automatic mails queued to each of these addresses since `since`: acknowledgements apart (they have
    their own cap), and the others (one statement for both)."""
    if not emails:
        return {}, {}
    acks: dict[str, int] = {}
    others: dict[str, int] = {}
    for recipient, is_ack, n in conn.execute(_RECENT_TO, dict(b_emails=sorted(emails), b_since=since)):
        (acks if is_ack else others)[recipient] = int(n)
    return others, acks


def recent_on(conn: Connection, ticket_ids: set[int], since: datetime,
              agents: frozenset[str]) -> tuple[dict[int, int], dict[tuple[int, str], int]]:
    """Automatic mails queued on each of these tickets since `since`: to anyone but the consultants, and to
    each consultant (one statement for both)."""
    if not ticket_ids:
        return {}, {}
    to_others: dict[int, int] = {}
    to_consultants: dict[tuple[int, str], int] = {}
    for ticket_id, recipient, n in conn.execute(_RECENT_ON, dict(b_ids=sorted(ticket_ids), b_since=since)):
        if recipient in agents:
            to_consultants[(int(ticket_id), recipient)] = int(n)
        else:
            to_others[int(ticket_id)] = to_others.get(int(ticket_id), 0) + int(n)
    return to_others, to_consultants
