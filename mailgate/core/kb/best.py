"""Core, the knowledge base's similarity index: for each term, the BEST documents where it weighs most (a
champion list, kept beside the term's document count in kb_term by store/kb_terms.py), and the ranking of a
new request over those lists (store/kb.similar, on the per-mail path). No full-text query runs per mail: the
request's terms' rows, read once per batch, are all it takes. docs/kb.md, "Similar tickets"."""

from __future__ import annotations

import heapq
import math
import struct
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter

from mailgate.core.kb.text import Query

BEST = 32  # documents a term lists (benchmarks/kb_quality.py: 32 to 64 rank alike, 200 worse)
WORDS = 12  # the request's rarest words a ranking reads the lists of
K1, B = 1.2, 0.75  # BM25's saturation and length normalisation
AVG_LENGTH = 100  # the document length BM25 normalises by: fixed, so that weights stored at any time compare
TITLE = 2  # a title word counts twice (as bm25(kb_fts, 2.0, 1.0) weighs the title column)
SCALE = 1000  # weights are stored as integers: 0 < weight < (K1 + 1) * SCALE
_ENTRY = struct.Struct("<ii")  # an entry on disk: doc, weight, as 4-byte little-endian integers


@dataclass(frozen=True, slots=True)
class Scored:
    """A document of the index (kb_doc.id) a ranking found, with its score."""

    doc: int
    score: float


def weights(title_terms: str, body_terms: str) -> dict[str, int]:
    """Each term of a document with its weight in it: BM25's term-frequency part, scaled to an integer."""
    tf: Counter[str] = Counter(t[:100] for t in body_terms.split())
    for t in title_terms.split():
        tf[t[:100]] += TITLE
    norm = K1 * (1 - B + B * sum(tf.values()) / AVG_LENGTH)
    return {t: max(1, round(f * (K1 + 1) / (f + norm) * SCALE)) for t, f in tf.items()}


def unpack(packed: bytes | None) -> list[tuple[int, int]]:
    """A stored list as (weight, doc), heaviest first (as pack stored it)."""
    return [(weight, doc) for doc, weight in _ENTRY.iter_unpack(packed)] if packed else []


def pack(entries: Iterable[tuple[int, int]]) -> bytes:
    """(weight, doc) entries as stored: the BEST heaviest (the larger doc first among equal weights)."""
    return b"".join(_ENTRY.pack(doc, weight) for weight, doc in heapq.nlargest(BEST, entries))


def merged(packed: bytes | None, doc: int, weight: int | None) -> bytes:
    """A term's list with `doc` at `weight`, or taken out (None). A document taken out leaves room that only a
    rebuild fills again (store/kb_terms.rebuild: `mailgate kb reindex`): one that fell out earlier is not
    known here."""
    entries = [(w, d) for w, d in unpack(packed) if d != doc]
    if weight is not None:
        entries.append((weight, doc))
    return pack(entries)


def idf(docs: int, total: int) -> float:
    """BM25's inverse document frequency: a word few documents hold says more."""
    return math.log(1 + (total - docs + 0.5) / (docs + 0.5))


def rank(q: Query, docs: Mapping[str, int], lists: Mapping[str, bytes | None], total: int, *,
         limit: int) -> list[Scored]:
    """The documents most like the request, best first: over its WORDS rarest words the index holds, the
    sum of each word's idf times its weight in the document (the weight of the heaviest of the word's stems).
    A document that holds one word only may be listed: requiring two lost 4 points of top-3 on
    benchmarks/kb_quality.py's 100,000 tickets, for no gain on its evaluation set."""
    found = sorted((min(docs[t] for t in w if docs.get(t)), sorted(w)) for w in q.words
                   if any(docs.get(t) for t in w))[:WORDS]
    scores: dict[int, float] = {}
    score = scores.get
    for df, stems in found:
        heaviest = _heaviest([packed for t in stems if (packed := lists.get(t))])
        factor = idf(df, max(total, df)) / SCALE
        for doc, weight in heaviest.items():
            scores[doc] = score(doc, 0.0) + factor * weight
    return [Scored(doc=d, score=s) for d, s in heapq.nlargest(limit, scores.items(), key=itemgetter(1, 0))]


def _heaviest(packed: list[bytes]) -> dict[int, int]:
    """doc -> weight over one word's stems' lists: the heaviest of its stems in each document."""
    if not packed:
        return {}
    first = dict(_ENTRY.iter_unpack(packed[0]))
    for more in packed[1:]:
        other = dict(_ENTRY.iter_unpack(more))
        both = first.keys() & other.keys()
        merged_ = first | other
        for doc in both:
            merged_[doc] = max(first[doc], other[doc])
        first = merged_
    return first
