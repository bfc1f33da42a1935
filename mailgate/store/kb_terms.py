"""Store: how many documents of the knowledge base hold each term, kept with every document indexed or
dropped (store/kb.py), so that a search asks the database only for a request's rarer words: a word half the
documents share costs the full-text index most of its work and tells bm25 or ts_rank almost nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from mailgate.core.kb.text import Query
from mailgate.store.kb_tables import kb_term

ALL = ""  # the row counting the documents themselves
MAX_WORDS = 6  # a search asks for at most this many of the request's words, the rarest
MAX_SHARE = 0.05  # ... and leaves out the words more than this share of the documents hold,
PRUNE_FROM = 2_000  # once there are this many documents (a small index is cheap to search whole)


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


@dataclass(frozen=True, slots=True)
class Counts:
    """How many documents hold each of some terms, and how many documents there are."""

    docs: dict[str, int]
    total: int


def counts(conn: Connection, terms: Iterable[str]) -> Counts:
    """One query, for one request's terms or a whole batch's."""
    wanted = sorted({*terms, ALL})
    rows: dict[str, int] = {term: docs for term, docs in
                            conn.execute(sa.select(kb_term.c.term, kb_term.c.docs).where(kb_term.c.term.in_(wanted)))}
    return Counts(docs=rows, total=rows.pop(ALL, 0))


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
