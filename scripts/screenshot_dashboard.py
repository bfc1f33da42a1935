"""Save PNGs of the supervisors' dashboard (docs/dashboard.md): overview, open work and one ticket, by headless
Chromium (Debian package chromium), signed in through a real mailed sign-in link.

    .venv/bin/python scripts/screenshot_dashboard.py [-o folder] [--locale fr|en]

A demo: a daemon on a temporary SQLite database, a few tickets worked by mail (scripts/screenshot_status_page.py's
helpers), a supervisor asking for a link, the link read from the outbox and opened in one Chromium profile.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import sqlalchemy as sa
from aiosmtpd.smtp import SMTP

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screenshot_status_page import CUSTOMER, Sink, demo_settings, free_port, notice, query, send  # noqa: E402

from mailgate import log  # noqa: E402
from mailgate.daemon import Daemon  # noqa: E402
from mailgate.store.tables import inbound_mail, outbox  # noqa: E402

CHIEF = "chloe@example.test"


def shoot(chromium: str, profile: str, url: str, out: Path) -> None:
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    f"--user-data-dir={profile}", "--hide-scrollbars", "--window-size=1000,1600",
                    f"--screenshot={out.resolve()}", url], check=True, capture_output=True, timeout=90)
    print(f"{out}: {url}")


async def demo(folder_out: Path, locale: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("needs Chromium: apt-get install chromium")
    folder_out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        loop = asyncio.get_running_loop()
        sink = await loop.create_server(lambda: SMTP(Sink()), host="127.0.0.1", port=0)
        web_port = free_port()
        settings = demo_settings(folder, locale, sink.sockets[0].getsockname()[1], web_port,
                                 supervisors=[{"email": CHIEF, "name": "Chloé Durand"}])
        daemon = Daemon(settings)
        await daemon.start()
        task = asyncio.create_task(daemon.run())
        try:
            port = daemon.smtp_port
            await send(settings, port, CUSTOMER, "Bonjour, il manque la colonne TVA dans l'export mensuel.", 1)
            new = await notice(settings, "notify_new", "alice@example.test")
            await send(settings, port, "alice@example.test", "prendre\ntemps 45m\ninterne\n\nVoir avec Bruno.", 2, new)
            await send(settings, port, "colleague@client.example", "L'imprimante du 2e ne répond plus.", 3)
            await send(settings, port, "boss@client.example", "Le VPN coupe toutes les dix minutes.", 4)
            base = f"http://127.0.0.1:{web_port}"
            data = urllib.parse.urlencode({"email": CHIEF}).encode()
            await asyncio.to_thread(urllib.request.urlopen, f"{base}/desk/login", data, 10)
            logins = sa.select(outbox.c.raw).where(outbox.c.kind == "desk_login")
            rows = await asyncio.to_thread(query, settings, logins)
            body = message_from_bytes(rows[-1].raw, policy=default).get_body(("plain",))
            assert body is not None
            link = re.search(r"\S+/desk/login/\S+", body.get_content())
            assert link is not None
            number = query(settings, sa.select(sa.func.min(inbound_mail.c.ticket_id)))[0][0]
            with tempfile.TemporaryDirectory() as profile:  # one browser profile: the cookie of the link stays
                await asyncio.to_thread(shoot, chromium, profile, link.group(0), folder_out / "dashboard.png")
                await asyncio.to_thread(shoot, chromium, profile, f"{base}/desk/queue", folder_out / "queue.png")
                await asyncio.to_thread(shoot, chromium, profile, f"{base}/desk/t/{number}", folder_out / "ticket.png")
        finally:
            daemon.stop()
            await asyncio.wait_for(task, timeout=15)
            sink.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("dashboard_screenshots"))
    parser.add_argument("--locale", choices=("fr", "en"), default="fr")
    args = parser.parse_args()
    log.configure("warning")
    asyncio.run(demo(args.output, args.locale))


if __name__ == "__main__":
    main()
