"""Shell, web: the requesters' read-only status pages ([web]): `GET /t/{ticket}/{token}` (HTML) and `.json` (the same
data, which the page polls), opened only by the signed link of our mails to the requester (core/status_link.py)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy import Connection

from mailgate import log
from mailgate.clock import Clock, utcnow
from mailgate.config.settings import Settings
from mailgate.core import status_link
from mailgate.core.model import RequestType, Status
from mailgate.core.outcome import MailKind
from mailgate.core.workflow import keywords, messages
from mailgate.store import estimates, tickets
from mailgate.store.db import Database, make_engine, one_line

logger = log.get("status_page")
ROUTE = "/t/{ticket}/{token}"  # {token}.json: the same data as JSON
POLL_SECONDS = 15
MAX_MESSAGES = 200  # the newest ones
# our mails the page shows: those to the customer side, never the consultants' (notify_*, transcript, refusals)
PUBLIC_KINDS = frozenset(k.value for k in (MailKind.ACK, MailKind.RELAY, MailKind.RESOLUTION, MailKind.MERGED,
                                           MailKind.ESTIMATE_REQUEST, MailKind.ANSWER_RECEIVED, MailKind.AUTO_CLOSED))
# events that mark an inbound mail as not the customer's words: a consultant's (commands, notes), machine mail
PRIVATE_INBOUND = frozenset({"agent_mail", "machine_mail", "bounce", "own_mail_returned"})
NOT_FOUND = "Not found.\n"  # the one answer to a link that does not hold, whatever is wrong with it
_TICKET = re.compile(r"[1-9][0-9]{0,8}")
TEMPLATES = Path(__file__).resolve().parent / "templates"
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "X-Robots-Tag": "noindex, nofollow"}

TEXT: dict[str, dict[str, str]] = {
    "fr": {"heading": "Demande #{n}", "status": "Statut", "level": "Niveau", "type": "Type de demande",
           "handled": "Prise en charge", "taken_by": "par {name}", "taken": "par un consultant",
           "not_taken": "pas encore", "merged": "Fusionnée dans la demande #{n}", "messages": "Messages",
           "you": "Vous", "none": "Aucun message pour l'instant.", "amount": "Montant : {v}", "days": "Charge : {v}",
           "estimate_request": "Un chiffrage attend votre validation",
           "resolution": "Notre réponse attend votre confirmation",
           "how": "Répondez au mail qui vous le demande avec, seul sur la première ligne :",
           "estimate_request_yes": "pour lancer la réalisation", "estimate_request_no": "pour le refuser",
           "resolution_yes": "si le problème est résolu", "resolution_no": "s'il ne l'est pas",
           "footer": "Page en lecture seule, actualisée toutes les {s} s. Pour nous écrire, répondez à nos mails.",
           "date": "%d/%m/%Y %H:%M UTC"},
    "en": {"heading": "Request #{n}", "status": "Status", "level": "Level", "type": "Request type",
           "handled": "Taken in hand", "taken_by": "by {name}", "taken": "by a consultant",
           "not_taken": "not yet", "merged": "Merged into request #{n}", "messages": "Messages",
           "you": "You", "none": "No message yet.", "amount": "Amount: {v}", "days": "Effort: {v}",
           "estimate_request": "An estimate awaits your approval",
           "resolution": "Our answer awaits your confirmation",
           "how": "Reply to the mail that asks for it with, alone on the first line:",
           "estimate_request_yes": "to start the work", "estimate_request_no": "to refuse it",
           "resolution_yes": "if the problem is solved", "resolution_no": "if it is not",
           "footer": "Read-only page, refreshed every {s} s. To write to us, reply to our mails.",
           "date": "%Y-%m-%d %H:%M UTC"},
}

Found = tuple[dict[str, Any], list[dict[str, Any]]]


def read(conn: Connection, ticket_id: int) -> Found | None:
    """The ticket with its people, messages and events (store/tickets.detail), and its estimates."""
    found = tickets.detail(conn, ticket_id)
    return None if found is None else (found, estimates.of_ticket(conn, ticket_id))


def page(found: Found, settings: Settings) -> dict[str, Any]:
    """What the requester may see of the ticket, in its language: the page's data and the JSON poll's."""
    t, ests = found
    locale = t["locale"] if t["locale"] in TEXT else "en"
    say, status = TEXT[locale], Status(t["status"])
    first_names = {a.email: a.name.split()[0] for a in settings.agents if a.name.split()}  # never an address
    assignee = first_names.get(t["assignee"]) if t["assignee"] else None
    handled = say["not_taken"] if not t["assignee"] else (
        say["taken_by"].format(name=assignee) if assignee else say["taken"])
    return {
        "ticket": t["id"], "title": t["title"], "locale": locale, "heading": say["heading"].format(n=t["id"]),
        "status": status.value, "status_label": messages.status_label(status, locale), "level": t["level_label"],
        "type_label": messages.TYPE_LABELS[locale][RequestType(t["type"])], "assignee": assignee,
        "handled": handled, "merged_into": t["merged_into"],
        "merged": say["merged"].format(n=t["merged_into"]) if t["merged_into"] else None,
        "awaiting": awaiting(t, ests, settings.workflow.currency, locale),
        "messages": public_messages(t, settings, locale), "updated_at": t["updated_at"],
    }


def awaiting(t: dict[str, Any], ests: list[dict[str, Any]], currency: str, locale: str) -> dict[str, Any] | None:
    """The keyword answer the ticket waits for (a pending estimate, a resolution to confirm), else None."""
    kind, status, say = t["awaiting"], t["status"], TEXT[locale]
    lines: list[str] = []
    if kind == MailKind.ESTIMATE_REQUEST and status == Status.AWAITING_ESTIMATE_APPROVAL:
        proposed = [e for e in ests if e["state"] == "proposed"][-1:]
        for e in proposed:
            if e["amount"] is not None:
                lines.append(say["amount"].format(v=messages.amount_text(e["amount"], currency, locale)))
            if e["days"]:
                lines.append(say["days"].format(v=messages.days_text(e["days"], locale)))
    elif not (kind == MailKind.RESOLUTION and status == Status.ANSWER_SENT):
        return None
    words = keywords.SHOWN[kind]
    yes, no = words.get(locale, words["en"])
    return {"kind": kind, "title": say[kind], "lines": lines, "how": say["how"], "yes": yes,
            "yes_means": say[f"{kind}_yes"], "no": no, "no_means": say[f"{kind}_no"]}


def public_messages(t: dict[str, Any], settings: Settings, locale: str) -> list[dict[str, Any]]:
    """Inbound mails of the customer's side (the ticket's people, its customer's approvers and domains) and our
    mails to it, oldest first; never a consultant's mail (an internal note is one), a mail to consultants,
    machine mail or a stranger's mail."""
    say = TEXT[locale]
    queued = [e["data"] for e in t["events"] if e["kind"] == "mail_queued" and isinstance(e["data"], dict)]
    kinds = {d.get("outbox_id"): d.get("kind") for d in queued}
    private = {e["inbound_id"] for e in t["events"] if e["kind"] in PRIVATE_INBOUND}
    people = {p["email"].lower(): p["name"] for p in t["participants"]}
    customer = next((c for c in settings.customers if c.name == t["customer"]), None)
    customer_side = set(people) | set(customer.approvers if customer else ())  # and the customer's domains:
    domains = frozenset(customer.domains if customer else ())
    staff = settings.agent_emails | settings.own_addresses
    ours = settings.gateway.name or settings.sender.name or "Support"
    requester = str(t["requester"]).lower()
    shown = []
    for m in t["messages"]:
        sender = str(m["from"] or "").lower()
        if m["direction"] == "out":
            if m["outbox_id"] is None or kinds.get(m["outbox_id"]) not in PUBLIC_KINDS:
                continue
            who = ours
        elif (m["direction"] != "in" or m["inbound_id"] is None or m["inbound_id"] in private or sender in staff
              or (sender not in customer_side and sender.rpartition("@")[2] not in domains)):
            continue
        else:
            who = say["you"] if sender == requester else (people.get(sender) or sender)
        at = datetime.fromisoformat(m["at"])
        shown.append({"direction": m["direction"], "from": who, "at": m["at"], "at_text": at.strftime(say["date"]),
                      "text": str(m["text"] or "").strip()})
    return shown[-MAX_MESSAGES:]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refused(request: web.Request, reason: str, ticket: str | None = None) -> web.Response:
    """The same 404 for every link that does not hold; the reason goes to the log only."""
    logger.info("status link refused", reason=reason, ticket=ticket, peer=request.remote)
    return web.Response(status=404, text=NOT_FOUND, headers=_HEADERS)


