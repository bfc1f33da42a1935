"""Core values of the knowledge base: what is searched (a document), what a search found (a hit), and the
desk's policy for using it ([kb] in the config). docs/kb.md."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailgate.core.model import RequestType, Status

# a ticket becomes searchable once answered or closed (and is indexed again at each of those moves)
SEARCHABLE = frozenset({Status.ANSWER_SENT, Status.CLOSED})


class DocKind(StrEnum):
    TICKET = "ticket"  # a resolved ticket: shown to consultants only
    ARTICLE = "article"  # a knowledge-base article: shown to customers once published


class ArticleState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True, kw_only=True)
class Document:
    """A ticket or an article as indexed: its terms (core/kb/text.terms) and what a hit shows of it."""

    kind: DocKind
    ref: int  # the ticket's or the article's number
    title: str
    summary: str  # one line of the resolution
    title_terms: str
    body_terms: str
    type: RequestType | None = None
    level: int | None = None
    published: bool = False  # an article customers may be shown


@dataclass(frozen=True, slots=True, kw_only=True)
class Hit:
    kind: DocKind
    ref: int
    title: str
    summary: str
    score: float  # the share of the request's words the document has, 0 to 1 (text.coverage)
    type: RequestType | None = None
    level: int | None = None
    published: bool = False

    @property
    def label(self) -> str:
        """How mails and pages name it: #88 for a ticket, KB-3 for an article."""
        return f"#{self.ref}" if self.kind is DocKind.TICKET else f"KB-{self.ref}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """[kb]: whether the flow searches, how many hits it lists, and the two optional uses of them."""

    enabled: bool = True
    similar: int = 3  # hits listed to the consultants with a new ticket
    prefill: bool = False  # apply the nearest resolved tickets' type and level when no rule set them
    prefill_min_score: float = 0.4
    self_service: bool = False  # the acknowledgement lists published articles that match well
    self_service_min_score: float = 0.6
    self_service_articles: int = 3
