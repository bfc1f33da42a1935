"""Core subject handling: prefixes, tags, titles."""

from __future__ import annotations

import pytest

from mailgate.core.mail import subject


@pytest.mark.parametrize("raw, expected", [
    ("Re: Bonjour", "Bonjour"),
    ("RE: Fwd: TR: AW: WG: Bonjour", "Bonjour"),
    ("Re[2]: Bonjour", "Bonjour"),
    ("Réponse: Bonjour", "Réponse: Bonjour"),  # not a prefix we know
    ("Refonte du site", "Refonte du site"),  # "Re" inside a word is not a prefix
    ("tr : espace avant", "espace avant"),
])
def test_strip_prefixes(raw: str, expected: str) -> None:
    assert subject.strip_prefixes(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("[#88] Création", (88,)),
    ("Re: [#88] Création", (88,)),
    ("Suite #12 et [#7]", (7, 12)),  # bracketed tags first
    ("Facture n°2022#3", ()),  # no tag glued to a word
    ("rien", ()),
    ("[#0] zero", ()),
    ("&#233; entity", ()),
])
def test_tags(raw: str, expected: tuple[int, ...]) -> None:
    assert subject.tags(raw) == expected


def test_title_removes_prefixes_and_our_tag() -> None:
    assert subject.title("Re: [#88] Re: Création de l'utilisateur Fabrice") == "Création de l'utilisateur Fabrice"
    assert subject.title("   ") == "(sans objet)"
    assert subject.title("", empty="(no subject)") == "(no subject)"
    assert len(subject.title("x" * 1000)) == 250


def test_tagged() -> None:
    assert subject.tagged(88, "Création") == "[#88] Création"
