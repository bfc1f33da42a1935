"""Shell, scheduled work: the supervisors' digest ([digest], docs/digest.md): when one is due, read the desk, render
it (text and HTML, in the gateway's locale) and queue one mail per supervisor together with the record that this
period's digest went, in one transaction. The sweeper runs it, hence the leader only (store/leases.py)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import Connection

from mailgate import log
from mailgate.config.settings import Settings
from mailgate.core import digest
from mailgate.core.digest import Period, Schedule
from mailgate.core.mail import compose
from mailgate.core.model import Address
from mailgate.core.outcome import MailKind, OutgoingDraft
from mailgate.outbound.queue import gateway_of, queue_of_no_ticket
from mailgate.outbound.render import LOCALES, Renderer
from mailgate.store import digests
from mailgate.store.db import Database

logger = log.get("digest")
TEMPLATE = "digest"  # templates/<locale>/digest.txt.j2 (through the Renderer) and digest.html.j2


def html_templates(folder: Path) -> jinja2.Environment:
    """The HTML part's templates: as the Renderer's, but every value escaped."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def problems(folder: Path) -> list[str]:
    """The HTML templates rendered once each with sample values (the text ones are the Renderer's REQUIRED)."""
    env, found = html_templates(folder), []
    for locale in LOCALES:
        path = f"{locale}/{TEMPLATE}.html.j2"
        try:
            env.get_template(path).render(digest=digest.sample(locale), gateway={"name": "Support", "address": ""})
        except jinja2.TemplateNotFound:
            found.append(f"{folder / path}: template missing")
        except jinja2.TemplateError as exc:
            lineno = getattr(exc, "lineno", None)  # syntax errors know their line
            line = f":{lineno}" if lineno else ""
            found.append(f"{folder / path}{line}: {exc}")
    return found


class Digests:
    def __init__(self, settings: Settings, renderer: Renderer) -> None:
        self.settings = settings
        self.schedule = Schedule.of(settings.digest.daily, settings.digest.weekly)
        self.supervisors = tuple(s.email for s in settings.supervisor_list)
        self.renderer = renderer
        self.html = html_templates(settings.templates_dir)
        self.sender = compose.Sender(address=settings.sender, loop_token=settings.loop_token)
        self.locale = settings.gateway.locale
        self.names = {a.email: a.name or a.email for a in settings.agents}
        self.gateway = gateway_of(settings)
        self._done: set[str] = set()  # periods known queued (here or by another daemon): not asked again

    @property
    def enabled(self) -> bool:
        return self.schedule.enabled and bool(self.supervisors)

    def next_at(self, now: datetime) -> datetime | None:
        return self.schedule.next_at(now) if self.enabled else None

    async def send_due(self, db: Database, now: datetime) -> int:
        """Queue each digest due now that no daemon queued yet; returns how many mails were queued."""
        due = [p for p in self.schedule.due(now) if p.key not in self._done] if self.enabled else []
        if not due:
            return 0
        sent = await db.read(digests.queued, [p.key for p in due])
        mails = 0
        for period in due:
            if period.key not in sent:
                mails += await db.write(self.queue, period, now)
            self._done.add(period.key)
        return mails

    def queue(self, conn: Connection, period: Period, now: datetime) -> int:
        """Record the period and queue its digest to every supervisor, in the caller's transaction; 0 when the
        period was recorded already (another daemon, a moment earlier)."""
        if not digests.record(conn, period.key, now):
            return 0
        content = digest.content(period, digests.open_tickets(conn), digests.logged(conn, period), names=self.names,
                                 locale=self.locale, now=now, gateway=str(self.gateway["name"]))
        context: dict[str, Any] = {"digest": content.context(), "gateway": self.gateway}
        text = self.renderer.render(TEMPLATE, self.locale, context)
        html = self.html.get_template(f"{self.locale}/{TEMPLATE}.html.j2").render(context)
        for address in self.supervisors:
            draft = OutgoingDraft(kind=MailKind.DIGEST, template=TEMPLATE, to=Address(address),
                                  locale=self.locale, in_reply_to=None, references=(), automatic=True)
            queue_of_no_ticket(conn, self.settings, self.sender, draft, subject_line=content.subject, body=text,
                               tag=f"digest.{period.at:%Y%m%d%H%M}", now=now, html=html)
        logger.info("digest queued", period=period.key, supervisors=len(self.supervisors),
                    open=content.open_total, breaches=len(content.breaches))
        return len(self.supervisors)
