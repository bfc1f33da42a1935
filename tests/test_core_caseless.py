"""core/mail/caseless: a case-insensitive pattern asked as its twin over the lowered text gives re.IGNORECASE's
answer, spans and groups for any text: the real patterns that use it, on their own words in any case mixed with
the characters IGNORECASE folds apart from lower() (dotted and dotless i, long s, micro sign, final sigma...)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailgate.core.mail import bounce_text, classify, notices
from mailgate.core.mail.caseless import _EXOTIC, Caseless

USED = {"bounce subject": bounce_text.SUBJECT, "mail-system name": bounce_text.DAEMON_NAME,
        "list notice subject": notices._LIST_SUBJECT, "challenge subject": classify._CHALLENGE_SUBJECT}
TRICKY = "İıſµςΣσKÅßẞǅéÉàÀæÆœŒøØçÇ ﬅΐΰϑϐᲀᲃтТ\u0307ΑΒ"


def _words(pattern: re.Pattern[str]) -> list[str]:
    return sorted(set(re.findall(r"[^\W\d_]{2,}", pattern.pattern)))


def _text(pattern: re.Pattern[str]) -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(_words(pattern)), st.sampled_from(list(TRICKY)),
                       st.sampled_from([" ", ": ", "-", "_", "@", "\n", "[#88] ", "Re: "]), st.text(max_size=3))
    cased = st.tuples(pieces, st.sampled_from([str.lower, str.upper, str.title, str.swapcase, str])).map(
        lambda p: p[1](p[0]))
    return st.lists(cased, max_size=12).map("".join)


def _same(caseless: Caseless, text: str) -> None:
    for ours, theirs in ((caseless.search(text), caseless.pattern.search(text)),
                         (caseless.match(text), caseless.pattern.match(text))):
        assert (ours is None) == (theirs is None), text
        if ours is not None and theirs is not None:
            assert ours.span() == theirs.span(), text
            lowered = text.lower()[theirs.start():theirs.end()]  # the twin's (a final sigma as lowered in the text)
            assert ours.group(0) in (theirs.group(0), lowered), text


@pytest.mark.parametrize("name", sorted(USED))
@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_the_twin_answers_as_ignorecase_on_the_patterns_used(name: str, data: st.DataObject) -> None:
    caseless = USED[name]
    _same(caseless, data.draw(_text(caseless.pattern)))


@given(st.text(alphabet=st.sampled_from("abcdeiklmnorstuyABCDEIKLMNORSTUY " + TRICKY), max_size=30))
@example("UNDELİVERABLE")  # the dotted capital I: lowered to two characters
@example("undelıverable")  # the dotless i, IGNORECASE's i
@example("Returned maıl")
@example("mail ſystem")  # the long s, IGNORECASE's s
def test_the_twin_answers_as_ignorecase_on_any_text(text: str) -> None:
    for caseless in (*USED.values(), Caseless(r"(?:mail|kelvin|st\b|ss|s|[^\W\d]{2}|[^a-z]\w)+")):
        _same(caseless, text)


def test_a_pattern_the_twin_would_read_otherwise_is_refused_when_made() -> None:
    for source in (r"^BOUNCE \S+", r"[A-Z]{2}", r"[À-Ö]", "(?-i:mail)", r"(?-i:[a-c])", "maıl", "ſ", "µs",
                   r"x[\u0100-\uffff]", "(?a)k", "(?a:é)", r"(a)(?-i:\1)", r"(?P<x>b)(?-i:(?P=x))"):
        with pytest.raises(ValueError):
            Caseless(source)
    with pytest.raises(ValueError):
        Caseless("é", re.ASCII)
    for source, text in (("σ", "ΑΣ"), ("ασ", "ΑΣ "), (r"(a)\1", "Aa"), ("σ\\b", "ΣΑΣ")):  # found by a review
        _same(Caseless(source), text)
    for source in (r"^bounce \S+", r"[^\W\d_]+", r"(?-i:--|\d+)", r"[é-ï]+", r"\bmail\b", r"[^a-z]+"):
        for text in ("bounce x", "BOUNCE X -- 12 MAIL", "ÉTÉ Mail", "x MAIL -- BOUNCE éè a B"):
            _same(Caseless(source), text)


def test_the_exotic_characters_are_those_ignorecase_folds_apart_from_lower() -> None:
    assert {"İ", "ı", "ſ", "µ", "ς", "Σ"} <= set(_EXOTIC)
    assert not set(_EXOTIC) & set("iIsSkKσμΜ")  # the plain letters stay with the twin
