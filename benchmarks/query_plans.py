"""The query plans of the statements the per-mail path and the sender run, on a database that has served for
years (benchmarks/big_database.py): each must find its rows through an index, never scan a big table.

Usage: .venv/bin/python benchmarks/query_plans.py --sqlite var/big.sqlite3 | --postgresql mailgate_big
Prints each statement's plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL) and SCAN where a table is
read whole; exits 1 when a per-mail statement scans one of the big tables.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from mailgate.store import flags, inbound, outbox, tickets  # noqa: E402
from mailgate.store.db import make_engine  # noqa: E402
from mailgate.store.tables import outbox as outbox_table  # noqa: E402
from mailgate.store.tables import ticket  # noqa: E402

NOW = datetime(2026, 12, 2, tzinfo=UTC)
BIG = ("inbound_mail", "ticket", "outbox", "message", "event", "participant")


def statements() -> list[tuple[str, Any, dict[str, Any]]]:
    """(what, statement, parameters): every statement a mail costs, and the sender's."""
    emails = ["person17@customer17.example", "cc17@customer17.example"]
    return [
        ("worker: the sizes a batch may take", inbound._SIZES, dict(b_me="w", b_now=NOW, b_limit=50)),
        ("worker: claim a batch", inbound._CLAIM, dict(b_me="w", b_now=NOW, b_until=NOW, b_limit=50)),
        ("worker: the claimed mails' bytes", inbound._RAW, dict(b_ids=[17, 18])),
        ("worker: its claims, still its own", inbound._STILL_MINE, dict(b_ids=[17, 18], b_me="w")),
        ("load: flagged addresses", flags._FLAGGED, dict(b_emails=emails, b_now=NOW)),
        ("load: automatic mail to each address, last hour", flags._RECENT_TO, dict(b_emails=emails, b_since=NOW)),
        ("load: automatic mail on each ticket, last hour", flags._RECENT_ON,
         dict(b_ids=[17, 18], b_since=NOW, b_agents=["alice@example.test"])),
        ("load: the tickets named (locked)", tickets._VIEWS, dict(b_ids=[17, 18])),
        ("load: their people", tickets._PEOPLE, dict(b_ids=[17, 18])),
        ("load: their estimates", tickets._ESTIMATES, dict(b_ids=[17, 18])),
        ("load: our mails it answers", outbox._SENT_MAILS, dict(b_ids=["mg.17.old.aaaaaaaaaaaaaaaa@example.test"])),
        ("load: the open ticket of an alert key", sa.select(ticket.c.id).where(
            ticket.c.dedupe_key == "disk-full", ticket.c.status != "closed", ticket.c.merged_into.is_(None))
         .order_by(ticket.c.id.desc()).limit(1), {}),
        ("write: the mail's end", inbound._FINISH, dict(b_id=17, b_me="w", b_status="processed", b_ticket=17,
                                                       b_now=NOW, b_error=None)),
        ("write: first answer", tickets._ANSWERED, dict(b_id=17, b_now=NOW)),
        ("sender: lease due mail", outbox._LEASE, dict(b_now=NOW, b_limit=50, b_until=NOW, b_me="s")),
        ("sender: next due time", sa.select(sa.func.min(outbox_table.c.next_attempt_at)).where(
            outbox_table.c.status == "queued"), {}),
        ("sender: record a result", outbox._SENT, dict(b_id=17, b_now=NOW)),
    ]


def plan(conn: sa.Connection, statement: Any, params: dict[str, Any]) -> list[str]:
    compiled = statement.compile(dialect=conn.dialect)
    state = compiled.construct_expanded_state(params)  # IN lists expanded, values as given
    processors = compiled._bind_processors
    values = {k: (processors[k](v) if k in processors and v is not None else v) for k, v in state.parameters.items()}
    if conn.dialect.name == "sqlite":
        positional = tuple(values[k] for k in state.positiontup or ())
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + state.statement, positional).all()
        return [str(r[-1]) for r in rows]
    rows = conn.exec_driver_sql("EXPLAIN " + state.statement, values).all()
    return [str(r[0]) for r in rows]


def scans(lines: list[str], sqlite: bool) -> list[str]:
    found = []
    for line in lines:
        for table in BIG:
            if sqlite and line.startswith("SCAN ") and f" {table}" in f" {line.split(' ')[1]}":
                found.append(table)
            if not sqlite and "Seq Scan on " + table in line:
                found.append(table)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", type=Path)
    where.add_argument("--postgresql")
    args = ap.parse_args()
    url = f"sqlite:///{args.sqlite}" if args.sqlite else f"postgresql://postgres@127.0.0.1:5432/{args.postgresql}"
    engine = make_engine(url)
    bad = []
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(ticket)).scalar_one()
        print(f"{url}: {count} tickets\n")
        for what, statement, params in statements():
            lines = plan(conn, statement, params)
            scanned = scans(lines, engine.dialect.name == "sqlite")
            print(f"{what}{'   <-- SCAN of ' + ', '.join(scanned) if scanned else ''}")
            for line in lines:
                print(f"    {line}")
            if scanned:
                bad.append(what)
        conn.rollback()
    engine.dispose()
    print(f"\n{len(bad)} statement(s) scanning a big table" + (f": {', '.join(bad)}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
