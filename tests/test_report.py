"""`mailgate report`: the pure figures of core/report.py from hand-built histories, then one history made by a
running daemon with a fake clock, read back through the real command line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mailgate.cli.report import as_document, csv_rows, duration, period_of, whole_months
from mailgate.config.settings import Settings, from_dict
from mailgate.core import report as core
from mailgate.core.model import RequestType, Status
from mailgate.core.workflow.billing import Line
from mailgate.daemon import Daemon
from tests.conftest import SmartHostSink, cli, read, running, settings_data, smtp_send, until, write_config

JAN = core.Period(start=datetime(2022, 1, 1, tzinfo=UTC), end=datetime(2022, 2, 1, tzinfo=UTC), label="2022-01")
LATER = datetime(2022, 3, 1, tzinfo=UTC)


def at(day: int, hour: int = 0, minute: int = 0, month: int = 1, year: int = 2022) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ev(ticket_id: int, when: datetime, kind: str, **data: object) -> core.Event:
    return core.Event(ticket_id=ticket_id, at=when, kind=kind, data=data)


def ticket(id: int, created: datetime, status: Status, changed: datetime | None = None, *, level: int = 1,
           type: RequestType = RequestType.ASSISTANCE, **more: Any) -> core.TicketFacts:
    return core.TicketFacts(id=id, created_at=created, status=status, status_changed_at=changed or created,
                            level=level, type=type, **more)


def january() -> core.History:
    """Eight tickets around January 2022 (see each line), their events, time and one month's billing lines."""
    tickets = (
        # created, answered after 30 min, resolved after 4 h, confirmed (closed) in January
        ticket(1, at(3, 9), Status.CLOSED, at(5, 10), first_response_at=at(3, 9, 30), resolved_at=at(3, 13)),
        # created, escalated N1->N2->N3 in January, answered after 4 h, both targets breached, open at the end
        ticket(2, at(10, 8), Status.IN_PROGRESS, at(10, 12), level=3, type=RequestType.INCIDENT, queue="infra",
               first_response_at=at(10, 12), response_breached_at=at(10, 9), resolution_breached_at=at(11, 8)),
        # created in December, closed then, reopened and closed again in January
        ticket(3, at(20, 10, month=12, year=2021), Status.CLOSED, at(20, 9)),
        # created, never answered, response breached, still open
        ticket(4, at(25, 12), Status.OPEN, level=2, type=RequestType.EVOLUTION, response_breached_at=at(25, 20)),
        # created on the last evening, taken then; escalated, answered, resolved and auto-closed in February
        ticket(5, at(31, 20), Status.CLOSED, at(5, 0, month=2), level=2, first_response_at=at(2, 8, month=2),
               resolved_at=at(2, 8, month=2)),
        # merged into #2: left out of the created tickets, and a merge is no close
        ticket(6, at(12, 9), Status.CLOSED, at(12, 10), merged=True, resolved_at=at(12, 10)),
        # created after the period
        ticket(7, at(3, month=2), Status.OPEN),
        # waiting since November
        ticket(8, at(1, month=11, year=2021), Status.WAITING, at(5, month=11, year=2021)),
    )
    events = (
        ev(1, at(3, 9, 10), "taken"), ev(1, at(3, 9, 30), "status", to="in_progress"), ev(1, at(3, 13), "resolved"),
        ev(1, at(5, 10), "status", to="closed", why="confirm"),
        ev(2, at(10, 10), "escalated", **{"from": 1, "to": 2}), ev(2, at(11, 9), "escalated", **{"from": 2, "to": 3}),
        ev(2, at(10, 12), "status", to="in_progress"),
        ev(3, at(21, month=12, year=2021), "status", to="closed", why="confirm"),
        ev(3, at(15, 8), "status", to="in_progress", why="reopen"), ev(3, at(20, 9), "closed"),
        ev(5, at(31, 21), "taken"), ev(5, at(1, 9, month=2), "escalated", **{"from": 1, "to": 2}),
        ev(5, at(2, 8, month=2), "resolved"), ev(5, at(5, 0, month=2), "auto_closed"),
        ev(6, at(12, 10), "merged", into=2),
    )
    logged = (core.Logged(agent="alice@x", customer="Client SA", minutes=30),
              core.Logged(agent="bruno@x", customer="Client SA", minutes=45),
              core.Logged(agent="alice@x", customer=None, minutes=15))
    lines = (Line("Client SA", 1, "t1", "assistance", "time", 75, Decimal(90), Decimal("112.50")),
             Line("Client SA", 4, "t4", "evolution", "estimate", 0, Decimal(90), Decimal("1200.00")))
    return core.History(tickets=tickets, events=events, logged=logged,
                        months=(core.MonthLines(month="2022-01", lines=lines),))


