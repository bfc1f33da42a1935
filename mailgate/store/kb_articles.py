"""Store: knowledge-base articles (docs/kb.md): a draft made of a resolved ticket by a consultant's `kb`
command, published by a second command or by `mailgate kb publish`, retired by `mailgate kb retire`. Every
change is a new version kept in kb_article_version; the article's search document follows in the same
transaction (a retired article is no longer found)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.kb import document
from mailgate.core.kb.document import ArticleText
from mailgate.core.kb.model import ArticleState, DocKind
from mailgate.core.model import RequestType
from mailgate.store import kb
from mailgate.store.kb_tables import kb_article, kb_article_version
from mailgate.store.tables import participant, ticket


class ArticleMissing(LookupError):
    """No article has that number."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    number: int
    state: ArticleState
    text: ArticleText
    ticket_id: int | None
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_by: str | None
    published_at: datetime | None

    def json(self) -> dict[str, Any]:
        return {"number": self.number, "label": f"KB-{self.number}", "state": self.state.value,
                "title": self.text.title, "symptoms": self.text.symptoms, "resolution": self.text.resolution,
                "type": self.text.type.value if self.text.type else None, "tags": list(self.text.tags),
                "ticket": self.ticket_id, "version": self.version, "created_by": self.created_by,
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
                "published_by": self.published_by,
                "published_at": self.published_at.isoformat() if self.published_at else None}


def draft_from_ticket(conn: Connection, ticket_id: int, *, title: str | None, by: str, agents: Iterable[str],
                      now: datetime) -> int:
    """A draft article of the ticket's resolution (its number); the customer's names and addresses left out."""
    row = conn.execute(sa.select(ticket.c.title, ticket.c.type, ticket.c.tags, ticket.c.requester_name)
                       .where(ticket.c.id == ticket_id)).one()
    names = [row.requester_name, *conn.execute(sa.select(participant.c.name)
                                               .where(participant.c.ticket_id == ticket_id)).scalars()]
    people = [part for name in names if name for part in (name, *name.split()) if len(part) > 2]
    messages = kb.written(conn, ticket_id, frozenset(agents))
    text = document.draft(title or row.title, RequestType(row.type), row.tags or (), messages, people)
    number = conn.execute(kb_article.insert().values(
        state=ArticleState.DRAFT.value, title=text.title[:500], symptoms=text.symptoms, resolution=text.resolution,
        type=row.type, tags=list(text.tags), ticket_id=ticket_id, version=1, created_by=by, created_at=now,
        updated_at=now).returning(kb_article.c.id)).scalar_one()
    _version(conn, number, 1, ArticleState.DRAFT, text, by, now)
    kb.put(conn, document.of_article(number, text, published=False), now)
    return int(number)


def latest_of_ticket(conn: Connection, ticket_id: int) -> int | None:
    """The newest article made of the ticket, if any."""
    return conn.execute(sa.select(sa.func.max(kb_article.c.id)).where(kb_article.c.ticket_id == ticket_id)).scalar()


def set_state(conn: Connection, number: int, state: ArticleState, *, by: str, now: datetime) -> Article:
    """Publish or retire (or back to draft): a new version; the search document follows."""
    article = get(conn, number)
    version = article.version + 1
    values: dict[str, object] = {"state": state.value, "version": version, "updated_at": now}
    if state is ArticleState.PUBLISHED:
        values.update(published_by=by, published_at=now)
    conn.execute(kb_article.update().where(kb_article.c.id == number).values(values))
    _version(conn, number, version, state, article.text, by, now)
    if state is ArticleState.RETIRED:
        kb.drop(conn, DocKind.ARTICLE, number)
    else:
        kb.put(conn, document.of_article(number, article.text, published=state is ArticleState.PUBLISHED), now)
    return get(conn, number)


def get(conn: Connection, number: int) -> Article:
    row = conn.execute(sa.select(kb_article).where(kb_article.c.id == number)).one_or_none()
    if row is None:
        raise ArticleMissing(f"no article KB-{number}")
    return _article(row)


def listed(conn: Connection, state: ArticleState | None = None) -> list[Article]:
    stmt = sa.select(kb_article).order_by(kb_article.c.id)
    if state is not None:
        stmt = stmt.where(kb_article.c.state == state.value)
    return [_article(r) for r in conn.execute(stmt)]


def versions(conn: Connection, number: int) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(kb_article_version).where(kb_article_version.c.article_id == number)
                        .order_by(kb_article_version.c.version))
    return [{"version": r.version, "state": r.state, "title": r.title, "by": r.by, "at": r.at.isoformat()}
            for r in rows]


def reindex(conn: Connection, now: datetime) -> int:
    """Every article not retired indexed again; returns how many."""
    kb.drop_all(conn, DocKind.ARTICLE)
    found = [a for a in listed(conn) if a.state is not ArticleState.RETIRED]
    for a in found:
        kb.put(conn, document.of_article(a.number, a.text, published=a.state is ArticleState.PUBLISHED), now)
    return len(found)


def _version(conn: Connection, number: int, version: int, state: ArticleState, text: ArticleText, by: str,
             now: datetime) -> None:
    conn.execute(kb_article_version.insert().values(
        article_id=number, version=version, state=state.value, title=text.title[:500], symptoms=text.symptoms,
        resolution=text.resolution, tags=list(text.tags), by=by, at=now))


def _article(row: Any) -> Article:
    text = ArticleText(title=row.title, symptoms=row.symptoms, resolution=row.resolution,
                       type=RequestType(row.type) if row.type else None, tags=tuple(row.tags or ()))
    return Article(number=row.id, state=ArticleState(row.state), text=text, ticket_id=row.ticket_id,
                   version=row.version, created_by=row.created_by, created_at=row.created_at,
                   updated_at=row.updated_at, published_by=row.published_by, published_at=row.published_at)
