"""Store: the knowledge base's search index (docs/kb.md). Documents in, hits out: bm25 over FTS5 on SQLite,
ts_rank over a GIN-indexed tsvector on PostgreSQL, both over the same terms (core/kb/text.py), so the two
databases find the same documents. A ticket is indexed in the transaction that answers or closes it
(write.py), an article in the one that writes it; `mailgate kb reindex` rebuilds the lot."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, RowMapping

from mailgate.core.kb import best, document, text
from mailgate.core.kb.document import Written
from mailgate.core.kb.model import SEARCHABLE, DocKind, Document, Hit, Policy
from mailgate.core.kb.text import Query
from mailgate.core.model import RequestType, Status
from mailgate.store import kb_terms
from mailgate.store.kb_tables import kb_doc
from mailgate.store.tables import message, ticket

PREFILL_EVIDENCE = 3  # the nearest tickets a type and level are suggested from
CANDIDATES = 1  # rows read beyond the hits wanted: the excluded ticket (kind and published are filtered in SQL)
_SHOWN = (kb_doc.c.kind, kb_doc.c.ref, kb_doc.c.title, kb_doc.c.summary, kb_doc.c.type, kb_doc.c.level,
          kb_doc.c.published, kb_doc.c.title_terms, kb_doc.c.body_terms)  # what a hit is made of


def put(conn: Connection, doc: Document, now: datetime) -> None:
    """Index `doc`, replacing what was indexed under its kind and number."""
    values = dict(kind=doc.kind.value, ref=doc.ref, title=doc.title[:500], summary=doc.summary,
                  title_terms=doc.title_terms, body_terms=doc.body_terms,
                  type=doc.type.value if doc.type else None, level=doc.level, published=doc.published,
                  indexed_at=now)
    where = (kb_doc.c.kind == doc.kind.value, kb_doc.c.ref == doc.ref)
    old = conn.execute(sa.select(kb_doc.c.id, kb_doc.c.title_terms, kb_doc.c.body_terms).where(*where)).one_or_none()
    if old is None:
        doc_id = conn.execute(kb_doc.insert().values(values).returning(kb_doc.c.id)).scalar_one()
        removed = {}
    else:
        doc_id = old.id
        conn.execute(kb_doc.update().where(*where).values(values))
        removed = {doc_id: kb_terms.of(old.title_terms, old.body_terms)}
    kb_terms.change(conn, {doc_id: best.weights(doc.title_terms, doc.body_terms)}, removed)


def drop(conn: Connection, kind: DocKind, ref: int) -> None:
    _delete(conn, kb_doc.c.kind == kind.value, kb_doc.c.ref == ref)


def drop_all(conn: Connection, kind: DocKind) -> None:
    _delete(conn, kb_doc.c.kind == kind.value)


def _delete(conn: Connection, *where: sa.ColumnElement[bool]) -> None:
    """Documents out of the index, and out of the terms' counts and lists."""
    removed = {row.id: kb_terms.of(row.title_terms, row.body_terms) for row in
               conn.execute(sa.select(kb_doc.c.id, kb_doc.c.title_terms, kb_doc.c.body_terms).where(*where))}
    if removed:
        conn.execute(kb_doc.delete().where(*where))
        kb_terms.change(conn, {}, removed)


def index_ticket(conn: Connection, ticket_id: int, agents: Iterable[str], now: datetime) -> bool:
    """Index the ticket if it is answered or closed (and not merged away); False when it is not searchable."""
    row = conn.execute(sa.select(ticket.c.id, ticket.c.title, ticket.c.type, ticket.c.level, ticket.c.status,
                                 ticket.c.merged_into).where(ticket.c.id == ticket_id)).one_or_none()
    if row is None or row.merged_into is not None or Status(row.status) not in SEARCHABLE:
        drop(conn, DocKind.TICKET, ticket_id)
        return False
    put(conn, document.of_ticket(row.id, row.title, RequestType(row.type), row.level,
                                 written(conn, ticket_id, frozenset(agents))), now)
    return True


