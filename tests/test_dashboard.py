"""The supervisors' dashboard (issue 13): sign-in by a mailed, signed, expiring, single-use link (every other way
refused and logged), the pages behind it (figures, charts, the open work, a ticket's whole history), and the
dashboard read by headless Chromium from a running daemon."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from mailgate.config.settings import Settings, from_dict
from mailgate.core import charts, login_link
from mailgate.store.tables import desk_login, inbound_mail, outbox
from mailgate.web.status import StatusServer
from tests.conftest import SECRET, SmartHostSink, read, running, settings_data, smtp_send, until

KEY = SECRET.encode()
CHIEF = "chloe@example.test"
CUSTOMER = "fabrice@client.example"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+)?/desk/login/(\S+)")


# ---------------------------------------------------------------- the token (core, pure)

def test_a_token_is_made_for_one_address_under_one_secret_and_read_totally() -> None:
    token = login_link.make_token("A" * 22, 1_900_000_000, CHIEF, KEY)
    parsed = login_link.parse(token)
    assert parsed is not None and parsed.nonce == "A" * 22 and parsed.expires == 1_900_000_000
    assert login_link.verify(parsed, CHIEF.upper(), KEY)
    assert not login_link.verify(parsed, "mallory@example.test", KEY)
    assert not login_link.verify(parsed, CHIEF, b"another secret: every link revoked")
    later = login_link.parse(token.replace(".1900000000.", ".1900000001."))  # a later expiry written in
    assert later is not None and not login_link.verify(later, CHIEF, KEY)
    for garbage in ("", "x", token + "x", token[:-1], "é" * 60, None, 12, b"bytes", token.replace(".", "-")):
        assert login_link.parse(garbage) is None


def test_charts_escape_labels_and_carry_each_value() -> None:
    svg = charts.bars([charts.Point(label="<b>Alice</b>", value=90, text="1h30"), charts.Point(label="Bruno", value=0)],
                      title="Temps")
    assert "<b>" not in svg and "&lt;b&gt;Alice&lt;/b&gt;" in svg
    assert re.findall(r'data-value="([^"]+)"', svg) == ["90", "0"] and "1h30" in svg
    assert charts.bars([], title="x") == "" and charts.line([], title="x") == ""
    line = charts.line([charts.Point(label=f"{d:02d}/12", value=d % 4) for d in range(1, 31)], title="Backlog")
    assert line.count('class="point"') == 30 and "01/12" in line and "30/12" in line


# ---------------------------------------------------------------- a desk with a dashboard on a fake clock

@dataclass
class Clock:
    """The real time, moved on by `ahead` (the daemon's worker runs on the real one)."""
    ahead: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


@dataclass
class Desk:
    settings: Settings
    pages: StatusServer
    http: aiohttp.ClientSession
    clock: Clock
    smtp_port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.pages.port}"

    async def get(self, path: str, cookie: str | None = None) -> aiohttp.ClientResponse:
        headers = {"Cookie": f"mailgate_desk={cookie}"} if cookie else {}
        async with self.http.get(self.base + path, allow_redirects=False, headers=headers) as response:
            await response.read()
            return response

    async def ask(self, email: str) -> str:
        async with self.http.post(self.base + "/desk/login", data={"email": email}) as response:
            assert response.status == 200
            return await response.text()

    async def links(self, to: str = CHIEF) -> list[str]:
        def go(conn: Any) -> list[Any]:
            return list(conn.execute(sa.select(outbox.c.raw, outbox.c.envelope_to)
                                     .where(outbox.c.kind == "desk_login").order_by(outbox.c.id)))

        found = []
        for row in await read(self.settings, go):
            if to in row.envelope_to:
                body = message_from_bytes(row.raw, policy=default).get_body(("plain",))
                assert body is not None
                match = LINK.search(body.get_content())
                assert match is not None
                found.append(match.group(2))
        return found

    async def sign_in(self) -> str:
        await self.ask(CHIEF)
        token = (await self.links())[-1]
        response = await self.get(f"/desk/login/{token}")
        assert response.status == 303 and response.headers["Location"] == "/desk/"
        cookie = response.cookies["mailgate_desk"]
        assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/desk"
        return cookie.value

    async def send(self, sender: str, body: str, subject: str = "Demande", reply_to: str | None = None) -> None:
        mid = f"{abs(hash((sender, body)))}@client.test"
        thread = f"In-Reply-To: <{reply_to}>\r\n" if reply_to else ""
        raw = (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
               f"{thread}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
        await smtp_send(self.smtp_port, raw, sender=sender)

        def done(conn: Any) -> bool:
            row = conn.execute(sa.select(inbound_mail.c.status).where(inbound_mail.c.message_id == mid)).first()
            return row is not None and row.status != "received"

        await until(lambda: read(self.settings, done), what="mail processed")


def _settings(db_url: str, port: int, tmp_path: Path, *, web: bool) -> Settings:
    data = settings_data(db_url, port)
    data["agents"] = [{"email": "alice@example.test", "name": "Alice Martin", "level": 1}]
    data["supervisors"] = [{"email": CHIEF, "name": "Chloé Chef"}]
    data["web"] = {"enabled": web, "host": "127.0.0.1", "port": 0}
    return from_dict(data, str(tmp_path / "config.toml"))


@pytest.fixture
async def desk(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    clock = Clock()
    async with running(_settings(db_url, smart_host.port, tmp_path, web=False)) as daemon:
        settings = _settings(db_url, smart_host.port, tmp_path, web=True)
        pages = StatusServer(settings, clock)  # the dashboard on its own clock: links and sessions expire
        await pages.start()
        try:
            async with aiohttp.ClientSession() as http:
                yield Desk(settings, pages, http, clock, daemon.smtp_port)
        finally:
            await pages.close()


def refusals(logs: list[dict[str, Any]]) -> list[str]:
    return [str(e.get("reason")) for e in logs if e["event"] in ("dashboard link refused", "dashboard page refused")]


# ---------------------------------------------------------------- sign-in

async def test_a_supervisor_signs_in_by_the_mailed_link_once(desk: Desk) -> None:
    with capture_logs() as logs:
        assert (await desk.get("/desk/")).headers["Location"] == "/desk/login"  # no session: to the sign-in
        cookie = await desk.sign_in()
        page = await desk.get("/desk/", cookie)
        assert page.status == 200
        token = (await desk.links())[-1]
        again = await desk.get(f"/desk/login/{token}")  # the same link a second time
        assert again.status == 403 and "mailgate_desk" not in again.cookies
    assert refusals(logs) == ["not signed in", "already used"]
    assert not any(token in str(e) for e in logs)  # the token is never logged


async def test_a_stranger_asking_gets_the_same_page_and_no_mail(desk: Desk) -> None:
    with capture_logs() as logs:
        stranger = await desk.ask("mallory@evil.example")
        listed = await desk.ask(CHIEF)
    assert stranger == listed  # nothing tells a listed address from another
    assert await desk.links("mallory@evil.example") == [] and len(await desk.links()) == 1
    assert refusals(logs) == ["not a supervisor"]


def _flip(token: str, part: int) -> str:
    pieces = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(pieces[part] + "=" * (-len(pieces[part]) % 4)))
    raw[0] ^= 1
    pieces[part] = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    return ".".join(pieces)


async def test_forged_expired_and_foreign_links_are_refused_and_logged(desk: Desk) -> None:
    await desk.ask(CHIEF)
    (token,) = await desk.links()
    parsed = login_link.parse(token)
    assert parsed is not None
    other_secret = login_link.make_token(parsed.nonce, parsed.expires, CHIEF, b"not our secret at all, 32 bytes")
    with capture_logs() as logs:
        for forged in (_flip(token, 2), _flip(token, 0), other_secret, token[:-2], "garbage"):
            response = await desk.get(f"/desk/login/{forged}")
            assert response.status == 403 and "mailgate_desk" not in response.cookies
        desk.clock.ahead += timedelta(minutes=16)  # past [web] login_link_minutes (15)
        assert (await desk.get(f"/desk/login/{token}")).status == 403
    assert refusals(logs) == ["bad signature", "unknown link", "bad signature", "not a sign-in link",
                              "not a sign-in link", "expired"]


async def test_sessions_expire_and_end_at_sign_out_and_links_are_limited_per_hour(desk: Desk) -> None:
    cookie = await desk.sign_in()
    assert (await desk.get("/desk/queue", cookie)).status == 200
    async with desk.http.post(desk.base + "/desk/logout", headers={"Cookie": f"mailgate_desk={cookie}"},
                              allow_redirects=False) as out:
        assert out.status == 303
    assert (await desk.get("/desk/queue", cookie)).status == 303  # signed out
    cookie = await desk.sign_in()
    desk.clock.ahead += timedelta(hours=12, minutes=1)  # past [web] session_hours
    assert (await desk.get("/desk/", cookie)).status == 303
    for _ in range(6):
        await desk.ask(CHIEF)
    def issued(conn: Any) -> int:
        return int(conn.execute(sa.select(sa.func.count()).select_from(desk_login)).scalar_one())
    assert await read(desk.settings, issued) == 2 + 5  # two sign-ins 12 h ago; this hour five, the sixth refused


# ---------------------------------------------------------------- the pages

async def test_the_pages_show_the_figures_the_open_work_and_a_tickets_whole_history(desk: Desk) -> None:
    await desk.send(CUSTOMER, "L'imprimante du 2e est hors ligne.", subject="Imprimante <hors ligne>")

    def notice(conn: Any) -> str:
        return str(conn.execute(sa.select(outbox.c.message_id).where(outbox.c.kind == "notify_new")).scalar_one())

    await desk.send("alice@example.test", "interne\n\nNOTE-INTERNE : le pilote date de 2019.",
                    reply_to=await read(desk.settings, notice))
    cookie = await desk.sign_in()
    async with desk.http.get(desk.base + "/desk/", headers={"Cookie": f"mailgate_desk={cookie}"}) as r:
        home = await r.text()
    assert re.search(r'id="backlog"><b>1</b>', home) and re.search(r'id="created"><b>1</b>', home)
    assert home.count('class="point"') >= 30  # the backlog's 30 days
    async with desk.http.get(desk.base + "/desk/queue", headers={"Cookie": f"mailgate_desk={cookie}"}) as r:
        queue = await r.text()
    assert 'data-ticket="1"' in queue and "Imprimante &lt;hors ligne&gt;" in queue
    async with desk.http.get(desk.base + "/desk/t/1", headers={"Cookie": f"mailgate_desk={cookie}"}) as r:
        ticket = await r.text()
    assert "NOTE-INTERNE" in ticket and 'class="message in internal"' in ticket
    assert 'data-kind="internal_note"' in ticket and "<hors" not in ticket


# ---------------------------------------------------------------- in a real browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian package chromium)")
async def test_chromium_signs_in_by_the_link_and_reads_the_dashboard(desk: Desk) -> None:
    await desk.send(CUSTOMER, "Le VPN ne se connecte plus.", subject="VPN")
    await desk.ask(CHIEF)
    (token,) = await desk.links()

    def dom(url: str) -> str:
        done = subprocess.run([CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu",
                               "--disable-dev-shm-usage", "--no-first-run", "--dump-dom", url],
                              capture_output=True, timeout=90, check=True)
        return done.stdout.decode()

    page = await asyncio.to_thread(dom, f"{desk.base}/desk/login/{token}")  # the link, then its redirect
    assert f"{CHIEF}</span>" in page and 'id="backlog"><b>1</b>' in page
    assert page.count("<svg") >= 3 and 'data-value="1"' in page


def test_supervisors_are_one_list_and_the_old_key_still_counts_with_a_warning(tmp_path: Path) -> None:
    from mailgate.config import checks
    from mailgate.config.desk import desk_of

    data = settings_data("sqlite://", 25)
    data["supervisors"] = [{"email": "Chloe@Example.test", "name": "Chloé Chef"}]
    data["sla"] = {"supervisors": ["chloe@example.test", "old@example.test"]}
    settings = from_dict(data, str(tmp_path / "config.toml"))
    assert [(s.email, s.name) for s in settings.supervisor_list] == [(CHIEF, "Chloé Chef"), ("old@example.test", "")]
    assert desk_of(settings).supervisors == (CHIEF, "old@example.test")  # the breach notices' list
    assert any("sla.supervisors: deprecated" in w for w in checks.warnings(settings))
    del data["sla"]
    assert not any("sla.supervisors" in w for w in checks.warnings(from_dict(data, str(tmp_path / "c.toml"))))