def test_nearest_rank_is_a_value_of_the_sample() -> None:
    sample = [50, 15, 40, 20, 35]
    assert [core.nearest_rank(sample, p) for p in (5, 30, 40, 50, 90, 100)] == [15, 20, 20, 35, 50, 50]
    assert core.nearest_rank([7], 90) == 7 and core.nearest_rank([], 50) is None
    assert core.nearest_rank(list(range(1, 11)), 90) == 9 and core.nearest_rank(list(range(1, 11)), 50) == 5


def test_backlog_at_the_period_end_with_status_and_level_of_then() -> None:
    r = core.report(january(), JAN, now=LATER)
    assert r.as_of == JAN.end
    b = r.backlog
    assert b.total == 4  # #2, #4, #5 (taken then, closed since), #8
    assert dict((c.key, c.value) for c in b.by_status) == {
        "open": 1, "taken": 1, "in_progress": 1, "waiting": 1, "awaiting_estimate_approval": 0, "in_realization": 0,
        "answer_sent": 0}
    assert [(c.key, c.value) for c in b.by_level] == [("N1", 2), ("N2", 1), ("N3", 1), ("N4", 0)]  # #5 was N1 then
    assert [(c.key, c.value) for c in b.by_type] == [("assistance", 2), ("incident", 1), ("evolution", 1)]
    assert [(c.key, c.value) for c in b.by_queue] == [("(none)", 3), ("infra", 1)]
    assert [(c.key, c.value) for c in b.ageing] == [("<1d", 1), ("1-3d", 0), ("3-7d", 1), ("7-30d", 1), ("30d+", 1)]


def test_response_and_resolution_times_per_level_type_and_month() -> None:
    r = core.report(january(), JAN, now=LATER)
    assert r.all == core.Group(key="all", tickets=4,  # #1, #2, #4, #5; #6 merged, #3 and #7 created elsewhen
                               response=core.Times(n=3, pending=1, p50=4 * 3600, p90=36 * 3600),
                               resolution=core.Times(n=2, pending=2, p50=4 * 3600, p90=36 * 3600))
    levels = {g.key: g for g in r.by_level}
    assert list(levels) == ["N1", "N2", "N3", "N4"]
    assert levels["N1"].response == core.Times(n=1, pending=0, p50=1800, p90=1800)
    assert (levels["N2"].tickets, levels["N2"].response) == (2, core.Times(n=1, pending=1, p50=129600, p90=129600))
    assert levels["N4"] == core.Group(key="N4", tickets=0, response=core.Times(n=0, pending=0, p50=None, p90=None),
                                      resolution=core.Times(n=0, pending=0, p50=None, p90=None))
    types = {g.key: g for g in r.by_type}
    assert types["assistance"].resolution == core.Times(n=2, pending=0, p50=4 * 3600, p90=36 * 3600)
    assert types["incident"].resolution == core.Times(n=0, pending=1, p50=None, p90=None)
    assert [(g.key, g.tickets) for g in r.by_month] == [("2022-01", 4)]


def test_breaches_escalations_reopenings_time_and_billing() -> None:
    r = core.report(january(), JAN, now=LATER)
    assert (r.response_breached, r.resolution_breached, r.breached) == (2, 1, 2)
    assert [(c.key, c.value) for c in r.escalations] == [("N1->N2", 1), ("N2->N3", 1), ("N3->N4", 0)]
    assert (r.reopened, r.closed) == (1, 2)  # #3 reopened; #1 and #3 closed (#6's merge is no close)
    assert [(c.key, c.value) for c in r.time_by_agent] == [("alice@x", 45), ("bruno@x", 45)]
    assert [(c.key, c.value) for c in r.time_by_customer] == [("Client SA", 75), ("(no customer)", 15)]
    assert r.billing == (core.Bill(month="2022-01", customer="Client SA", tickets=2, amount=Decimal("1312.50")),)
    doc = as_document(r, "EUR")
    assert doc["breaches"] == {"tickets": 4, "response": 2, "resolution": 1, "either": 2, "response_rate": 0.5,
                               "resolution_rate": 0.25, "either_rate": 0.5}
    assert doc["reopenings"] == {"reopened": 1, "closed": 2, "rate": 0.5}
    assert doc["billing"] == {"currency": "EUR", "months": {"2022-01": {"total": "1312.50", "customers": {
        "Client SA": {"tickets": 2, "amount": "1312.50"}}}}}
    rows = list(csv_rows(doc))
    assert ("times", "by_level", "N1", "response_p50_seconds", 1800) in rows
    assert ("escalations", "", "N1->N2", "moves", 1) in rows and ("backlog", "ageing", "30d+", "open", 1) in rows


