"""The knowledge base's similarity index, pure (core/kb/best.py): weights, the bounded lists of best
documents, and the ranking of a request over them."""

from __future__ import annotations

from mailgate.core.kb import best, text


def test_weight_grows_with_the_count_and_falls_with_the_length() -> None:
    short = best.weights("", "vpn vpn coupure")
    assert short["vpn"] > short["coupure"] > 0
    padded = best.weights("", "vpn coupure " + " ".join(f"mot{i}" for i in range(300)))
    assert padded["coupure"] < short["coupure"]
    assert best.weights("vpn", "coupure")["vpn"] > best.weights("", "vpn coupure")["vpn"]  # a title word counts more
    assert all(0 < w < (best.K1 + 1) * best.SCALE for w in short.values())


def test_a_list_keeps_the_heaviest_documents_only() -> None:
    entries = [(w, doc) for doc, w in enumerate(range(1, 3 * best.BEST), start=100)]
    packed = best.pack(entries)
    kept = best.unpack(packed)
    assert len(kept) == best.BEST and kept == sorted(entries, reverse=True)[:best.BEST]
    assert best.unpack(None) == [] and best.unpack(b"") == [] and best.pack([]) == b""


def test_a_document_is_added_replaced_or_taken_out() -> None:
    packed = best.pack([(500, 1), (300, 2)])
    assert best.unpack(best.merged(packed, 3, 400)) == [(500, 1), (400, 3), (300, 2)]
    assert best.unpack(best.merged(packed, 1, 100)) == [(300, 2), (100, 1)]  # replaced, not doubled
    assert best.unpack(best.merged(packed, 2, None)) == [(500, 1)]
    full = best.pack([(1000 + i, i) for i in range(best.BEST)])
    assert best.unpack(best.merged(full, 999, 1)) == best.unpack(full)  # too light to be listed


def test_rare_words_weigh_more_and_a_word_counts_by_its_heaviest_stem() -> None:
    q = text.query("imprimante bloquée")
    imprim, bloqu = sorted(next(iter(q.words))), sorted(q.words[1])
    lists = {imprim[0]: best.pack([(900, 1), (800, 2)]), bloqu[0]: best.pack([(500, 2), (400, 3)])}
    docs = {imprim[0]: 500, bloqu[0]: 5}  # bloquée is rare: it says more than imprimante
    ranked = best.rank(q, docs, lists, 1000, limit=3)
    assert [s.doc for s in ranked] == [2, 3, 1] and ranked[0].score > ranked[1].score > ranked[2].score
    assert [s.doc for s in best.rank(q, docs, lists, 1000, limit=1)] == [2]
    two = text.query("imprimantes")  # a French and an English stem: the heaviest counts, once
    stems = sorted(two.words[0])
    assert len(stems) == 2
    lists = {stems[0]: best.pack([(300, 7)]), stems[1]: best.pack([(600, 7), (100, 8)])}
    ranked = best.rank(two, {stems[0]: 2, stems[1]: 2}, lists, 100, limit=3)
    assert [s.doc for s in ranked] == [7, 8]
    assert ranked[0].score == best.idf(2, 100) * 600 / best.SCALE
    assert best.rank(text.query("zzz"), {}, {}, 100, limit=3) == []
