"""Shell, web: the supervisors' sign-in to the dashboard (/desk/login): a listed supervisor asks for a link, gets it
by mail (signed, expiring, single-use: core/login_link.py, store/desk_sessions.py) and opening it starts a
server-side session. Nobody else gets anything, and every refusal is logged (never the token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NoReturn

import jinja2
from aiohttp import web
from sqlalchemy import Connection

from mailgate import log
from mailgate.clock import Clock
from mailgate.config.settings import Settings
from mailgate.core import login_link
from mailgate.core.model import Address
from mailgate.core.outcome import MailKind, OutgoingDraft
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.outbound.replies import queue_replies
from mailgate.store import desk_sessions
from mailgate.store.db import Database, one_line

logger = log.get("dashboard")
COOKIE = "mailgate_desk"
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "X-Robots-Tag": "noindex, nofollow",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                                      "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"}
SUBJECT = {"fr": "Votre lien de connexion au tableau de bord", "en": "Your sign-in link to the dashboard"}


class DeskAuth:
    """The sign-in handlers and `who(request)`: the signed-in supervisor's address, or None."""

    def __init__(self, settings: Settings, db: Database, env: jinja2.Environment, text: dict[str, str],
                 clock: Clock) -> None:
        self.settings, self.db, self.env, self.text, self.clock = settings, db, env, text, clock
        self.supervisors = {s.email: s for s in settings.supervisor_list}
        self.locale = settings.gateway.locale
        self._outgoing: Outgoing | None = None  # templates read on the first link asked for

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/desk/login", self.form)
        app.router.add_post("/desk/login", self.ask)
        app.router.add_get("/desk/login/{token}", self.open)
        app.router.add_post("/desk/logout", self.logout)

    def page(self, message: str | None = None, *, status: int = 200, asked: bool = False) -> web.Response:
        html = self.env.get_template("desk_login.html.j2").render(t=self.text, who=None, message=message, asked=asked)
        return web.Response(status=status, text=html, content_type="text/html", headers=HEADERS)

    async def form(self, request: web.Request) -> web.StreamResponse:
        return self.page()

    async def ask(self, request: web.Request) -> web.StreamResponse:
        """The same answer whatever the address; a link goes only to a listed supervisor, within the hour's limit."""
        form = await request.post()
        email = str(form.get("email") or "").strip().lower()[:320]
        supervisor = self.supervisors.get(email)
        if supervisor is None:
            logger.info("dashboard link refused", reason="not a supervisor", peer=request.remote)
        else:
            try:
                sent = await self.db.write(self._queue_link, supervisor.email, supervisor.name, self.clock())
            except Exception as exc:
                logger.warning("dashboard link not queued", error=one_line(exc))
                return self.page(self.text["unavailable"], status=503)
            if sent:
                logger.info("dashboard link queued", to=supervisor.email)
            else:
                logger.info("dashboard link refused", reason="too many links this hour", to=supervisor.email)
        return self.page(self.text["asked"], asked=True)

    def _queue_link(self, conn: Connection, email: str, name: str, now: datetime) -> bool:
        w = self.settings.web
        issued = desk_sessions.issue(conn, email, now, timedelta(minutes=w.login_link_minutes), w.login_links_per_hour)
        if issued is None:
            return False
        nonce, expires = issued
        token = login_link.make_token(nonce, int(expires.timestamp()), email, self.settings.secret)
        if self._outgoing is None:
            self._outgoing = Outgoing(self.settings, Renderer(self.settings.templates_dir))
        draft = OutgoingDraft(kind=MailKind.DESK_LOGIN, template=MailKind.DESK_LOGIN.value, to=Address(email, name),
                              locale=self.locale, in_reply_to=None, references=(), automatic=True,
                              context={"link": f"{w.url}/desk/login/{token}", "minutes": w.login_link_minutes,
                                       "subject": SUBJECT.get(self.locale, SUBJECT["en"])})
        queue_replies(conn, self._outgoing, (draft,), now)
        return True

    async def open(self, request: web.Request) -> web.StreamResponse:
        token = login_link.parse(request.match_info["token"])
        now = self.clock()
        try:
            refused, session = await self.db.write(self._open, token, now)
        except Exception as exc:
            logger.warning("dashboard sign-in: cannot reach the database", error=one_line(exc))
            return self.page(self.text["unavailable"], status=503)
        if session is None:
            logger.info("dashboard link refused", reason=refused, peer=request.remote)
            return self.page(self.text["refused"], status=403)
        response = web.HTTPSeeOther("/desk/", headers=HEADERS)
        response.set_cookie(COOKIE, session, path="/desk", httponly=True, samesite="Strict",
                            secure=self.settings.web.url.startswith("https://"),
                            max_age=int(self.settings.web.session_hours * 3600))
        raise response

    def _open(self, conn: Connection, token: login_link.Token | None, now: datetime) -> tuple[str, str | None]:
        """(why refused, None) or ("", the new session's secret)."""
        if token is None:
            return "not a sign-in link", None
        email = desk_sessions.email_of(conn, token.nonce)
        if email is None:
            return desk_sessions.Refused.UNKNOWN.value, None
        if not login_link.verify(token, email, self.settings.secret):
            return desk_sessions.Refused.FORGED.value, None
        if email not in self.supervisors:
            return "no longer a supervisor", None
        if datetime.fromtimestamp(token.expires, UTC) <= now:
            return desk_sessions.Refused.EXPIRED.value, None
        refused = desk_sessions.use(conn, token.nonce, now)
        if refused is not None:
            return refused.value, None
        return "", desk_sessions.open_session(conn, email, now, timedelta(hours=self.settings.web.session_hours))

    async def logout(self, request: web.Request) -> web.StreamResponse:
        session = request.cookies.get(COOKIE)
        if session:
            await self.db.write(desk_sessions.close_session, session)
        response = web.HTTPSeeOther("/desk/login", headers=HEADERS)
        response.del_cookie(COOKIE, path="/desk")
        raise response

    async def who(self, request: web.Request) -> str | None:
        """The signed-in supervisor of this request (a session that has not expired, of a listed supervisor)."""
        session = request.cookies.get(COOKIE)
        if not session or len(session) > 100:
            return None
        email = await self.db.read(desk_sessions.session_email, session, self.clock())
        return email if email in self.supervisors else None


def to_sign_in(reason: str, request: web.Request) -> NoReturn:
    logger.info("dashboard page refused", reason=reason, path=request.path, peer=request.remote)
    raise web.HTTPSeeOther("/desk/login", headers=HEADERS)


