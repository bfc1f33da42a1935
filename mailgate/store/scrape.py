"""Store: the aggregates only a /metrics scrape reads (web/figures.py): the processing latency of the stored
mails by bucket, and the service-target breaches told, each one statement on an index of its own."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.store.tables import BREACHED, event, inbound_mail

# Upper bounds (seconds) of the latency buckets, received -> processed; +Inf is implied.
BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
DONE = ("processed", "ignored")  # the statuses a mail keeps for good once the worker is done with it


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """A Prometheus histogram: `cumulative[i]` mails took at most BUCKETS[i] seconds (the last: every mail)."""

    cumulative: tuple[int, ...]
    count: int
    seconds: float  # the sum


def _seconds(dialect: str) -> sa.ColumnElement[float]:
    c = inbound_mail.c
    if dialect == "sqlite":  # stored as text: julianday() reads it, in days
        return (sa.func.julianday(c.processed_at) - sa.func.julianday(c.received_at)) * 86400.0
    return sa.cast(sa.extract("epoch", c.processed_at - c.received_at), sa.Float)


def latency(conn: Connection) -> Latency:
    """Received -> processed, for every mail in a DONE status: one pass over the index (status, processed_at,
    received_at), no table row read. Those rows never change again, so each bucket only grows (a replayed or
    released mail counts once it is done, from when it was first received)."""
    seconds = _seconds(conn.dialect.name)
    bucket = sa.case(*((seconds <= bound, n) for n, bound in enumerate(BUCKETS)), else_=len(BUCKETS))
    rows = conn.execute(sa.select(bucket.label("b"), sa.func.count(), sa.func.sum(seconds))
                        .where(inbound_mail.c.status.in_(DONE)).group_by(sa.literal_column("b")))
    per = [0] * (len(BUCKETS) + 1)
    total = 0.0
    for b, n, s in rows:
        per[int(b)] += n
        total += float(s or 0.0)
    cumulative, running = [], 0
    for n in per:
        running += n
        cumulative.append(running)
    return Latency(cumulative=tuple(cumulative), count=running, seconds=max(0.0, total))


def breaches(conn: Connection) -> dict[str, int]:
    """Service-target breaches told to the supervisors (sweeper.py's `sla_breached` events), by target name."""
    target = event.c.data["target"].as_string()
    rows = conn.execute(sa.select(target, sa.func.count()).where(BREACHED).group_by(target))
    return {str(name): n for name, n in rows}
