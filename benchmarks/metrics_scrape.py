"""The cost of one /metrics scrape on a database that has served for years (benchmarks/big_database.py): the
whole scrape (read in one transaction, rendered in Prometheus' text format) and each of its statements, with
their query plans.

Usage: .venv/bin/python benchmarks/metrics_scrape.py --sqlite var/big.sqlite3 | --postgresql mailgate_big
                                                     [--repeat 20] [--drop-index NAME]
--drop-index drops an index first (on the database given: use a copy) to see what it saves.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from prometheus_client import CollectorRegistry, generate_latest  # noqa: E402

from mailgate.store import imap_state, inbound, outbox, rules_state, scrape, tickets  # noqa: E402
from mailgate.store.db import Database, make_engine  # noqa: E402
from mailgate.web.figures import StoreCollector  # noqa: E402

PG_BASE = "postgresql://postgres@127.0.0.1:5432/"
STATEMENTS: dict[str, Callable[[sa.Connection], Any]] = {
    "inbound.counts": inbound.counts, "outbox.counts": outbox.counts, "tickets.counts": tickets.counts,
    "inbound.oldest_waiting": inbound.oldest_waiting, "outbox.oldest_queued": outbox.oldest_queued,
    "scrape.latency": scrape.latency, "scrape.breaches": scrape.breaches, "imap_state.states": imap_state.states,
    "rules_state.every": rules_state.every,
}


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and max milliseconds of `repeat` calls (after one to warm the caches)."""
    fn()
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def plans(engine: sa.Engine) -> None:
    """Each statement's plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL), with the values it bound."""
    captured: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        captured.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    with engine.connect() as conn:
        for name, fn in STATEMENTS.items():
            captured.clear()
            fn(conn)
            explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            for statement, parameters in list(captured):
                rows = conn.exec_driver_sql(explain + statement, parameters).all()
                print(f"  {name}: " + " | ".join(str(r[-1]).strip() for r in rows))
    sa.event.remove(engine, "before_cursor_execute", keep)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--sqlite", type=Path)
    where.add_argument("--postgresql")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--drop-index")
    args = ap.parse_args()
    url = f"sqlite:///{args.sqlite}" if args.sqlite else PG_BASE + args.postgresql
    engine = make_engine(url)
    if args.drop_index:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {args.drop_index}"))
            if engine.dialect.name == "postgresql":
                conn.execute(sa.text("ANALYZE inbound_mail"))
    db = Database(engine)
    with engine.connect() as conn:
        rows = {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("inbound_mail", "ticket", "event", "outbox")}
    print(f"database {url.split('@')[-1]}: " + ", ".join(f"{n:,} {t}" for t, n in rows.items()))
    registry = CollectorRegistry()
    registry.register(StoreCollector(db, mailboxes=("support",)))
    median, worst = timed(lambda: generate_latest(registry), args.repeat)
    print(f"whole scrape (one transaction, {len(STATEMENTS)} statements, rendered): median {median:.1f} ms, "
          f"max {worst:.1f} ms over {args.repeat}")
    for name, fn in STATEMENTS.items():
        median, worst = timed(lambda fn=fn: db.read_now(fn), args.repeat)  # type: ignore[misc]
        print(f"  {name:24} median {median:7.2f} ms  max {worst:7.2f} ms")
    print("plans:")
    plans(engine)
    db.close()


if __name__ == "__main__":
    main()
