"""Build a database that has served for years: N tickets (default 1,000,000), each with its requester as a
participant, two messages, three events and one acknowledgement in the outbox, and as many stored inbound
mails; then the timed benchmarks run on a copy of it (P4: no slower than on an empty database).

Usage (from the repository root):
  .venv/bin/python benchmarks/big_database.py --tickets 1000000 --sqlite var/big.sqlite3
  .venv/bin/python benchmarks/big_database.py --tickets 1000000 --postgresql mailgate_big
then  benchmarks/smtp_throughput.py --from-sqlite var/big.sqlite3 | --from-postgresql mailgate_big
(about 1 minute per million tickets on SQLite here, 3 on PostgreSQL; 1.4 GB and 2.3 GB).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from mailgate.store import migrate  # noqa: E402
from mailgate.store.db import make_engine  # noqa: E402
from mailgate.store.tables import event, inbound_mail, inbound_raw, message, outbox, participant, ticket  # noqa: E402

PG_BASE = "postgresql://postgres@127.0.0.1:5432/"
CHUNK = 20_000
STATUSES = ("closed",) * 17 + ("answer_sent", "in_progress", "open")  # most tickets of years past are closed


def rows(start: int, stop: int, t0: datetime) -> dict[sa.Table, list[dict[str, object]]]:
    """The rows of tickets start..stop-1 (ids from 1), a minute apart, ending before `t0`."""
    out: dict[sa.Table, list[dict[str, object]]] = {t: [] for t in (inbound_mail, inbound_raw, ticket, participant,
                                                                     outbox, message, event)}
    raw = b"From: old@client.example\r\nSubject: old\r\n\r\nold mail\r\n"
    for i in range(start, stop):
        at = t0 - timedelta(minutes=(stop - i))
        who = f"person{i % 50_000}@customer{i % 700}.example"
        status = STATUSES[i % len(STATUSES)]
        # what a desk that runs looks like: the tickets still open were told of long ago, the answered ones
        # wait for the customer since less than auto_close_days: the sweeper has nothing to do at once
        since = t0 - timedelta(hours=2) if status == "answer_sent" else at
        out[inbound_mail].append(dict(id=i, received_at=at, source="smtp", source_ref="old", envelope_from=who,
                                      envelope_to=["support@example.test"], message_id=f"old-{i}@client.example",
                                      dedupe_key=f"{i:064x}", size=len(raw), status="processed",
                                      attempts=1, processed_at=at, ticket_id=i))
        out[inbound_raw].append(dict(inbound_id=i, raw=raw))
        out[ticket].append(dict(id=i, status=status, type="assistance", level=1 + i % 3, priority="normal",
                                title=f"Ancienne demande {i}", requester=who, requester_name="", locale="fr",
                                created_at=at, updated_at=at, status_changed_at=since,
                                root_mid=f"old-{i}@client.example",
                                last_customer_mid=f"old-{i}@client.example", tags=[], alert_count=0,
                                response_due=at + timedelta(hours=8), first_response_at=at + timedelta(hours=1),
                                resolution_due=at + timedelta(days=3),
                                resolved_at=at + timedelta(days=1) if status in ("closed", "answer_sent") else None,
                                resolution_breached_at=at + timedelta(days=3) if status in ("open", "in_progress")
                                else None))
        out[participant].append(dict(ticket_id=i, email=f"cc{i % 9_000}@customer{i % 700}.example", name="",
                                     role="cc"))
        for direction in ("in", "out"):
            out[message].append(dict(ticket_id=i, direction=direction, inbound_id=i if direction == "in" else None,
                                     outbox_id=i if direction == "out" else None, from_addr=who, to_addrs=[],
                                     cc_addrs=[], subject="old", message_id=f"{direction}-{i}@old.example",
                                     body="old", text="old", created_at=at))
        for kind in ("created", "mail_queued", "status"):
            out[event].append(dict(ticket_id=i, at=at, kind=kind, data={"old": True}, inbound_id=i))
        out[outbox].append(dict(id=i, ticket_id=i, kind="ack", message_id=f"mg.{i}.old.aaaaaaaaaaaaaaaa@example.test",
                                envelope_from="support@example.test", envelope_to=[who], raw=b"old", status="sent",
                                attempts=1, created_at=at, next_attempt_at=at, deadline=at, sent_at=at,
                                automatic=True, recipient=who))
    return out


def build(url: str, n: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    t0 = datetime.now(UTC) - timedelta(days=1)
    started = time.monotonic()
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.connection.dbapi_connection.execute("PRAGMA synchronous=OFF")  # type: ignore[union-attr]
        for start in range(1, n + 1, CHUNK):
            with conn.begin():
                for table, batch in rows(start, min(start + CHUNK, n + 1), t0).items():
                    conn.execute(sa.insert(table), batch)
            done = min(start + CHUNK - 1, n)
            print(f"\r{done} tickets, {time.monotonic() - started:.0f}s", end="", flush=True)
        if engine.dialect.name == "postgresql":
            for table in ("inbound_mail", "ticket", "outbox"):  # the sequences go on after the ids given here
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {n})")
            conn.commit()
            conn.exec_driver_sql("ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
        conn.commit()
    engine.dispose()
    print(f"\n{n} tickets in {time.monotonic() - started:.0f}s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=1_000_000)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", type=Path, help="a new SQLite file")
    where.add_argument("--postgresql", help="the name of a new database on the local server")
    args = ap.parse_args()
    if args.sqlite:
        if args.sqlite.exists():
            ap.error(f"{args.sqlite} exists")
        args.sqlite.parent.mkdir(parents=True, exist_ok=True)
        build(f"sqlite:///{args.sqlite}", args.tickets)
    else:
        import psycopg

        with psycopg.connect(PG_BASE + "test", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{args.postgresql}"')
        build(PG_BASE + args.postgresql, args.tickets)
    print(json.dumps({"tickets": args.tickets}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
