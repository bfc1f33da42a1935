"""The knowledge base's pure part: the words, the suggestion of type and level (rules win, a majority, a
threshold), what a customer may be shown, the draft article without the customer, and the commands."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mailgate.core.kb import document, flow, text
from mailgate.core.kb.document import Written
from mailgate.core.kb.model import DocKind, Hit, Policy
from mailgate.core.model import Address, NewTicket, Priority, RequestType
from mailgate.core.workflow import commands, lookups

TICKET = NewTicket(title="Imprimantes hors ligne", requester=Address("paul@client.example"), cc=(),
                   type=RequestType.ASSISTANCE, level=1, priority=Priority.NORMAL, locale="fr")


def hit(ref: int, score: float, *, type_: RequestType = RequestType.INCIDENT, level: int = 2,
        kind: DocKind = DocKind.TICKET, published: bool = False) -> Hit:
    return Hit(kind=kind, ref=ref, title=f"t{ref}", summary="fixed", score=score, type=type_, level=level,
               published=published)


def test_coverage_is_the_share_of_the_request_words_held() -> None:
    q = text.query("imprimante hors ligne")
    assert text.coverage(q, text.terms("L'imprimante est hors service")) == 2 / 3
    assert text.coverage(q, text.terms("Imprimantes hors ligne")) == 1.0
    assert text.coverage(text.query(""), "imprim") == 0.0
    assert len(text.query(" ".join(f"mot{i}" for i in range(100))).words) == text.MAX_QUERY_WORDS


def test_prefill_suggests_by_weighted_majority_and_applies_only_when_asked() -> None:
    hits = (hit(1, 0.9), hit(2, 0.8), hit(3, 0.5, type_=RequestType.ASSISTANCE, level=1))
    recorded, event = flow.prefill(TICKET, hits, frozenset(), Policy())
    assert recorded == TICKET and event is not None and event.data["applied"] is False
    assert (event.data["type"], event.data["level"]) == ("incident", 2)
    assert [e["ticket"] for e in event.data["evidence"]] == [1, 2, 3]  # type: ignore[union-attr]
    applied, event = flow.prefill(TICKET, hits, frozenset(), Policy(prefill=True))
    assert (applied.type, applied.level) == (RequestType.INCIDENT, 2) and event is not None


def test_prefill_leaves_what_rules_set_and_needs_evidence() -> None:
    hits = (hit(1, 0.9), hit(2, 0.8))
    kept, event = flow.prefill(TICKET, hits, frozenset({"type"}), Policy(prefill=True))
    assert kept.type is RequestType.ASSISTANCE and kept.level == 2 and event is not None
    assert "type" not in event.data
    assert flow.prefill(TICKET, hits, frozenset({"type", "level"}), Policy(prefill=True)) == (TICKET, None)
    assert flow.prefill(TICKET, (hit(1, 0.2),), frozenset(), Policy(prefill=True)) == (TICKET, None)  # too weak
    split = (hit(1, 0.5), hit(2, 0.5, type_=RequestType.EVOLUTION, level=3))  # no majority: no suggestion
    assert flow.prefill(TICKET, split, frozenset(), Policy(prefill=True)) == (TICKET, None)
    articles = (hit(1, 0.9, kind=DocKind.ARTICLE, published=True),)  # articles are no evidence
    assert flow.prefill(TICKET, articles, frozenset(), Policy(prefill=True)) == (TICKET, None)


def test_self_service_shows_published_articles_that_match_well_only() -> None:
    hits = (hit(1, 0.9), hit(2, 0.9, kind=DocKind.ARTICLE), hit(3, 0.9, kind=DocKind.ARTICLE, published=True),
            hit(4, 0.3, kind=DocKind.ARTICLE, published=True))
    assert flow.self_service(hits, Policy()) == []  # off by default
    shown = flow.self_service(hits, Policy(self_service=True))
    assert [a["label"] for a in shown] == ["KB-3"]


def test_draft_article_keeps_no_customer_detail() -> None:
    messages = [Written(by_consultant=False, text="Bonjour, l'imprimante ne marche plus. Appelez Fabrice Martin "
                                                  "au +33 6 12 34 56 78, fabrice.martin@client.example. Fabrice"),
                Written(by_consultant=True, text="prendre\n\nJe regarde."),
                Written(by_consultant=True, text="résolu\n\nPilote réinstallé pour M. Martin.")]
    article = document.draft("Imprimante de Fabrice", RequestType.INCIDENT, ("impression",), messages,
                             ["Fabrice Martin", "Fabrice", "Martin"])
    whole = f"{article.title} {article.symptoms} {article.resolution}"
    for private in ("Fabrice", "Martin", "fabrice.martin@client.example", "12 34 56 78"):
        assert private not in whole
    assert article.resolution == "Pilote réinstallé pour M. […]." and article.tags == ("impression",)
    indexed = document.of_ticket(5, "Imprimante", RequestType.INCIDENT, 2, messages)
    assert "prendr" not in indexed.body_terms.split() and indexed.summary == "Pilote réinstallé pour M. Martin."


def test_kb_command_and_search_by_mail_read_as_people_write() -> None:
    assert commands.parse_line("kb") is not None and commands.parse_line("kb").args == {}  # type: ignore[union-attr]
    titled = commands.parse_line("kb: Imprimante hors ligne")
    assert titled is not None and titled.args == {"title": "Imprimante hors ligne"}
    assert commands.parse_line("/base Imprimante hors ligne") is not None
    assert commands.parse_line("Base de données relancée, pouvez-vous réessayer ?") is None
    published = commands.parse_line("kb publier")
    assert published is not None and published.args == {"publish": True}
    assert lookups.searched("chercher imprimante hors ligne\n\nmerci") == "imprimante hors ligne"
    assert lookups.searched("Search: vpn drops") == "vpn drops"
    assert lookups.searched("chercher") is None and lookups.searched("Je cherche une imprimante") is None
    assert lookups.asked("chercher vpn", agent=True) == lookups.SEARCH
    assert lookups.asked("chercher vpn", agent=False) is None


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=200) | st.text("aZ09 \t\n-_.éÉœßﬁ²", max_size=60))
def test_words_split_as_the_word_pattern_finds_them(raw: str) -> None:
    folded = text.fold(raw)
    assert folded.isascii()
    assert text._split(folded) == re.findall(r"[a-z0-9]+", folded)