def test_a_report_of_the_running_month_is_as_of_now() -> None:
    r = core.report(january(), JAN, now=at(12, 12))
    assert r.as_of == at(12, 12)
    # #2 open (N3 since the 11th) and #8 waiting; #1 and #6 closed by then, #3 closed in December and reopened
    # only on the 15th, #4, #5 and #7 not there yet
    assert r.backlog.total == 2
    assert [(c.key, c.value) for c in r.backlog.by_level] == [("N1", 1), ("N2", 0), ("N3", 1), ("N4", 0)]


def test_the_status_replay() -> None:
    open_ = Status.OPEN
    assert core.status_after(open_, ev(1, at(1), "assigned", to="a")) is Status.TAKEN
    assert core.status_after(Status.IN_PROGRESS, ev(1, at(1), "taken")) is Status.IN_PROGRESS
    assert core.status_after(Status.CLOSED, ev(1, at(1), "reopened")) is Status.IN_PROGRESS
    assert core.status_after(Status.IN_PROGRESS, ev(1, at(1), "estimate_sent")) is Status.AWAITING_ESTIMATE_APPROVAL
    assert core.status_after(Status.ANSWER_SENT, ev(1, at(1), "auto_closed")) is Status.CLOSED
    assert core.status_after(open_, ev(1, at(1), "status", to="nonsense")) is open_
    assert core.status_after(open_, ev(1, at(1), "priority", to="high")) is open_


def test_periods_of_the_command_line() -> None:
    now = at(17, 9)
    assert period_of(None, None, None, now) == JAN
    span = period_of(None, "2022-01-10", "2022-02-28", now)
    assert (span.start, span.end, span.label) == (at(10), at(1, month=3), "2022-01-10..2022-02-28")
    assert whole_months(span) == [(2022, 2)] and whole_months(JAN) == [(2022, 1)]
    assert core.months(span) == ("2022-01", "2022-02")
    assert [duration(s) for s in (None, 42, 1800, 3725, 93600)] == ["-", "42s", "30m", "1h02", "1d02h"]


# ---------------------------------------------------------------- end to end, a daemon with a fake clock