def written(conn: Connection, ticket_id: int, agents: frozenset[str]) -> list[Written]:
    """The ticket's inbound messages, oldest first: what the customer and the consultants wrote."""
    rows = conn.execute(sa.select(message.c.from_addr, message.c.text, message.c.body)
                        .where(message.c.ticket_id == ticket_id, message.c.direction == "in")
                        .order_by(message.c.id))
    return [Written(by_consultant=r.from_addr.lower() in agents, text=r.text if r.text is not None else r.body)
            for r in rows]


def search(conn: Connection, words: str | Query, *, limit: int = 3, kind: DocKind | None = None,
           published_only: bool = False, exclude_ticket: int | None = None,
           known: kb_terms.Counts | None = None) -> list[Hit]:
    """The documents most like `words`, best first, each with its score (core/kb/text.coverage); `known`: the
    terms' counts, when read already (a batch's at once).

    Fast on a large index: only the request's rarer words are asked for (kb_terms.rare: a common word's
    postings cost the index the most); the documents holding two of them come first (ranked by bm25 or
    ts_rank), then, in a small index only, those holding any of them."""
    q = text.query(words) if isinstance(words, str) else words
    if not q or limit <= 0:
        return []
    known = known if known is not None else kb_terms.counts(conn, q.terms)
    asked = kb_terms.rare(q, known)
    if not asked:
        return []
    Word = tuple[str, ...]
    steps: list[list[tuple[Word, ...]]] = []
    large = known.total >= kb_terms.PRUNE_FROM  # then a document sharing one word with the request is no evidence
    if len(asked) >= (2 if large else 3):
        steps.append([(a, b) for i, a in enumerate(asked) for b in asked[i + 1:]])
    if not large or len(asked) == 1:
        steps.append([(w,) for w in asked])
    hits: dict[tuple[DocKind, int], Hit] = {}
    for groups in steps:
        for r in conn.execute(_ranked(conn, groups, kind, published_only).limit(limit + CANDIDATES)).mappings():
            key = (DocKind(r["kind"]), r["ref"])
            if key in hits or (key[0] is DocKind.TICKET and r["ref"] == exclude_ticket):
                continue
            hits[key] = _hit(r, q)
            if len(hits) == limit:
                return list(hits.values())
    return list(hits.values())


def similar(conn: Connection, words: str | Query, *, limit: int = 3, exclude_ticket: int | None = None) -> list[Hit]:
    """The documents most like a new request, best first: ranked over its terms' lists of best documents
    (core/kb/best.rank), then one read of the documents found. What the per-mail path lists (look_up, for a
    batch at once): no full-text query runs."""
    q = text.query(words) if isinstance(words, str) else words
    if not q or limit <= 0:
        return []
    return _nearest(conn, [q], kb_terms.counts(conn, q.terms, lists=True), limit, exclude_ticket)[0]


def _nearest(conn: Connection, queries: list[Query], known: kb_terms.Counts, limit: int,
             exclude_ticket: int | None = None) -> list[list[Hit]]:
    """`similar` for several requests, their documents read in one statement."""
    ranked = [best.rank(q, known.docs, known.lists, known.total, limit=limit + CANDIDATES) for q in queries]
    ids = sorted({s.doc for found in ranked for s in found})
    rows = {r["id"]: r for r in conn.execute(sa.select(kb_doc.c.id, *_SHOWN).where(kb_doc.c.id.in_(ids))).mappings()
            } if ids else {}
    hits: list[list[Hit]] = []
    for q, found in zip(queries, ranked, strict=True):
        shown = (r for s in found if (r := rows.get(s.doc)) is not None
                 and not (r["kind"] == DocKind.TICKET.value and r["ref"] == exclude_ticket))
        hits.append([_hit(r, q) for r in itertools.islice(shown, limit)])  # scored only when shown
    return hits


