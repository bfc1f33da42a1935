"""Knowledge base, measured (issue 14): retrieval quality on the evaluation set (benchmarks/kb_eval/: resolved
tickets over problem topics, and new requests paraphrased, whose topic is known) and search latency over a
large index, on SQLite and on PostgreSQL, through mailgate's own indexing and search (store/kb.py).

    .venv/bin/python benchmarks/kb_quality.py [--databases sqlite,postgresql] [--docs 100000] [--searches 500]

Quality: each request is searched among the resolved tickets; a hit is right when its ticket's topic is the
request's. Printed: top-1, top-3 (the right topic among the first three) and MRR@3. Latency: the same requests
against the evaluation tickets plus --docs synthetic resolved tickets (each an evaluation ticket's words
shuffled with words of other tickets, so the vocabulary and its frequencies stay realistic), p50/p90/p99 of
one call (three hits, tickets and articles), its reads included. Each figure is printed for both ways of
searching: `similar` (a new mail's, over each term's list of best documents: the per-mail path) and `search`
(the full-text index: chercher, the command line, the dashboard)."""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate.config.settings import from_dict  # noqa: E402
from mailgate.core.kb import document  # noqa: E402
from mailgate.core.kb.document import Written  # noqa: E402
from mailgate.core.kb.model import DocKind, Document  # noqa: E402
from mailgate.core.model import RequestType  # noqa: E402
from mailgate.store import kb, kb_terms  # noqa: E402
from mailgate.store.db import Database  # noqa: E402
from mailgate.store.kb_tables import kb_doc  # noqa: E402
from mailgate.store.schema import open_database  # noqa: E402

EVAL = Path(__file__).resolve().parent / "kb_eval"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
NOW = datetime(2026, 12, 3, tzinfo=UTC)
TYPES = {"assistance": RequestType.ASSISTANCE, "incident": RequestType.INCIDENT, "evolution": RequestType.EVOLUTION}


