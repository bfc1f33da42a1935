"""Shell, web: the supervisors' dashboard (/desk/, signed in by web/desk_auth.py): this month's `mailgate report`
figures with charts (core/charts.py), the open work in `mailgate queue`'s order, and each ticket's whole history.
Read on the web server's own database connection, never on the per-mail path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2
from aiohttp import web
from sqlalchemy import Connection

from mailgate.clock import Clock
from mailgate.config.settings import Settings
from mailgate.core import charts, desk_figures
from mailgate.core import report as core
from mailgate.core.model import Status
from mailgate.core.workflow import lookups, messages
from mailgate.store import estimates, tickets
from mailgate.store import report as store
from mailgate.web.desk_auth import HEADERS, DeskAuth, to_sign_in

BACKLOG_DAYS = 30


def _midnight(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def overview(conn: Connection, now: datetime) -> tuple[core.Report, list[tuple[str, int]]]:
    """This month's report (billing aside: `mailgate billing` has it) and the open tickets at each of the last
    BACKLOG_DAYS days' ends."""
    start = _midnight(now).replace(day=1)
    month = core.report(store.history(conn, start, _midnight(now) + timedelta(days=1)),
                        core.Period(start=start, end=_midnight(now) + timedelta(days=1), label=f"{start:%Y-%m}"),
                        now=now)
    ends = [_midnight(now) - timedelta(days=n - 1) for n in range(BACKLOG_DAYS, 0, -1)]
    ends[-1] = now
    history = store.history(conn, ends[0] - timedelta(days=1), now)
    return month, list(zip((f"{e - timedelta(seconds=1):%d/%m}" for e in ends),
                           desk_figures.backlog_by_day(history, ends), strict=True))


def open_work(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) | {"targets": tickets.targets_of(r._mapping)} for r in tickets.open_work(conn)]


def one_ticket(conn: Connection, number: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    found = tickets.detail(conn, number)
    return None if found is None else (found, estimates.of_ticket(conn, number))


def _hours(seconds: int | None) -> float:
    return round(seconds / 3600, 1) if seconds is not None else 0.0


class DeskPages:
    def __init__(self, settings: Settings, auth: DeskAuth, env: jinja2.Environment, text: dict[str, str],
                 clock: Clock) -> None:
        self.settings, self.auth, self.env, self.text, self.clock = settings, auth, env, text, clock
        self.locale = settings.gateway.locale if settings.gateway.locale in messages.TYPE_LABELS else "en"
        self.names = {a.email: a.name or a.email for a in settings.agents}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/desk", self.home)
        app.router.add_get("/desk/", self.home)
        app.router.add_get("/desk/queue", self.queue)
        app.router.add_get("/desk/t/{ticket:[1-9][0-9]{0,8}}", self.ticket)

    def _page(self, name: str, who: str, **values: Any) -> web.Response:
        html = self.env.get_template(name).render(t=self.text, who=who, **values)
        return web.Response(text=html, content_type="text/html", headers=HEADERS)

    async def home(self, request: web.Request) -> web.StreamResponse:
        who = await self.auth.who(request)
        if who is None:
            to_sign_in("not signed in", request)  # raises
        month, backlog = await self.auth.db.read(overview, self.clock())
        t = self.text
        times = [charts.Point(label=f"{g.key} p{q}", value=_hours(v)) for g in month.by_level
                 for q, v in ((50, g.resolution.p50), (90, g.resolution.p90))]
        response = [charts.Point(label=f"{g.key} p{q}", value=_hours(v)) for g in month.by_level
                    for q, v in ((50, g.response.p50), (90, g.response.p90))]
        logged = [charts.Point(label=self.names.get(c.key, c.key), value=round(c.value / 60, 2),
                               text=f"{c.value // 60}h{c.value % 60:02d}") for c in month.time_by_agent]
        breaches = [charts.Point(label=t["response_target"], value=month.response_breached),
                    charts.Point(label=t["resolution_target"], value=month.resolution_breached)]
        return self._page(
            "desk_overview.html.j2", who, report=month,
            statuses=[(messages.status_label(Status(c.key), self.locale), c.value) for c in month.backlog.by_status],
            backlog_chart=charts.line([charts.Point(label=d, value=n) for d, n in backlog], title=t["backlog_chart"]),
            response_chart=charts.bars(response, title=t["response_chart"]),
            resolution_chart=charts.bars(times, title=t["resolution_chart"]),
            breach_chart=charts.bars(breaches, title=t["breach_chart"]),
            time_chart=charts.bars(logged, title=t["time_chart"]))

    async def queue(self, request: web.Request) -> web.StreamResponse:
        who = await self.auth.who(request)
        if who is None:
            to_sign_in("not signed in", request)  # raises
        now = self.clock()
        rows = sorted(await self.auth.db.read(open_work),
                      key=lambda r: (lookups.rank_of(r["priority"]), r["status_changed_at"] or r["updated_at"]))
        items = [{"id": r["id"], "title": r["title"], "level": r["level"], "priority": r["priority"],
                  "status": messages.status_label(Status(r["status"]), self.locale),
                  "assignee": self.names.get(r["assignee"], r["assignee"] or ""),
                  "waiting": _waited(now - (r["status_changed_at"] or r["updated_at"])),
                  "breached": [x.name for x in r["targets"] if x.breached(now)]} for r in rows]
        return self._page("desk_queue.html.j2", who, items=items)

    async def ticket(self, request: web.Request) -> web.StreamResponse:
        who = await self.auth.who(request)
        if who is None:
            to_sign_in("not signed in", request)  # raises
        found = await self.auth.db.read(one_ticket, int(request.match_info["ticket"]))
        if found is None:
            raise web.HTTPNotFound(text=self.text["no_ticket"], headers=HEADERS)
        t, ests = found
        internal = {e["inbound_id"] for e in t["events"] if e["kind"] == "internal_note"}
        for m in t["messages"]:
            m["internal"] = m["inbound_id"] is not None and m["inbound_id"] in internal
            m["at_text"] = datetime.fromisoformat(m["at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        return self._page("desk_ticket.html.j2", who, ticket=t, estimates=ests,
                          status=messages.status_label(Status(t["status"]), self.locale))


def _waited(age: timedelta) -> str:
    hours = int(age.total_seconds() // 3600)
    return f"{hours // 24}d{hours % 24:02d}h"