class StatusPages:
    """The aiohttp application: its handlers read the ticket on the server's own database."""

    def __init__(self, settings: Settings, db: Database, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.db = db
        self.clock = clock
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def app(self) -> web.Application:
        application = web.Application(middlewares=[self._not_found])
        application.router.add_get(ROUTE, self.show)
        from mailgate.web.desk_auth import DeskAuth  # the supervisors' dashboard, on the same port
        from mailgate.web.desk_kb import DeskKb
        from mailgate.web.desk_pages import DeskPages
        from mailgate.web.desk_text import TEXT as DESK_TEXT

        text = DESK_TEXT.get(self.settings.gateway.locale, DESK_TEXT["en"])
        auth = DeskAuth(self.settings, self.db, self.env, text, self.clock)
        auth.routes(application)
        DeskPages(self.settings, auth, self.env, text, self.clock).routes(application)
        DeskKb(self.settings, auth, self.env, text, self.clock).routes(application)
        application.on_response_prepare.append(_quiet_server)
        return application

    @web.middleware
    async def _not_found(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:  # no such route (a missing token): the same answer as a wrong one
            return refused(request, "no such page")

    async def show(self, request: web.Request) -> web.StreamResponse:
        number, token = request.match_info["ticket"], request.match_info["token"]
        as_json = token.endswith(".json")
        token = token.removesuffix(".json")
        if not _TICKET.fullmatch(number):
            return refused(request, "not a ticket number")
        try:
            found = await self.db.read(read, int(number))
        except Exception as exc:  # the page says so; the daemon goes on
            logger.warning("status page: cannot read the database", error=one_line(exc))
            return web.Response(status=503, text="Unavailable, try again later.\n", headers=_HEADERS)
        if found is None:
            return refused(request, "no such ticket", number)
        if not status_link.verify_token(int(number), found[0]["requester"], token, self.settings.secret):
            return refused(request, "bad token", number)
        data = page(found, self.settings)
        if as_json:
            return web.json_response(data, headers=_HEADERS, dumps=lambda v: json.dumps(v, ensure_ascii=False))
        nonce = secrets.token_urlsafe(16)
        html = self.env.get_template("status.html.j2").render(
            page=data, t=TEXT[data["locale"]], poll=POLL_SECONDS, nonce=nonce)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return web.Response(text=html, content_type="text/html", headers={**_HEADERS, "Content-Security-Policy": csp})


async def _quiet_server(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "mailgate"  # not the Python and aiohttp versions


class StatusServer:
    """`start()` binds the port (an error there is the daemon's start-up error); `run(stop)` serves until stop. It
    reads on a database connection and thread of its own: a page neither waits for nor delays the daemon's work."""

    def __init__(self, settings: Settings, clock: Clock = utcnow) -> None:
        self.settings = settings
        self.clock = clock
        self.db: Database | None = None
        self.runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        assert self.runner is not None
        return int(self.runner.addresses[0][1])

    async def start(self) -> None:
        s = self.settings
        db = Database(make_engine(s.database_url, busy_timeout_ms=s.database.busy_timeout_ms, pool_size=2))
        runner = web.AppRunner(StatusPages(s, db, self.clock).app(), access_log=None, shutdown_timeout=5)
        try:
            await runner.setup()
            await web.TCPSite(runner, s.web.host, s.web.port).start()
        except BaseException:
            await runner.cleanup()
            await asyncio.to_thread(db.close)
            raise
        self.db, self.runner = db, runner
        logger.info("status pages listening", host=s.web.host, port=self.port, links=f"{s.web.url}/t/...")

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` (start() first if it was not called), then close the port and the database."""
        if self.runner is None:
            await self.start()
        try:
            await stop.wait()
        finally:
            await self.close()

    async def close(self) -> None:
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.cleanup()
        db, self.db = self.db, None
        if db is not None:
            await asyncio.to_thread(db.close)


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """The status pages as one task of the daemon: bind, serve until `stop`, close."""
    await StatusServer(settings).run(stop)
