"""Store: for each term of the knowledge base, how many documents hold it and the BEST documents where it
weighs most (core/kb/best.py), kept with every document indexed or dropped (store/kb.py). The counts let a
full-text search ask only for a request's rarer words (a word half the documents share costs the index most of
its work and tells bm25 or ts_rank almost nothing); the lists rank a new mail's similar documents with no
full-text query at all."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.core.kb import best
from mailgate.core.kb.text import Query
from mailgate.store.kb_tables import kb_doc, kb_term

ALL = ""  # the row counting the documents themselves
MAX_WORDS = 6  # a search asks for at most this many of the request's words, the rarest
MAX_SHARE = 0.05  # ... and leaves out the words more than this share of the documents hold,
PRUNE_FROM = 2_000  # once there are this many documents (a small index is cheap to search whole)
_CHUNK = 5_000  # terms a statement reads the lists of


def of(*texts: str) -> set[str]:
    """The distinct terms of a document's indexed texts."""
    return {t[:100] for text in texts for t in text.split()}


def add(conn: Connection, changes: Counter[str]) -> None:
    """Add each term's change to its document count (the documents' own count under ALL)."""
    keys = sorted(k for k, n in changes.items() if n)  # the same order always: no two transactions in a ring
    if not keys:
        return
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(kb_term)
    conn.execute(insert.on_conflict_do_update(index_elements=[kb_term.c.term],
                                              set_={"docs": kb_term.c.docs + insert.excluded.docs}),
                 [{"term": k, "docs": changes[k]} for k in keys])


def document(terms: Iterable[str], by: int) -> Counter[str]:
    """The change one document makes (+1 indexed, -1 dropped)."""
    return Counter({t: by for t in {*terms, ALL}})


def change(conn: Connection, added: Mapping[int, Mapping[str, int]], removed: Mapping[int, Iterable[str]]) -> None:
    """Documents (kb_doc.id) indexed with their terms' weights (core/kb/best.weights) and documents dropped
    with their terms: a changed document is in both. The counts first: on PostgreSQL that locks the terms' rows
    (in the one order, `add`), so that no other transaction rewrites a list between its read and its write."""
    counted: Counter[str] = Counter()
    out: dict[str, set[int]] = {}  # term -> the documents its list loses
    into: dict[str, list[tuple[int, int]]] = {}  # term -> the (weight, document) its list gains
    for doc, terms in removed.items():
        counted.update(document(set(terms), -1))
        for term in set(terms):
            out.setdefault(term, set()).add(doc)
    for doc, weights in added.items():
        counted.update(document(weights, +1))
        for term, weight in weights.items():
            out.setdefault(term, set()).add(doc)
            into.setdefault(term, []).append((weight, doc))
    add(conn, counted)
    touched = sorted(out)
    for start in range(0, len(touched), _CHUNK):
        chunk = touched[start:start + _CHUNK]
        lists = dict(conn.execute(sa.select(kb_term.c.term, kb_term.c.best).where(kb_term.c.term.in_(chunk))).all())
        rows = []
        for term in chunk:
            entries = [(w, d) for w, d in best.unpack(lists.get(term)) if d not in out[term]]
            rows.append({"t": term, "b": best.pack(entries + into.get(term, [])) or None})
        conn.execute(kb_term.update().where(kb_term.c.term == sa.bindparam("t")).values(best=sa.bindparam("b")), rows)


def rebuild(conn: Connection) -> int:
    """Every term's list made again from the documents themselves (after a bulk load, or to fill the room a
    dropped document left: core/kb/best.merged); returns how many terms list documents."""
    heaps: dict[str, list[tuple[int, int]]] = {}
    for doc, title_terms, body_terms in conn.execute(sa.select(kb_doc.c.id, kb_doc.c.title_terms,
                                                                 kb_doc.c.body_terms)):
        for term, weight in best.weights(title_terms, body_terms).items():
            heaps.setdefault(term, []).append((weight, doc))
            if len(heaps[term]) > 4 * best.BEST:  # bounded memory on a large index
                heaps[term] = heapq.nlargest(best.BEST, heaps[term])
    conn.execute(kb_term.update().values(best=None))
    rows = [{"t": term, "b": best.pack(entries)} for term, entries in sorted(heaps.items())]
    if rows:
        conn.execute(kb_term.update().where(kb_term.c.term == sa.bindparam("t")).values(best=sa.bindparam("b")), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class Counts:
    """How many documents hold each of some terms, and how many documents there are."""

    docs: dict[str, int]
    total: int
    lists: dict[str, bytes | None] = field(default_factory=dict)  # each term's best documents, when asked for


_COUNTS = {lists: sa.select(kb_term.c.term, kb_term.c.docs, kb_term.c.best if lists else sa.null()).where(
    kb_term.c.term.in_(sa.bindparam("b_terms", expanding=True))) for lists in (False, True)}  # built once


def counts(conn: Connection, terms: Iterable[str], *, lists: bool = False) -> Counts:
    """One query, for one request's terms or a whole batch's; `lists`: their lists of best documents too."""
    found = conn.execute(_COUNTS[lists], dict(b_terms=sorted({*terms, ALL}))).all()
    rows = {term: docs for term, docs, _ in found}
    return Counts(docs=rows, total=rows.pop(ALL, 0), lists={term: packed for term, _, packed in found} if lists else {})


def rare(q: Query, known: Counts) -> list[tuple[str, ...]]:
    """The words to ask for, rarest first, each as its stems the index holds: of the request's words found in
    the index, the MAX_WORDS rarest, without those more than MAX_SHARE of the documents hold."""
    rows, total = known.docs, max(known.total, 1)
    found = [(min(rows[t] for t in w if rows.get(t)), tuple(sorted(t for t in w if rows.get(t))))
             for w in q.words if any(rows.get(t) for t in w)]
    found.sort(key=lambda df_word: df_word[0])
    limit = MAX_SHARE * total if total >= PRUNE_FROM else total
    kept = [w for df, w in found if df <= limit][:MAX_WORDS]
    return list(dict.fromkeys(kept))  # none: the request has no word specific enough to compare by
