"""Shell, command line: `kb list|show|search|publish|retire|reindex`: the knowledge base's articles and its
search index (docs/kb.md)."""

from __future__ import annotations

import json
from typing import Any

import click

from mailgate.cli.common import change, fail, query, settings_of
from mailgate.clock import utcnow


@click.group()
def kb() -> None:
    """The knowledge base: articles and the search over resolved tickets."""


@kb.command("list")
@click.option("--state", type=click.Choice(["draft", "published", "retired"]), default=None,
              help="Only the articles in this state.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def kb_list(ctx: click.Context, state: str | None, as_json: bool) -> None:
    """List the articles, oldest first."""
    from mailgate.core.kb.model import ArticleState
    from mailgate.store import kb_articles

    found = query(ctx, kb_articles.listed, ArticleState(state) if state else None)
    if as_json:
        click.echo(json.dumps([a.json() for a in found], ensure_ascii=False, indent=2))
        return
    if not found:
        click.echo("no article" + (f" {state}" if state else ""))
    for a in found:
        came = f"from #{a.ticket_id}" if a.ticket_id else ""
        click.echo(f"KB-{a.number:<5} {a.state.value:<10} v{a.version:<3} {came:<10} {a.text.title}")


@kb.command("show")
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_context
def kb_show(ctx: click.Context, number: int, as_json: bool) -> None:
    """Show one article (KB-NUMBER) with its versions."""
    from mailgate.store import kb_articles

    def full(conn: Any) -> dict[str, Any] | None:
        try:
            shown = kb_articles.get(conn, number).json()
        except kb_articles.ArticleMissing:
            return None
        shown["versions"] = kb_articles.versions(conn, number)
        return shown

    a = query(ctx, full)
    if a is None:
        fail(f"no article KB-{number}", 1)
    if as_json:
        click.echo(json.dumps(a, ensure_ascii=False, indent=2))
        return
    click.echo(f"KB-{a['number']} {a['title']}\n  {a['state']}, version {a['version']}, type {a['type'] or '-'}, "
               f"tags {', '.join(a['tags']) or '-'}, from ticket {('#' + str(a['ticket'])) if a['ticket'] else '-'}"
               f"\n\nSymptoms:\n{a['symptoms']}\n\nResolution:\n{a['resolution']}\n\nversions:")
    for v in a["versions"]:
        click.echo(f"  v{v['version']} {v['at']} {v['state']} by {v['by']}")


@kb.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--published", is_flag=True, help="Only published articles (what customers may be shown).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def kb_search(ctx: click.Context, words: tuple[str, ...], limit: int, published: bool, as_json: bool) -> None:
    """Search resolved tickets and articles, nearest first."""
    from mailgate.core.kb.model import DocKind
    from mailgate.store import kb as index

    text = " ".join(words)
    hits = query(ctx, lambda conn: index.search(conn, text, limit=limit, published_only=published,
                                                kind=DocKind.ARTICLE if published else None))
    if as_json:
        click.echo(json.dumps([hit_json(h) for h in hits], ensure_ascii=False, indent=2))
        return
    if not hits:
        click.echo(f"nothing found for {text!r}")
    for h in hits:
        click.echo(f"{h.label:<8} {round(h.score * 100):>3} %  {h.title}\n         {h.summary}")


def hit_json(h: Any) -> dict[str, Any]:
    return {"label": h.label, "kind": h.kind.value, "number": h.ref, "title": h.title, "summary": h.summary,
            "score": round(h.score, 3), "type": h.type.value if h.type else None, "level": h.level,
            "published": h.published}


def _set_state(ctx: click.Context, number: int, state: str, by: str) -> None:
    from mailgate.core.kb.model import ArticleState
    from mailgate.store import kb_articles

    try:
        a = change(ctx, lambda conn: kb_articles.set_state(conn, number, ArticleState(state), by=by, now=utcnow()))
    except kb_articles.ArticleMissing:
        fail(f"no article KB-{number}", 1)
    click.echo(f"KB-{a.number} {a.state.value} (version {a.version}): {a.text.title}")


@kb.command("publish")
@click.argument("number", type=int)
@click.option("--by", default="", help="Who publishes it (recorded in its versions); default: the command line.")
@click.pass_context
def kb_publish(ctx: click.Context, number: int, by: str) -> None:
    """Publish article KB-NUMBER: customers may be shown it ([kb] self_service)."""
    _set_state(ctx, number, "published", by or "command line")


@kb.command("retire")
@click.argument("number", type=int)
@click.option("--by", default="", help="Who retires it (recorded in its versions); default: the command line.")
@click.pass_context
def kb_retire(ctx: click.Context, number: int, by: str) -> None:
    """Retire article KB-NUMBER: it is kept with its versions but no longer found."""
    _set_state(ctx, number, "retired", by or "command line")


@kb.command("reindex")
@click.pass_context
def kb_reindex(ctx: click.Context) -> None:
    """Rebuild the search index: every answered or closed ticket and every article not retired."""
    from mailgate.store import kb as index
    from mailgate.store import kb_articles

    agents = [a.email for a in settings_of(ctx).agents]

    def rebuild(conn: Any) -> tuple[int, int]:
        now = utcnow()
        return index.reindex_tickets(conn, agents, now), kb_articles.reindex(conn, now)

    tickets, articles = change(ctx, rebuild)
    click.echo(f"indexed {tickets} ticket(s) and {articles} article(s)")
