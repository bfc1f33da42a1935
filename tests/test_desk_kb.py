"""The knowledge base on the supervisors' dashboard: /desk/kb searches the resolved tickets and the published
articles (plurals and accents folded) or lists the published articles, /desk/kb/N shows a published article
read-only and escaped; a draft is not found, and nothing is shown to anyone not signed in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from mailgate.core.kb.model import ArticleState
from mailgate.store import kb_articles
from mailgate.store.tables import outbox
from mailgate.web.status import StatusServer
from tests.conftest import SmartHostSink, read, running, write
from tests.test_dashboard import CUSTOMER, Clock, Desk, _settings, refusals

ALICE = "alice@example.test"


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    clock = Clock()
    async with running(_settings(db_url, smart_host.port, tmp_path, web=False)) as daemon:
        settings = _settings(db_url, smart_host.port, tmp_path, web=True)
        pages = StatusServer(settings, clock)
        await pages.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Desk(settings, pages, http, clock, daemon.smtp_port)
        finally:
            await pages.close()


async def _page(desk: Desk, path: str, cookie: str) -> tuple[int, str]:
    async with desk.http.get(desk.base + path, headers={"Cookie": f"mailgate_desk={cookie}"},
                             allow_redirects=False) as response:
        return response.status, await response.text()


async def _resolved_ticket(desk: Desk) -> None:
    """Ticket #1, a printer off line, answered by Alice with `résolu`: indexed as it is answered."""
    await desk.send(CUSTOMER, "Bonjour, l'imprimante du deuxième étage est hors ligne depuis ce matin.",
                    subject="Imprimante <script>alert(1)</script> hors ligne")

    def notice(conn: Any) -> str:
        return str(conn.execute(sa.select(outbox.c.message_id).where(outbox.c.kind == "notify_new")).scalar_one())

    await desk.send(ALICE, "prendre\nrésolu\n\nLe pilote a été réinstallé & le spouleur <b>relancé</b>.",
                    reply_to=await read(desk.settings, notice))


def _article(conn: Any, ticket_id: int, title: str, publish: bool) -> int:
    now = datetime.now(UTC)
    number = kb_articles.draft_from_ticket(conn, ticket_id, title=title, by=ALICE, agents=[ALICE], now=now)
    if publish:
        kb_articles.set_state(conn, number, ArticleState.PUBLISHED, by=ALICE, now=now)
    return number


async def test_published_articles_are_searched_listed_and_shown_escaped(desk: Desk) -> None:
    await _resolved_ticket(desk)
    published = await write(desk.settings, _article, 1, "Imprimante <script>x()</script> hors ligne", True)
    draft = await write(desk.settings, _article, 1, "Brouillon imprimante", False)
    cookie = await desk.sign_in()

    status, home = await _page(desk, "/desk/", cookie)
    assert status == 200 and 'href="/desk/kb"' in home  # in the desk's navigation

    status, listing = await _page(desk, "/desk/kb", cookie)  # no words: the published articles
    assert status == 200 and 'name="q"' in listing and "Base de connaissances" in listing
    assert f'data-article="{published}"' in listing and f'data-article="{draft}"' not in listing
    assert "<script>" not in listing and "&lt;script&gt;x()&lt;/script&gt;" in listing

    status, hits = await _page(desk, "/desk/kb?q=imprimantes+etage", cookie)  # plural, no accent
    assert status == 200 and f'href="/desk/kb/{published}">KB-{published}</a>' in hits
    assert 'href="/desk/t/1">#1</a>' in hits  # the resolved ticket too, on its dashboard page
    assert f'href="/desk/kb/{draft}"' not in hits  # a draft is not listed
    assert re.search(r"<td>\d{1,3} %</td>", hits) and "<script>" not in hits
    assert 'value="imprimantes etage"' in hits
    status, none = await _page(desk, "/desk/kb?q=zzzqqq", cookie)
    assert status == 200 and "Rien ne correspond." in none
    status, hostile = await _page(desk, "/desk/kb?q=%22%3E%3Cscript%3E", cookie)
    assert status == 200 and "<script>" not in hostile and "&#34;&gt;&lt;script&gt;" in hostile

    status, page = await _page(desk, f"/desk/kb/{published}", cookie)
    assert status == 200
    assert "&lt;script&gt;x()&lt;/script&gt;" in page and "<script>" not in page
    resolution = re.search(r'<pre id="resolution">(.*?)</pre>', page, re.S)
    assert resolution is not None and "pilote a été réinstallé &amp; le spouleur &lt;b&gt;relancé&lt;/b&gt;" in (
        resolution.group(1))
    assert "deuxième étage" in page and 'id="from-ticket" href="/desk/t/1"' in page
    assert f'id="published">{datetime.now(UTC):%Y-%m-%d}' in page

    assert (await _page(desk, f"/desk/kb/{draft}", cookie))[0] == 404
    assert (await _page(desk, "/desk/kb/999", cookie))[0] == 404


async def test_a_retired_article_is_neither_shown_nor_found(desk: Desk) -> None:
    await _resolved_ticket(desk)
    number = await write(desk.settings, _article, 1, "Imprimante hors ligne", True)

    def retire(conn: Any) -> None:
        kb_articles.set_state(conn, number, ArticleState.RETIRED, by=ALICE, now=datetime.now(UTC))

    await write(desk.settings, retire)
    cookie = await desk.sign_in()
    assert (await _page(desk, f"/desk/kb/{number}", cookie))[0] == 404
    status, hits = await _page(desk, "/desk/kb?q=imprimante", cookie)
    assert status == 200 and f'href="/desk/kb/{number}"' not in hits
    assert f'data-article="{number}"' not in (await _page(desk, "/desk/kb", cookie))[1]


async def test_the_knowledge_base_is_for_signed_in_supervisors_only(desk: Desk) -> None:
    await _resolved_ticket(desk)
    number = await write(desk.settings, _article, 1, "Imprimante hors ligne", True)
    with capture_logs() as logs:
        for path in ("/desk/kb", "/desk/kb?q=imprimante", f"/desk/kb/{number}"):
            response = await desk.get(path)
            assert response.status == 303 and response.headers["Location"] == "/desk/login"
            assert (await desk.get(path, "not-a-session")).status == 303
    assert refusals(logs) == ["not signed in"] * 6
