"""The requesters' status pages ([web], issue 13): the signed token, the page and its JSON poll fetched with
aiohttp's client from a running daemon's database, forged links refused, the link in the mails to requesters."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from structlog.testing import capture_logs

from mailgate.config.settings import Settings, from_dict
from mailgate.core import status_link
from mailgate.daemon import Daemon
from mailgate.outbound.render import REQUIRED, SAMPLE_CONTEXT, Renderer
from mailgate.store import tickets
from mailgate.store.tables import inbound_mail, outbox
from mailgate.web.status import NOT_FOUND, StatusServer
from tests.conftest import SECRET, SmartHostSink, read, running, settings_data, smtp_send, until

CUSTOMER = "fabrice@client.example"
COLLEAGUE = "julie@client.example"
BOSS = "boss@client.example"
BASE = "https://help.example.test/support"
KEY = SECRET.encode()
CUSTOMER_FACING = ("ack", "relay", "resolution", "estimate_request", "keyword_help", "auto_closed", "merged",
                   "answer_received")


# ---------------------------------------------------------------- the token (core, pure)

def test_the_token_opens_one_ticket_for_one_requester_under_one_secret() -> None:
    token = status_link.make_token(88, CUSTOMER, KEY)
    assert len(token) == 24 and token == status_link.make_token(88, " Fabrice@Client.Example ", KEY)
    assert status_link.verify_token(88, CUSTOMER, token, KEY)
    assert status_link.verify_token(88, CUSTOMER.upper(), token, KEY)
    assert not status_link.verify_token(89, CUSTOMER, token, KEY)  # another ticket
    assert not status_link.verify_token(88, COLLEAGUE, token, KEY)  # another requester
    assert not status_link.verify_token(88, CUSTOMER, token, b"a new secret, every link revoked")
    assert status_link.link(BASE + "/", 88, CUSTOMER, KEY) == f"{BASE}/t/88/{token}"
    # a Message-ID's signature of the same ticket is no token (the prefix separates the two)
    assert status_link.make_token(88, "", KEY) != status_link.make_token(88, "x", KEY)


def flipped(token: str, bit: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token))
    raw[bit // 8] ^= 1 << (bit % 8)
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("bit", [0, 7, 70, 143])
def test_a_flipped_bit_is_refused(bit: int) -> None:
    token = status_link.make_token(88, CUSTOMER, KEY)
    assert not status_link.verify_token(88, CUSTOMER, flipped(token, bit), KEY)


@pytest.mark.parametrize("ticket, requester, token", [
    (88, CUSTOMER, ""), (88, CUSTOMER, "garbage"), (88, CUSTOMER, "A" * 24), (88, CUSTOMER, "é" * 24),
    (88, CUSTOMER, "A" * 23 + "."), (88, CUSTOMER, "A" * 2000), (88, CUSTOMER, None), (88, CUSTOMER, b"A" * 24),
    (88, CUSTOMER, 12), (True, CUSTOMER, "A" * 24), (0, CUSTOMER, "A" * 24), (-88, CUSTOMER, "A" * 24),
    (10**12, CUSTOMER, "A" * 24), ("88", CUSTOMER, "A" * 24), (88, None, "A" * 24), (88, "", "A" * 24),
    (88, "\udcff@x", "A" * 24), (None, None, None),
])
def test_verification_is_total(ticket: Any, requester: Any, token: Any) -> None:
    assert status_link.verify_token(ticket, requester, token, KEY) is False


def test_every_customer_facing_template_prints_the_link_only_when_given(tmp_path: Path) -> None:
    settings = from_dict(settings_data("sqlite:///x.sqlite3", 1))
    renderer = Renderer(settings.templates_dir)
    assert renderer.check() == []  # `mailgate check`: status_url None
    for locale, line in (("fr", "Suivre votre demande : "), ("en", "Follow your request: ")):
        for name in CUSTOMER_FACING:
            url = f"{BASE}/t/88/{'A' * 24}"
            context = {**REQUIRED[name], **SAMPLE_CONTEXT}
            assert line + url in renderer.render(name, locale, {**context, "status_url": url}), (locale, name)
            assert line.strip() not in renderer.render(name, locale, context), (locale, name)


# ---------------------------------------------------------------- a desk, its mails, its status server

def _settings(db_url: str, port: int, tmp_path: Path, *, web: bool = True, locale: str = "fr") -> Settings:
    data = settings_data(db_url, port)
    data["gateway"]["locale"] = locale
    data["agents"] = [{"email": "alice@example.test", "name": "Alice Martin", "level": 1},
                      {"email": "bruno@example.test", "name": "Bruno Durand", "level": 2}]
    data["customers"] = [{"name": "Client SA", "domains": ["client.example"], "approvers": [BOSS]}]
    data["web"] = {"enabled": web, "host": "127.0.0.1", "port": 0, "base_url": BASE}
    return from_dict(data, str(tmp_path / "config.toml"))


@dataclass
class Desk:
    daemon: Daemon
    settings: Settings
    pages: StatusServer
    http: aiohttp.ClientSession
    counter: int = 0

    async def send(self, sender: str, body: str, *, subject: str = "Re: demande", reply_to: str | None = None) -> None:
        self.counter += 1
        mid = f"m{self.counter}.{sender.replace('@', '.')}@test"
        thread = f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n" if reply_to else ""
        raw = (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
               f"{thread}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
        await smtp_send(self.daemon.smtp_port, raw, sender=sender)

        def done(conn: Any) -> bool:
            row = conn.execute(sa.select(inbound_mail.c.status).where(inbound_mail.c.message_id == mid)).first()
            return row is not None and row.status != "received"

        await until(lambda: read(self.settings, done), what=f"mail {mid} processed")

    async def last(self, kind: str, to: str) -> dict[str, Any]:
        """Our latest queued mail of `kind` to `to`: its Message-ID and text."""
        def go(conn: Any) -> list[Any]:
            return list(conn.execute(sa.select(outbox).where(outbox.c.kind == kind).order_by(outbox.c.id)))

        rows = [r for r in await read(self.settings, go) if to in r.envelope_to]
        assert rows, f"no {kind} mail to {to}"
        msg = message_from_bytes(rows[-1].raw, policy=default)
        body = msg.get_body(("plain",))
        assert body is not None
        return {"message_id": rows[-1].message_id, "text": body.get_content()}

    async def newest_ticket(self) -> int:
        return max(t["id"] for t in await read(self.settings, tickets.list_all))

    def url(self, ticket: int, token: str) -> str:
        return f"http://127.0.0.1:{self.pages.port}/t/{ticket}/{token}"

    async def get(self, path: str) -> tuple[int, str, Any]:
        async with self.http.get(f"http://127.0.0.1:{self.pages.port}{path}") as response:
            return response.status, await response.text(), response.headers

    async def page(self, ticket: int, requester: str = CUSTOMER) -> str:
        async with self.http.get(self.url(ticket, status_link.make_token(ticket, requester, KEY))) as response:
            assert response.status == 200 and response.content_type == "text/html"
            assert response.headers["Referrer-Policy"] == "no-referrer" and "no-store" in response.headers[
                "Cache-Control"]
            return await response.text()

    async def poll(self, ticket: int) -> dict[str, Any]:
        async with self.http.get(self.url(ticket, status_link.make_token(ticket, CUSTOMER, KEY) + ".json")) as r:
            assert r.status == 200 and r.content_type == "application/json"
            data: dict[str, Any] = await r.json()
            return data


@asynccontextmanager
async def open_desk(settings: Settings) -> AsyncIterator[Desk]:
    async with running(settings) as daemon:
        own = daemon.status_pages is None  # [web] enabled: the daemon's listener serves the pages itself
        pages = StatusServer(settings) if own else daemon.status_pages
        assert pages is not None
        if own:
            await pages.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Desk(daemon, settings, pages, http)
        finally:
            if own:
                await pages.close()


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    async with open_desk(_settings(db_url, smart_host.port, tmp_path)) as d:
        yield d


async def opened(desk: Desk, title: str, body: str, sender: str = CUSTOMER) -> tuple[int, str]:
    """A new ticket from `sender`; its number and the Message-ID of the notice to the N1 consultant."""
    await desk.send(sender, body, subject=title)
    number = await desk.newest_ticket()
    return number, (await desk.last("notify_new", "alice@example.test"))["message_id"]


# ---------------------------------------------------------------- the page

async def test_the_page_shows_what_the_requester_may_see_and_nothing_else(desk: Desk) -> None:
    number, notice = await opened(desk, "Nouveau champ <script>alert(1)</script>",
                                  "Bonjour, il manque la colonne TVA dans l'export.")
    ack = await desk.last("ack", CUSTOMER)
    await desk.send("alice@example.test", "prendre\n\nBonjour Fabrice, je regarde l'export.", reply_to=notice)
    await desk.send("alice@example.test", "interne\n\nNOTE-SECRETE : client pénible, ne pas relancer.",
                    reply_to=notice)
    await desk.send("mallory@evil.example", "MALLORY-TEXT: log in at http://evil.example", reply_to=ack["message_id"])
    html = await desk.page(number)
    stored = await read(desk.settings, tickets.detail, number)
    assert any("MALLORY" in m["text"] for m in stored["messages"])
    assert any("NOTE-SECRETE" in m["text"] for m in stored["messages"])
    assert "MALLORY" not in html  # a stranger's mail on the thread
    assert "<dd id=\"status\" data-k=\"status_label\">En cours</dd>" in html
    assert "par Alice" in html and "Martin" not in html  # the first name only
    assert "il manque la colonne TVA" in html and "je regarde l&#39;export" in html and "Nous avons bien reçu" in html
    assert "NOTE-SECRETE" not in html  # an internal note
    assert "Nouveau ticket" not in html and "&gt; prendre" not in html  # the notice and the transcript
    assert "@example.test" not in html  # no consultant's (nor our own) address
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert f"Suivre votre demande : {BASE}/t/{number}/" in ack["text"]

    # an évolution: N2 takes it and sends an estimate; the page says what to answer
    await desk.send("alice@example.test", "type évolution", reply_to=notice)
    to_bruno = await desk.last("notify_escalated", "bruno@example.test")
    await desk.send("bruno@example.test", "prendre\nchiffrage 1500 € 3j\n\nVoici notre proposition.",
                    reply_to=to_bruno["message_id"])
    html = await desk.page(number)
    assert "En attente validation chiffrage" in html and ">N2<" in html and "évolution applicative" in html
    assert "par Bruno" in html and "Durand" not in html and "@example.test" not in html
    assert "Un chiffrage attend votre validation" in html and "Montant : 1\u00a0500 EUR HT" in html
    assert "Charge : 3 jours" in html and "<code data-k=\"awaiting.yes\">ACCEPTE</code>" in html
    assert "<code data-k=\"awaiting.no\">REFUSE</code>" in html and "Voici notre proposition." in html
    assert "NOTE-SECRETE" not in html

    # the JSON the page polls: the same data; the approval shows at the next poll
    data = await desk.poll(number)
    assert (data["ticket"], data["status"], data["status_label"], data["level"], data["assignee"]) == (
        number, "awaiting_estimate_approval", "En attente validation chiffrage", "N2", "Bruno")
    assert (data["awaiting"]["kind"], data["awaiting"]["yes"], data["awaiting"]["no"]) == (
        "estimate_request", "ACCEPTE", "REFUSE")
    assert [m["direction"] for m in data["messages"]] == ["in", "out", "out", "out"]  # mail, ack, relay, estimate
    assert data["messages"][0]["from"] == "Vous" and "NOTE-SECRETE" not in str(data)
    estimate = await desk.last("estimate_request", CUSTOMER)
    await desk.send(CUSTOMER, "ACCEPTE\nAllez-y.", reply_to=estimate["message_id"])
    data = await desk.poll(number)
    assert (data["status_label"], data["awaiting"]) == ("En cours de réalisation", None)
    assert data["messages"][-2]["text"].startswith("ACCEPTE") and "accepté par" in data["messages"][-1]["text"]
    assert "@example.test" not in str(data)


async def test_a_merged_ticket_says_where_it_went_and_a_colleague_s_mail_shows(desk: Desk) -> None:
    first, _ = await opened(desk, "Accès VPN", "Le VPN refuse ma connexion.")
    second, notice = await opened(desk, "VPN toujours bloqué", "Toujours pas de VPN.")
    await desk.send(COLLEAGUE, "Chez moi aussi.", subject=f"Re: [#{second}] VPN",
                    reply_to=(await desk.last("ack", CUSTOMER))["message_id"])
    await desk.send("alice@example.test", f"fusionner #{first}", reply_to=notice)
    data = await desk.poll(second)
    assert (data["merged_into"], data["merged"], data["status_label"]) == (
        first, f"Fusionnée dans la demande #{first}", "Fermé")
    assert "Toujours pas de VPN." in str(data) and "Le VPN refuse" not in str(data)  # not the other ticket's
    assert [m["from"] for m in data["messages"] if m["direction"] == "in"] == ["Vous", COLLEAGUE]
    assert f"sous le numéro #{first}" in data["messages"][-1]["text"]  # the merged mail
    assert f"Fusionnée dans la demande #{first}" in await desk.page(second)
    assert "Le VPN refuse" in await desk.page(first)


async def test_forged_foreign_or_missing_tokens_get_the_same_404(desk: Desk) -> None:
    number, _ = await opened(desk, "Imprimante", "L'imprimante est hors ligne.")
    other, _ = await opened(desk, "Écran", "Mon écran clignote.", sender=COLLEAGUE)
    token = status_link.make_token(number, CUSTOMER, KEY)
    assert (await desk.get(f"/t/{number}/{token}"))[0] == 200
    forged = {
        "a flipped bit": f"/t/{number}/{flipped(token, 77)}",
        "another ticket's token": f"/t/{number}/{status_link.make_token(other, COLLEAGUE, KEY)}",
        "another requester's token": f"/t/{number}/{status_link.make_token(number, COLLEAGUE, KEY)}",
        "the other ticket with this token": f"/t/{other}/{token}",
        "another secret": f"/t/{number}/{status_link.make_token(number, CUSTOMER, b'another-secret-0123456789')}",
        "garbage": f"/t/{number}/garbage", "long garbage": f"/t/{number}/{'A' * 5000}",
        "non-ascii": f"/t/{number}/{'é' * 24}", "missing": f"/t/{number}/", "missing, no slash": f"/t/{number}",
        "no such ticket": f"/t/99999/{status_link.make_token(99999, CUSTOMER, KEY)}",
        "not a number": f"/t/0{number}/{token}", "elsewhere": "/", "dots": f"/t/{number}/..%2F..%2Fetc",
    }
    with capture_logs() as logs:
        for what, path in forged.items():
            for suffix in ("", ".json"):
                status, body, headers = await desk.get(path + suffix)
                assert (status, body) == (404, NOT_FOUND), (what, suffix)
                assert headers["Server"] == "mailgate"
    refusals = [e for e in logs if e["event"] == "status link refused"]
    assert len(refusals) == 2 * len(forged) and {e["log_level"] for e in refusals} == {"info"}
    assert {e["reason"] for e in refusals} >= {"bad token", "no such ticket", "no such page", "not a ticket number"}
    assert not any(token in str(e) for e in refusals)
    assert (await desk.get(f"/t/{other}/{status_link.make_token(other, COLLEAGUE, KEY)}.json"))[0] == 200


@pytest.mark.parametrize("web_enabled, locale", [(True, "en"), (False, "fr")])
async def test_the_link_is_in_the_mails_to_the_requester_only_when_enabled(
        db_url: str, smart_host: SmartHostSink, tmp_path: Path, web_enabled: bool, locale: str) -> None:
    settings = _settings(db_url, smart_host.port, tmp_path, web=web_enabled, locale=locale)
    async with open_desk(settings) as desk:
        number, notice = await opened(desk, "Printer", "The printer is offline.")
        await desk.send("alice@example.test", "take\n\nHello, I am looking at it.", reply_to=notice)
        ack, relay = await desk.last("ack", CUSTOMER), await desk.last("relay", CUSTOMER)
        to_alice = await desk.last("transcript", "alice@example.test")
        link = status_link.link(BASE, number, CUSTOMER, KEY)
        line = "Follow your request: " if locale == "en" else "Suivre votre demande : "
        if not web_enabled:
            assert line.strip() not in ack["text"] and "/t/" not in ack["text"] + relay["text"]
            return
        assert line + link in ack["text"] and line + link in relay["text"]
        assert "/t/" not in to_alice["text"] and "/t/" not in (await desk.last("notify_new", "alice@example.test"))[
            "text"]
        html = await desk.page(number)  # the mail's link, served (the proxy in front strips BASE's path)
        assert '<html lang="en">' in html and "In progress" in html and "by Alice" in html
        assert "Taken in hand" in html and "Hello, I am looking at it." in html and "You" in html


# ---------------------------------------------------------------- the page's script, in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str) -> str:
    """The DOM after 20 s of the page's virtual time (its 15 s poll included), by headless Chromium."""
    done = subprocess.run([CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                           "--disable-dev-shm-usage", "--no-first-run", "--virtual-time-budget=20000",
                           "--dump-dom", url], capture_output=True, timeout=90, check=True)
    return done.stdout.decode()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium)")