def load() -> tuple[list[tuple[str, Document]], list[tuple[str, str]]]:
    """(topic, document) of every evaluation ticket, and (topic, request) of every new request."""
    docs: list[tuple[str, Document]] = []
    requests: list[tuple[str, str]] = []
    for path in sorted(EVAL.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        topic = data["topic"]
        for t in data["tickets"]:
            messages = [Written(by_consultant=False, text=t["request"]),
                        Written(by_consultant=True, text=f"{t['answer']}\n{t['resolution']}")]
            docs.append((topic, document.of_ticket(len(docs) + 1, t["title"], TYPES[data["type"]], data["level"],
                                                   messages)))
        requests += [(topic, q["text"]) for q in data["queries"]]
    return docs, requests


def database(kind: str, folder: Path, keep: str | None = None) -> tuple[Database, Any]:
    if kind == "sqlite":
        url = f"sqlite:///{keep or folder / 'kb.sqlite3'}"
        return _open(url), None
    import sqlalchemy as sa

    name = f"mailgate_kb_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return _open(PG_ADMIN.rpartition("/")[0] + f"/{name}"), (admin, name)


def _open(url: str) -> Database:
    settings = from_dict({"gateway": {"addresses": ["support@example.test"], "from": "support@example.test",
                                      "secret": "bench-secret-0123456789abcdef"},
                          "database": {"url": url}}, "<bench>")
    if not url.startswith("sqlite"):  # a new PostgreSQL database is migrated by hand, as `mailgate db upgrade` does
        from mailgate.store import migrate
        from mailgate.store.db import make_engine

        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
    return open_database(settings)


def drop(handle: Any) -> None:
    if handle is None:
        return
    import sqlalchemy as sa

    admin, name = handle
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


HOW = {  # the two ways the knowledge base is searched
    "similar": lambda conn, words: kb.similar(conn, words, limit=3),  # a new mail's, on the per-mail path
    "search": lambda conn, words: kb.search(conn, words, limit=3, kind=DocKind.TICKET),  # chercher, CLI, web
}


def quality(db: Database, docs: list[tuple[str, Document]], requests: list[tuple[str, str]],
            more: dict[int, str] | None = None, how: str = "similar") -> dict[str, float]:
    """`more`: the topics of synthetic tickets that have one (replicas); any other synthetic hit is wrong."""
    topic_of = {d.ref: topic for topic, d in docs} | (more or {})
    top1 = top3 = 0
    reciprocal = 0.0
    with db.transaction() as conn:
        for topic, request in requests:
            hits = HOW[how](conn, request)
            ranks = [i for i, h in enumerate(hits, 1) if topic_of.get(h.ref) == topic]
            top1 += bool(ranks and ranks[0] == 1)
            top3 += bool(ranks)
            reciprocal += 1 / ranks[0] if ranks else 0
    n = len(requests)
    return {"top1": top1 / n, "top3": top3 / n, "mrr3": reciprocal / n}


def fill(db: Database, docs: list[tuple[str, Document]], count: int, mix: str, seed: int = 7) -> dict[int, str]:
    """`count` synthetic resolved tickets. `topics` (the default): tickets of 2,000 other problems, each with
    a vocabulary of its own (pseudo-words), a quarter of each ticket's words drawn from the evaluation set's
    (the helpdesk words every ticket shares); `replicas`: every ticket an evaluation ticket's words shuffled
    with others of the set, as if 100,000 tickets were about 24 problems only (the worst case for a search)."""
    rng = random.Random(seed)
    pool = [t for _, d in docs for t in d.body_terms.split()]
    vocabulary = [f"zq{n:x}" for n in range(30_000)]
    topics = [rng.sample(vocabulary, 30) for _ in range(2_000)]
    rows: list[dict[str, Any]] = []
    counted: Counter[str] = Counter()  # the terms' document counts, as kb.put keeps them
    ref = len(docs) + 1
    topic_of: dict[int, str] = {}
    for n in range(count):
        base = docs[n % len(docs)][1]
        if mix == "replicas":
            topic_of[ref + n] = docs[n % len(docs)][0]
            title, body = base.title_terms, base.body_terms.split()
            body += rng.sample(pool, max(3, len(body) // 3))
        else:
            words = topics[rng.randrange(len(topics))]
            title = " ".join(rng.choices(words, k=4))
            body = rng.choices(words, k=45) + rng.sample(pool, 15)
        rng.shuffle(body)
        counted.update(kb_terms.document(kb_terms.of(title, " ".join(body)), +1))
        rows.append(dict(kind="ticket", ref=ref + n, title=base.title, summary=base.summary, title_terms=title,
                         body_terms=" ".join(body), type=base.type.value if base.type else None, level=base.level,
                         published=False, indexed_at=NOW))
        if len(rows) == 5000:
            with db.transaction() as conn:
                conn.execute(kb_doc.insert(), rows)
            rows = []
    with db.transaction() as conn:
        if rows:
            conn.execute(kb_doc.insert(), rows)
        kb_terms.add(conn, counted)
        kb_terms.rebuild(conn)
    return topic_of


def latency(db: Database, requests: list[tuple[str, str]], searches: int, how: str) -> list[float]:
    took: list[float] = []
    with db.engine.connect() as conn:
        for i in range(searches):
            request = requests[i % len(requests)][1]
            started = time.perf_counter()
            HOW[how](conn, request)
            took.append((time.perf_counter() - started) * 1000)
    return took


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--docs", type=int, default=100_000, help="synthetic resolved tickets for the latency")
    parser.add_argument("--searches", type=int, default=500)
    parser.add_argument("--keep-sqlite", default=None, metavar="FILE",
                        help="build the SQLite database in FILE and keep it (for smtp_throughput.py --from-sqlite)")
    parser.add_argument("--mix", choices=("topics", "replicas"), default="topics",
                        help="what the synthetic tickets are about (fill's docstring)")
    args = parser.parse_args()
    docs, requests = load()
    topics = len({t for t, _ in docs})
    print(f"evaluation set: {len(docs)} resolved tickets over {topics} topics, {len(requests)} new requests")
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory() as folder:
            db, handle = database(kind, Path(folder), args.keep_sqlite)
            try:
                with db.transaction() as conn:
                    for _, d in docs:
                        kb.put(conn, d, NOW)
                for how in HOW:
                    q = quality(db, docs, requests, how=how)
                    print(f"{kind:<10} {how:<8} quality: top-1 {q['top1']:.1%}  top-3 {q['top3']:.1%}  "
                          f"MRR@3 {q['mrr3']:.3f}")
                started = time.perf_counter()
                more = fill(db, docs, args.docs, args.mix)
                if kind == "postgresql":
                    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                        conn.exec_driver_sql("VACUUM ANALYZE kb_doc")
                took_s = time.perf_counter() - started
                print(f"{kind:<10} indexed {args.docs + len(docs)} tickets ({args.mix}) in {took_s:.1f} s")
                for how in HOW:
                    q = quality(db, docs, requests, more, how=how)
                    print(f"{kind:<10} {how:<8} quality among them: top-1 {q['top1']:.1%}  top-3 {q['top3']:.1%}  "
                          f"MRR@3 {q['mrr3']:.3f}")
                    latency(db, requests, 50, how)  # warm the caches
                    took = latency(db, requests, args.searches, how)
                    print(f"{kind:<10} {how:<8} over {args.docs + len(docs)} tickets: p50 {pct(took, 50):.2f} ms  "
                          f"p90 {pct(took, 90):.2f} ms  p99 {pct(took, 99):.2f} ms  max {max(took):.2f} ms "
                          f"({len(took)} searches)")
            finally:
                db.close()
                drop(handle)


if __name__ == "__main__":
    main()