def _hit(r: RowMapping, q: Query) -> Hit:
    """A document's row (a mapping: r["title"] costs a tenth of a Row's r.title) as a hit for `q`."""
    return Hit(kind=DocKind(r["kind"]), ref=r["ref"], title=r["title"], summary=r["summary"],
               score=text.coverage(q, f"{r['title_terms']} {r['body_terms']}"),
               type=RequestType(r["type"]) if r["type"] else None, level=r["level"], published=r["published"])



def _ranked(conn: Connection, groups: list[tuple[tuple[str, ...], ...]], kind: DocKind | None,
            published_only: bool) -> sa.Select[Any]:
    """The documents holding every word of one of `groups` (a word: any of its stems), best ranked first."""
    if conn.dialect.name == "sqlite":
        fts = sa.table("kb_fts", sa.column("rowid"))
        match = " OR ".join("(" + " AND ".join("(" + " OR ".join(f'"{t}"' for t in w) + ")" for w in g) + ")"
                            for g in groups)
        stmt = (sa.select(*_SHOWN).select_from(fts.join(kb_doc, kb_doc.c.id == fts.c.rowid))
                .where(sa.text("kb_fts MATCH :match").bindparams(match=match))
                .order_by(sa.text("bm25(kb_fts, 2.0, 1.0)")))
    else:
        words = " | ".join("(" + " & ".join("(" + " | ".join(w) + ")" for w in g) + ")" for g in groups)
        tsquery = sa.func.to_tsquery(sa.literal_column("'simple'"), words)
        tsv: sa.ColumnElement[object] = sa.literal_column("kb_doc.kb_fts_tsv")
        stmt = sa.select(*_SHOWN).where(tsv.op("@@")(tsquery)).order_by(sa.func.ts_rank(tsv, tsquery).desc())
    if kind is not None:
        stmt = stmt.where(kb_doc.c.kind == kind.value)
    if published_only:
        stmt = stmt.where(kb_doc.c.published.is_(True))
    return stmt


def reindex_tickets(conn: Connection, agents: Iterable[str], now: datetime) -> int:
    """Every answered or closed ticket indexed again (and no other); returns how many are indexed."""
    people = frozenset(agents)
    drop_all(conn, DocKind.TICKET)
    ids = conn.execute(sa.select(ticket.c.id).where(ticket.c.status.in_([s.value for s in SEARCHABLE]),
                                                    ticket.c.merged_into.is_(None)).order_by(ticket.c.id))
    return sum(index_ticket(conn, i, people, now) for (i,) in ids.all())


def counts(conn: Connection) -> dict[str, int]:
    """Documents indexed, by kind."""
    rows = conn.execute(sa.select(kb_doc.c.kind, sa.func.count()).group_by(kb_doc.c.kind))
    return {kind: n for kind, n in rows}


SEARCH_BY_MAIL = 10  # hits a consultant's `chercher` gets back


def look_up(conn: Connection, asked: list[tuple[str, bool]], policy: Policy) -> list[tuple[tuple[Hit, ...],
                                                                                        tuple[Hit, ...]]]:
    """The hits of a batch of mails, before its transaction (worker.py): for each (words, by a consultant),
    the documents for the consultants and the published articles for the customer."""
    queries = [text.query(words) for words, _ in asked]
    known = kb_terms.counts(conn, (t for q in queries for t in q.terms), lists=True)  # one query for the batch
    found: list[tuple[tuple[Hit, ...], tuple[Hit, ...]]] = []
    if not known.total:  # an empty index: nothing more to ask
        return [((), ())] * len(asked)
    customers = [q for q, (_, by_consultant) in zip(queries, asked, strict=True) if not by_consultant]
    near = iter(_nearest(conn, customers, known, max(policy.similar, PREFILL_EVIDENCE)))
    for q, (_, by_consultant) in zip(queries, asked, strict=True):
        if by_consultant:
            found.append((tuple(search(conn, q, limit=SEARCH_BY_MAIL, known=known)), ()))
        else:
            articles = search(conn, q, limit=policy.self_service_articles, kind=DocKind.ARTICLE,
                              published_only=True, known=known) if policy.self_service else []
            found.append((tuple(next(near)), tuple(articles)))
    return found