async def test_the_page_script_shows_the_next_poll_in_a_browser(desk: Desk) -> None:
    number, notice = await opened(desk, "Imprimante", "L'imprimante est hors ligne.")
    path = f"/t/{number}/{status_link.make_token(number, CUSTOMER, KEY)}"
    before = await desk.page(number)  # as the requester opened it: Ouvert, not taken
    await desk.send("alice@example.test", "prendre\n\nBonjour, je regarde <b>ça</b>.", reply_to=notice)

    async def as_opened(request: web.Request) -> web.Response:  # the page then, the real JSON now
        return web.Response(text=before, content_type="text/html")

    async def forward(request: web.Request) -> web.Response:
        async with desk.http.get(desk.url(number, request.match_info["token"])) as answer:
            return web.Response(body=await answer.read(), status=answer.status, content_type=answer.content_type)

    app = web.Application()
    app.router.add_get(path, as_opened)
    app.router.add_get(f"/t/{number}/{{token}}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        dom = await asyncio.to_thread(dump_dom, f"http://127.0.0.1:{port}{path}")
    finally:
        await runner.cleanup()
    assert 'data-k="status_label">Ouvert<' in before and "je regarde" not in before
    assert 'data-k="status_label">En cours<' in dom and 'data-k="handled">par Alice<' in dom
    assert "Bonjour, je regarde &lt;b&gt;ça&lt;/b&gt;." in dom and "<b>ça</b>" not in dom  # text, never markup
    assert dom.count('class="msg ') == 3  # the request, the ack, the answer