CUSTOMER = "fabrice@client.example"


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: at(17, 9))

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Desk:
    daemon: Daemon
    settings: Settings
    clock: FakeClock
    config: Path
    counter: int = 0

    async def send(self, sender: str, body: str, *, reply_to: str | None = None, subject: str = "Re: demande") -> None:
        from mailgate.store.tables import inbound_mail

        self.counter += 1
        mid = f"r{self.counter}.{sender.replace('@', '.')}@test"
        thread = f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n" if reply_to else ""
        raw = (f"From: {sender}\r\nTo: support@example.test\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
               f"{thread}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
        await smtp_send(self.daemon.smtp_port, raw, sender=sender)

        def done(conn: Any) -> bool:
            row = conn.execute(sa.select(inbound_mail.c.status).where(inbound_mail.c.message_id == mid)).first()
            return row is not None and row.status != "received"

        await until(lambda: read(self.settings, done), what=f"mail {mid} processed")

    async def last(self, kind: str, to: str) -> str:
        """The Message-ID of our latest mail of `kind` to `to`."""
        from mailgate.store.tables import outbox

        def go(conn: Any) -> list[Any]:
            return list(conn.execute(sa.select(outbox.c.message_id, outbox.c.envelope_to)
                                     .where(outbox.c.kind == kind).order_by(outbox.c.id)))

        found = [r.message_id for r in await read(self.settings, go) if to in r.envelope_to]
        assert found, f"no {kind} mail to {to}"
        return str(found[-1])


@pytest.fixture
async def desk(smart_host: SmartHostSink, tmp_path: Path) -> AsyncIterator[Desk]:
    data = settings_data(f"sqlite:///{tmp_path / 'mailgate.sqlite3'}", smart_host.port)
    data["agents"] = [{"email": "alice@example.test", "name": "Alice", "level": 1},
                      {"email": "bruno@example.test", "name": "Bruno", "level": 2}]
    data["customers"] = [{"name": "Client SA", "domains": ["client.example"], "hourly_rate": 90}]
    data["sla"] = {"supervisors": ["chef@example.test"], "normal": {"response_hours": 1, "resolution_hours": 8}}
    config = write_config(tmp_path / "config.toml", data)
    settings = from_dict(data, str(config))
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        yield Desk(daemon, settings, clock, config)


async def test_report_of_a_month_worked_by_mail(desk: Desk) -> None:
    alice, bruno = "alice@example.test", "bruno@example.test"
    await desk.send(CUSTOMER, "L'imprimante ne répond plus.", subject="Imprimante en panne")  # #1, 09:00
    desk.clock.now = at(17, 9, 30)
    await desk.send(alice, "prendre\ntemps 30m\n\nJe regarde.", reply_to=await desk.last("notify_new", alice))
    desk.clock.now = at(17, 10)
    await desk.send(alice, "escalader\n\nBruno, à toi.", reply_to=await desk.last("transcript", alice))
    desk.clock.now = at(17, 11)
    await desk.send(bruno, "prendre\ntemps 1h\nrésolu\n\nC'est réparé.",
                    reply_to=await desk.last("notify_escalated", bruno))
    desk.clock.now = at(17, 12)
    await desk.send(CUSTOMER, "RESOLU\n\nMerci", reply_to=await desk.last("resolution", CUSTOMER))
    desk.clock.now = at(18, 9)  # the customer writes again: reopened, then closed by the consultant
    await desk.send(CUSTOMER, "Ça recommence.", reply_to=await desk.last("resolution", CUSTOMER))
    desk.clock.now = at(18, 10)
    await desk.send(bruno, "fermer", reply_to=await desk.last("notify_reply", bruno))

    desk.clock.now = at(20, 9)  # #2: nobody answers within the hour
    await desk.send(CUSTOMER, "Le VPN est bloqué.", subject="VPN")
    desk.clock.now = at(20, 11)
    assert desk.daemon.sweeper is not None
    await desk.daemon.sweeper.sweep_once()

    result = cli(desk.config, "report", "--month", "2022-01", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["period"] == {"label": "2022-01", "start": "2022-01-01T00:00:00+00:00",
                             "end": "2022-02-01T00:00:00+00:00", "as_of": "2022-02-01T00:00:00+00:00"}
    assert doc["backlog"]["total"] == 1 and doc["backlog"]["by_status"]["open"] == 1
    assert doc["backlog"]["by_level"] == {"N1": 1, "N2": 0, "N3": 0, "N4": 0}
    assert doc["backlog"]["ageing"] == {"<1d": 0, "1-3d": 0, "3-7d": 0, "7-30d": 1, "30d+": 0}  # 11 d 15 h
    times = doc["times"]
    assert times["all"] == {"tickets": 2, "response": {"n": 1, "pending": 1, "p50_seconds": 1800, "p90_seconds": 1800},
                            "resolution": {"n": 1, "pending": 1, "p50_seconds": 7200, "p90_seconds": 7200}}
    assert times["by_level"]["N2"]["resolution"]["p50_seconds"] == 7200 and times["by_level"]["N1"]["tickets"] == 1
    assert times["by_month"]["2022-01"]["tickets"] == 2
    assert doc["breaches"] == {"tickets": 2, "response": 1, "resolution": 0, "either": 1, "response_rate": 0.5,
                               "resolution_rate": 0.0, "either_rate": 0.5}
    assert doc["escalations"] == {"N1->N2": 1, "N2->N3": 0, "N3->N4": 0}
    assert doc["reopenings"] == {"reopened": 1, "closed": 1, "rate": 1.0}
    assert doc["time"] == {"total_minutes": 90, "by_agent": {bruno: 60, alice: 30}, "by_customer": {"Client SA": 90}}
    billed = json.loads(cli(desk.config, "billing", "--month", "2022-01", "--json").stdout)
    assert doc["billing"]["months"]["2022-01"]["customers"] == {
        c["customer"]: {"tickets": len(c["tickets"]), "amount": c["total"]} for c in billed["customers"]}
    assert doc["billing"]["months"]["2022-01"]["total"] == "135.00"

    rows = list(csv.reader(io.StringIO(cli(desk.config, "report", "--month", "2022-01", "--csv").stdout.decode())))
    assert rows[0] == ["section", "group", "key", "figure", "value"]
    assert ["reopenings", "", "", "rate", "1.0"] in rows and ["billing", "2022-01", "", "total_EUR", "135.00"] in rows
    shown = cli(desk.config, "report", "--from", "2022-01-17", "--to", "2022-01-18")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout.decode()
    assert "Backlog at 2022-01-19 00:00 UTC: 0 open" in text and "Billing: no whole month in the period" in text
    refused = cli(desk.config, "report", "--month", "2022-13")
    assert refused.returncode == 2 and b"expected YYYY-MM" in refused.stderr
