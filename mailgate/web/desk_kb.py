"""Shell, web: the knowledge base on the supervisors' dashboard (signed in by web/desk_auth.py): /desk/kb, a search
box over the resolved tickets and the published articles (store/kb.py), or the published articles newest first;
/desk/kb/N, one published article read-only (a draft, a retired or a missing one is not found)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy import Connection

from mailgate.clock import Clock
from mailgate.config.settings import Settings
from mailgate.core.kb.model import ArticleState, DocKind, Hit
from mailgate.core.workflow import messages
from mailgate.store import kb, kb_articles
from mailgate.web.desk_auth import HEADERS, DeskAuth, to_sign_in

HITS = 20  # hits a search lists
MAX_QUERY = 200  # characters of the search box read


def found(conn: Connection, words: str) -> list[Hit]:
    """The published articles and the resolved tickets most like `words`, best score first (a draft is not
    listed: its page is not shown)."""
    articles = kb.search(conn, words, limit=HITS, kind=DocKind.ARTICLE, published_only=True)
    tickets = kb.search(conn, words, limit=HITS, kind=DocKind.TICKET)
    return sorted(articles + tickets, key=lambda h: -h.score)[:HITS]


def published(conn: Connection) -> list[kb_articles.Article]:
    """The published articles, the latest published first."""
    return sorted(kb_articles.listed(conn, ArticleState.PUBLISHED),
                  key=lambda a: (a.published_at or a.updated_at, a.number), reverse=True)


def one_published(conn: Connection, number: int) -> kb_articles.Article | None:
    try:
        article = kb_articles.get(conn, number)
    except kb_articles.ArticleMissing:
        return None
    return article if article.state is ArticleState.PUBLISHED else None


def _day(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d}" if at is not None else ""


class DeskKb:
    def __init__(self, settings: Settings, auth: DeskAuth, env: jinja2.Environment, text: dict[str, str],
                 clock: Clock) -> None:
        self.settings, self.auth, self.env, self.text, self.clock = settings, auth, env, text, clock
        self.locale = settings.gateway.locale if settings.gateway.locale in messages.TYPE_LABELS else "en"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/desk/kb", self.search)
        app.router.add_get("/desk/kb/{article:[1-9][0-9]{0,8}}", self.article)

    def _page(self, name: str, who: str, **values: Any) -> web.Response:
        html = self.env.get_template(name).render(t=self.text, who=who, **values)
        return web.Response(text=html, content_type="text/html", headers=HEADERS)

    async def search(self, request: web.Request) -> web.StreamResponse:
        who = await self.auth.who(request)
        if who is None:
            to_sign_in("not signed in", request)  # raises
        q = request.query.get("q", "").strip()[:MAX_QUERY]
        if not q:
            articles = [{"number": a.number, "title": a.text.title, "published": _day(a.published_at)}
                        for a in await self.auth.db.read(published)]
            return self._page("desk_kb.html.j2", who, q="", hits=[], articles=articles)
        hits = [{"label": h.label, "title": h.title, "summary": h.summary, "score": round(h.score * 100),
                 "kind": h.kind.value,
                 "href": f"/desk/t/{h.ref}" if h.kind is DocKind.TICKET else f"/desk/kb/{h.ref}"}
                for h in await self.auth.db.read(found, q)]
        return self._page("desk_kb.html.j2", who, q=q, hits=hits, articles=[])

    async def article(self, request: web.Request) -> web.StreamResponse:
        who = await self.auth.who(request)
        if who is None:
            to_sign_in("not signed in", request)  # raises
        article = await self.auth.db.read(one_published, int(request.match_info["article"]))
        if article is None:
            raise web.HTTPNotFound(text=self.text["no_article"], headers=HEADERS)
        text = article.text
        return self._page(
            "desk_kb_article.html.j2", who, number=article.number, title=text.title, symptoms=text.symptoms,
            resolution=text.resolution, tags=list(text.tags), ticket=article.ticket_id,
            type=messages.TYPE_LABELS[self.locale][text.type] if text.type else "",
            published=_day(article.published_at), version=article.version)
