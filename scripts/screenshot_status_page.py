"""Save a PNG of a requester's status page (docs/status_page.md), by headless Chromium (Debian package chromium).

    .venv/bin/python scripts/screenshot_status_page.py [-o status_page.png] [--locale fr|en] [--url URL]

With --url, the page at that address. Without, a demo: a daemon on a temporary SQLite database, a ticket worked
by mail (a request, a consultant's answer, an estimate awaiting approval), and its page served on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mailgate import log  # noqa: E402
from mailgate.config.settings import Settings, from_dict  # noqa: E402
from mailgate.core import status_link  # noqa: E402
from mailgate.daemon import Daemon  # noqa: E402
from mailgate.store.schema import database_for  # noqa: E402
from mailgate.store.tables import inbound_mail, outbox  # noqa: E402

CUSTOMER = "fabrice@client.example"


class Sink:
    """The smart host: accepts every mail."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "250 2.0.0 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def demo_settings(folder: str, locale: str, smart_host_port: int, web_port: int, **extra: Any) -> Settings:
    """A demo daemon's settings: a SQLite file in `folder`, two consultants, the web pages on `web_port`."""
    return from_dict({
        "gateway": {"addresses": ["support@example.test"], "from": "Support <support@example.test>",
                    "locale": locale, "secret": "demo-secret-0123456789abcdef"},
        "database": {"url": f"sqlite:///{folder}/demo.sqlite3"},
        "smtp": {"host": "127.0.0.1", "port": 0},
        "outbound": {"host": "127.0.0.1", "port": smart_host_port, "poll_interval": 0.2},
        "log": {"level": "warning"},
        "agents": [{"email": "alice@example.test", "name": "Alice Martin", "level": 1},
                   {"email": "bruno@example.test", "name": "Bruno Durand", "level": 2}],
        "web": {"enabled": True, "port": web_port},
        **extra,
    }, f"{folder}/config.toml")


def screenshot(url: str, out: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Chromium: apt-get install chromium")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--hide-scrollbars", "--window-size=900,1400", f"--screenshot={out.resolve()}", url],
                   check=True, capture_output=True, timeout=90)
    print(f"{out}: {url}")


def query(settings: Settings, statement: Any) -> list[Any]:
    db = database_for(settings)
    try:
        return db.read_now(lambda conn: list(conn.execute(statement)))
    finally:
        db.close()


async def send(settings: Settings, port: int, sender: str, body: str, n: int, reply_to: str | None = None) -> None:
    mid = f"demo{n}@client.example"
    thread = f"In-Reply-To: <{reply_to}>\r\n" if reply_to else ""
    raw = (f"From: {sender}\r\nTo: support@example.test\r\nSubject: Nouveau champ dans l'export\r\n"
           f"Message-ID: <{mid}>\r\n{thread}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()

    def deliver() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(sender, ["support@example.test"], raw)

    await asyncio.to_thread(deliver)
    for _ in range(500):
        rows = await asyncio.to_thread(query, settings, sa.select(inbound_mail.c.status).where(
            inbound_mail.c.message_id == mid))
        if rows and rows[0].status != "received":
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"mail {mid} not processed")


async def notice(settings: Settings, kind: str, to: str) -> str:
    statement = sa.select(outbox).where(outbox.c.kind == kind).order_by(outbox.c.id)
    rows = await asyncio.to_thread(query, settings, statement)
    return str([r for r in rows if to in r.envelope_to][-1].message_id)


async def demo(out: Path, locale: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        loop = asyncio.get_running_loop()
        sink = await loop.create_server(lambda: SMTP(Sink()), host="127.0.0.1", port=0)
        settings = demo_settings(folder, locale, sink.sockets[0].getsockname()[1], free_port(),  # links name it
                                 customers=[{"name": "Client SA", "domains": ["client.example"]}])
        daemon = Daemon(settings)
        await daemon.start()
        task = asyncio.create_task(daemon.run())
        try:
            port = daemon.smtp_port
            await send(settings, port, CUSTOMER, "Bonjour, il manque la colonne TVA dans l'export mensuel.", 1)
            new = await notice(settings, "notify_new", "alice@example.test")
            await send(settings, port, "alice@example.test", "prendre\ntype évolution\n\nBonjour Fabrice, c'est "
                       "une évolution : Bruno va vous proposer un chiffrage.", 2, new)
            escalated = await notice(settings, "notify_escalated", "bruno@example.test")
            await send(settings, port, "bruno@example.test", "prendre\nchiffrage 1500 € 3j\n\nVoici notre "
                       "proposition : la colonne TVA, avec les totaux par taux.", 3, escalated)
            number = query(settings, sa.select(sa.func.max(inbound_mail.c.ticket_id)))[0][0]
            token = status_link.make_token(number, CUSTOMER, settings.secret)
            url = f"http://127.0.0.1:{settings.web.port}/t/{number}/{token}"  # the daemon serves the pages
            await asyncio.to_thread(screenshot, url, out)
        finally:
            daemon.stop()
            await asyncio.wait_for(task, timeout=15)
            sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("status_page.png"))
    parser.add_argument("--locale", choices=("fr", "en"), default="fr")
    parser.add_argument("--url", help="an existing status page's address (else a demo)")
    args = parser.parse_args()
    log.configure("warning")
    if args.url:
        screenshot(args.url, args.output)
    else:
        asyncio.run(demo(args.output, args.locale))


if __name__ == "__main__":
    main()
