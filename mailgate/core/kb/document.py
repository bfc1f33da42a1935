"""Core: what the knowledge base indexes of a resolved ticket (its title, the customer's first mail, the
consultants' answers, the resolution) and of an article, and the draft article a consultant's `kb` command
makes of a ticket, with no customer's address or name in it. docs/kb.md."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from mailgate.core.kb import text
from mailgate.core.kb.model import DocKind, Document
from mailgate.core.model import RequestType
from mailgate.core.workflow import commands

SUMMARY_CHARS = 160
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+\d[\d .()-]{7,18}\d|\b0\d(?:[ .-]?\d{2}){4}\b")  # +33 6 12…, +44 (20) 7946…, 06 12…
_HIDDEN = "[…]"


@dataclass(frozen=True, slots=True, kw_only=True)
class Written:
    """One message of the ticket: what its author wrote (the quoted history removed)."""

    by_consultant: bool
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleText:
    title: str
    symptoms: str
    resolution: str
    type: RequestType | None
    tags: tuple[str, ...] = ()


def own_words(message: Written) -> str:
    """A consultant's text without its command lines (the first command's words stay out of the index)."""
    return commands.parse(message.text).text if message.by_consultant else message.text


def resolution(messages: Iterable[Written]) -> str:
    """The consultants' last words on the ticket: the resolution as it was sent."""
    said = [own_words(m) for m in messages if m.by_consultant]
    return next((s.strip() for s in reversed(said) if s.strip()), "")


def summary(words: str) -> str:
    """One line: the first line of `words`, cut at SUMMARY_CHARS."""
    line = next((ln.strip() for ln in words.splitlines() if ln.strip()), "")
    return line if len(line) <= SUMMARY_CHARS else line[:SUMMARY_CHARS - 1].rstrip() + "…"


def of_ticket(number: int, title: str, type_: RequestType, level: int, messages: list[Written]) -> Document:
    customer = next((m.text for m in messages if not m.by_consultant), "")
    answers = "\n".join(own_words(m) for m in messages if m.by_consultant)
    return Document(kind=DocKind.TICKET, ref=number, title=title, summary=summary(resolution(messages)),
                    title_terms=text.terms(title), body_terms=text.terms(f"{customer}\n{answers}"),
                    type=type_, level=level)


def of_article(number: int, article: ArticleText, *, published: bool) -> Document:
    return Document(kind=DocKind.ARTICLE, ref=number, title=article.title, summary=summary(article.resolution),
                    title_terms=text.terms(article.title),
                    body_terms=text.terms(f"{article.symptoms}\n{article.resolution}\n{' '.join(article.tags)}"),
                    type=article.type, published=published)


def draft(title: str, type_: RequestType, tags: Iterable[str], messages: list[Written],
          people: Iterable[str]) -> ArticleText:
    """The article a ticket's resolution makes: the customer's first mail as the symptoms, the consultants'
    last words as the resolution; addresses, phone numbers and the names in `people` replaced by […]."""
    customer = next((m.text for m in messages if not m.by_consultant), "")
    names = sorted({p.strip() for p in people if len(p.strip()) > 1}, key=len, reverse=True)
    return ArticleText(title=scrub(title, names), symptoms=scrub(customer, names),
                       resolution=scrub(resolution(messages), names), type=type_, tags=tuple(tags))


def scrub(words: str, names: list[str]) -> str:
    """`words` with no address, phone number nor any of `names` (whole words, any case) left in it."""
    out = _PHONE.sub(_HIDDEN, _EMAIL.sub(_HIDDEN, words))
    for name in names:
        out = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", _HIDDEN, out, flags=re.IGNORECASE)
    return out.strip()
