"""The knowledge base's index and search, on SQLite and PostgreSQL: the same words find the same documents
(accents, plurals, French and English stems), articles in their states, scores and filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from mailgate.core.kb import text
from mailgate.core.kb.model import DocKind, Document
from mailgate.core.model import RequestType
from mailgate.store import kb
from mailgate.store.schema import open_database
from tests.conftest import make_settings, schema_at

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
ASSIST, INCID, EVOL = RequestType.ASSISTANCE, RequestType.INCIDENT, RequestType.EVOLUTION
DOCS = [
    (1, "Imprimante du 2e étage hors ligne", "L'imprimante ne répond plus.", "Pilote réinstallé.", ASSIST, 1),
    (2, "VPN disconnects every ten minutes", "The VPN drops all the time.", "Client updated to 5.2.", INCID, 2),
    (3, "Mot de passe expiré", "Je ne peux plus me connecter, mot de passe expiré.", "Réinitialisé.", ASSIST, 1),
    (4, "Nouvelle colonne dans le rapport des ventes", "Ajouter la marge au rapport.", "Livré en v3.", EVOL, 3),
]


def doc(ref: int, title: str, request: str, fix: str, type_: RequestType, level: int) -> Document:
    return Document(kind=DocKind.TICKET, ref=ref, title=title, summary=fix, title_terms=text.terms(title),
                    body_terms=text.terms(f"{request}\n{fix}"), type=type_, level=level)


def test_words_fold_accents_plurals_and_both_languages() -> None:
    assert text.terms("Imprimantes") == text.terms("imprimante")
    assert set(text.terms("printers").split()) & set(text.terms("printer").split())
    assert text.terms("Réseau coupé") == text.terms("reseau coupe")
    assert text.words("Bonjour, le VPN est coupé merci") == ["vpn", "coupe"]
    assert not text.query("le la les the of")


def test_search_finds_by_stem_and_language(db_url: str, tmp_path: Path) -> None:
    db = open_database(make_settings(db_url, 25, tmp_path))
    try:
        with db.transaction() as conn:
            for row in DOCS:
                kb.put(conn, doc(*row), NOW)
        with db.transaction() as conn:
            printers = kb.search(conn, "nos imprimantes sont hors-ligne")
            vpn = kb.search(conn, "le vpn se déconnecte", limit=1)
            report = kb.search(conn, "ajout d'une colonne au rapport")
            nothing = kb.search(conn, "zzz qqq")
            excluded = kb.search(conn, "imprimante hors ligne", exclude_ticket=1)
            articles = kb.search(conn, "imprimante", kind=DocKind.ARTICLE)
        assert printers[0].ref == 1 and printers[0].type is RequestType.ASSISTANCE and printers[0].level == 1
        assert 0 < printers[0].score <= 1 and printers[0].label == "#1"
        assert [h.ref for h in vpn] == [2]
        assert report[0].ref == 4 and report[0].summary == "Livré en v3."
        assert nothing == [] and articles == []
        assert all(h.ref != 1 for h in excluded)
        with db.transaction() as conn:  # indexed again: replaced, not doubled
            kb.put(conn, doc(1, "Imprimante réparée", "plus de papier", "Papier ajouté.", INCID, 2), NOW)
            assert kb.counts(conn) == {"ticket": 4}
            again = kb.search(conn, "imprimante papier")
            kb.drop(conn, DocKind.TICKET, 1)
            gone = kb.search(conn, "imprimante papier")
        assert again[0].ref == 1 and again[0].type is RequestType.INCIDENT and again[0].score == 1.0
        assert all(h.ref != 1 for h in gone)
    finally:
        db.close()


def test_term_counts_follow_every_change(db_url: str, tmp_path: Path) -> None:
    """kb_term holds, for each term, how many documents have it (what a search prunes common words by)."""
    import sqlalchemy as sa

    from mailgate.store import kb_terms
    from mailgate.store.kb_tables import kb_doc, kb_term

    def recounted(conn: sa.Connection) -> dict[str, int]:
        counted: dict[str, int] = {kb_terms.ALL: 0}
        for row in conn.execute(sa.select(kb_doc.c.title_terms, kb_doc.c.body_terms)):
            counted[kb_terms.ALL] += 1
            for t in kb_terms.of(row.title_terms, row.body_terms):
                counted[t] = counted.get(t, 0) + 1
        return counted

    db = open_database(make_settings(db_url, 25, tmp_path))
    try:
        with db.transaction() as conn:
            for row in DOCS:
                kb.put(conn, doc(*row), NOW)
            kb.put(conn, doc(2, "VPN coupé", "coupures", "Pare-feu corrigé.", INCID, 2), NOW)  # replaced
            kb.drop(conn, DocKind.TICKET, 3)
            stored = {t: n for t, n in conn.execute(sa.select(kb_term.c.term, kb_term.c.docs)) if n}
            assert stored == recounted(conn) and stored[kb_terms.ALL] == 3
            kb.drop_all(conn, DocKind.TICKET)
            assert not any(n for _, n in conn.execute(sa.select(kb_term.c.term, kb_term.c.docs)))
    finally:
        db.close()


def test_similar_finds_by_stem_and_language(db_url: str, tmp_path: Path) -> None:
    """What the per-mail path lists (kb.similar, over each term's best documents) finds what search finds."""
    db = open_database(make_settings(db_url, 25, tmp_path))
    try:
        with db.transaction() as conn:
            for row in DOCS:
                kb.put(conn, doc(*row), NOW)
        with db.transaction() as conn:
            printers = kb.similar(conn, "nos imprimantes sont hors-ligne")
            vpn = kb.similar(conn, "the vpn keeps disconnecting", limit=1)
            report = kb.similar(conn, "ajout d'une colonne au rapport")
            nothing = kb.similar(conn, "zzz qqq")
            excluded = kb.similar(conn, "imprimante hors ligne", exclude_ticket=1)
        assert printers[0].ref == 1 and printers[0].type is RequestType.ASSISTANCE and printers[0].level == 1
        assert 0 < printers[0].score <= 1
        assert [h.ref for h in vpn] == [2]
        assert report[0].ref == 4 and report[0].summary == "Livré en v3."
        assert nothing == [] and all(h.ref != 1 for h in excluded)
        with db.transaction() as conn:
            kb.put(conn, doc(1, "Imprimante réparée", "plus de papier", "Papier ajouté.", INCID, 2), NOW)
            again = kb.similar(conn, "imprimante papier")
            kb.drop(conn, DocKind.TICKET, 1)
            gone = kb.similar(conn, "imprimante papier")
        assert again[0].ref == 1 and again[0].type is RequestType.INCIDENT
        assert all(h.ref != 1 for h in gone)
    finally:
        db.close()


def test_best_lists_follow_every_change(db_url: str, tmp_path: Path) -> None:
    """Each term's list of best documents, kept with every put and drop, is what a rebuild makes; past BEST
    documents it keeps the heaviest; a drop leaves room that a rebuild fills."""
    import sqlalchemy as sa

    from mailgate.core.kb import best
    from mailgate.store import kb_terms
    from mailgate.store.kb_tables import kb_term

    def lists(conn: sa.Connection) -> dict[str, list[tuple[int, int]]]:
        return {t: best.unpack(b) for t, b in conn.execute(sa.select(kb_term.c.term, kb_term.c.best)) if b}

    db = open_database(make_settings(db_url, 25, tmp_path))
    try:
        with db.transaction() as conn:
            for row in DOCS:
                kb.put(conn, doc(*row), NOW)
            kb.put(conn, doc(2, "VPN coupé", "coupures", "Pare-feu corrigé.", INCID, 2), NOW)  # replaced
            kb.drop(conn, DocKind.TICKET, 3)
            kept = lists(conn)
            assert kb_terms.rebuild(conn) == len(kept)
            assert lists(conn) == kept and text.terms("pare-feu").split()[0] in kept
            for n in range(best.BEST + 5):  # `imprim` in more documents than a list holds: the heaviest stay
                body = " ".join(["imprimante"] * (1 + n % 7) + ["papier"] * 20)
                kb.put(conn, doc(100 + n, "Toner", body, "Changé.", ASSIST, 1), NOW)
            term = text.terms("imprimante").split()[0]
            listed = lists(conn)[term]
            assert len(listed) == best.BEST and listed == sorted(listed, reverse=True)
            kb_terms.rebuild(conn)
            assert lists(conn)[term] == listed
            kb.drop(conn, DocKind.TICKET, 106)  # imprimante 7 times: listed
            assert len(lists(conn)[term]) == best.BEST - 1
            kb_terms.rebuild(conn)
            assert len(lists(conn)[term]) == best.BEST
            kb.drop_all(conn, DocKind.TICKET)
            assert lists(conn) == {}
    finally:
        db.close()


def test_an_index_made_before_the_lists_gets_them_at_upgrade(db_url: str, tmp_path: Path) -> None:
    """Migration 0011 fills each term's list from the documents a 0010 database indexed."""
    import sqlalchemy as sa

    from mailgate.core.kb import best
    from mailgate.store import kb_terms, migrate
    from mailgate.store.db import make_engine

    engine = make_engine(db_url)
    try:
        schema_at(engine, "0010")
        with engine.begin() as conn:  # documents and counts as 0010's code wrote them
            for row in DOCS:
                d = doc(*row)
                conn.execute(sa.text("INSERT INTO kb_doc (kind, ref, title, summary, title_terms, body_terms,"
                                     " published, indexed_at) VALUES ('ticket', :ref, :title, '', :tt, :bt, false,"
                                     " :at)"), {"ref": d.ref, "title": d.title, "tt": d.title_terms,
                                                 "bt": d.body_terms, "at": NOW})
                kb_terms.add(conn, kb_terms.document(kb_terms.of(d.title_terms, d.body_terms), +1))
        migrate.upgrade(engine)
        with engine.connect() as conn:
            term = text.terms("imprimante").split()[0]
            packed = conn.execute(sa.text("SELECT best FROM kb_term WHERE term = :t"), {"t": term}).scalar_one()
            ids = conn.execute(sa.text("SELECT id FROM kb_doc WHERE ref = 1")).scalar_one()
    finally:
        engine.dispose()
    assert [doc_id for _, doc_id in best.unpack(packed)] == [ids]
    db = open_database(make_settings(db_url, 25, tmp_path))
    try:
        with db.transaction() as conn:
            assert kb.similar(conn, "imprimante hors ligne")[0].ref == 1
    finally:
        db.close()
