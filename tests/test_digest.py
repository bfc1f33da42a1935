"""The supervisors' digest: when it is due (pure), what it says of a scripted desk, and that it goes once, at its
time, to each supervisor, in text and HTML, whichever daemon on the database runs the sweeper."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy import Connection

from mailgate.core.digest import CATCH_UP, Schedule
from mailgate.core.model import Address, NewTicket, Priority, RequestType
from mailgate.core.outcome import TimeEntry
from mailgate.digest import Digests
from mailgate.outbound.render import Renderer
from mailgate.store import imputation, tickets
from mailgate.store.schema import open_database
from mailgate.store.tables import digest_sent, outbox, ticket
from tests.conftest import SmartHostSink, make_settings, read, running, until, write

T = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)  # a Friday
SUPERVISORS = ["chef@example.test", "direction@example.test"]


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: T - timedelta(hours=1))

    def __call__(self) -> datetime:
        return self.now


# ---------------------------------------------------------------- when (pure)

def test_the_daily_and_weekly_digests_fall_due_at_their_time_and_cover_the_days_before() -> None:
    both = Schedule.of("08:00", "mon 08:00")
    assert both.due(T - timedelta(minutes=1)) == []  # the previous ones are older than CATCH_UP
    daily, weekly = both.latest(T)
    assert (daily.kind, daily.at, daily.first_day, daily.last_day) == ("daily", T, date(2024, 2, 29),
                                                                       date(2024, 2, 29))
    assert daily.key == "daily:2024-03-01T08:00" and both.due(T) == [daily]
    assert weekly.at == datetime(2024, 2, 26, 8, 0, tzinfo=UTC)  # the Monday before
    assert (weekly.first_day, weekly.last_day) == (date(2024, 2, 19), date(2024, 2, 25))
    monday = datetime(2024, 3, 4, 8, 30, tzinfo=UTC)
    assert [p.key for p in both.due(monday)] == ["daily:2024-03-04T08:00", "weekly:2024-03-04T08:00"]
    assert both.next_at(T) == datetime(2024, 3, 2, 8, 0, tzinfo=UTC)
    assert both.due(T + CATCH_UP) == []  # no daemon ran for that long: skipped, the next one comes
    assert Schedule.of("", "").next_at(T) is None and not Schedule.of("", "").enabled
    assert Schedule.of("23:59", "").daily == time(23, 59)
    for daily, weekly in (("8h", ""), ("24:00", ""), ("", "monday 08:00"), ("", "08:00")):
        with pytest.raises(ValueError):
            Schedule.of(daily, weekly)


# ---------------------------------------------------------------- a desk

def _script(conn: Connection) -> None:
    """#1 in progress for Alice, response target breached; #2 open, resolution breached; #3 on hold for Bruno;
    #4 closed (breached: not counted); #5-#15 new this morning. Time: Alice 1 h 30 and Bruno 30 min on the day
    before; Alice 45 min the day before that (another period)."""
    def new(title: str, created: datetime, **values: Any) -> int:
        spec = NewTicket(title=title, requester=Address("fabrice@client.example"), cc=(),
                         type=RequestType.ASSISTANCE, level=1, priority=Priority.NORMAL, locale="fr")
        number = tickets.create(conn, spec, created)
        if values:
            conn.execute(sa.update(ticket).where(ticket.c.id == number).values(**values))
        return number

    first = new("Imprimante <b>HS</b> & co", T - timedelta(days=10), status="in_progress",
                assignee="alice@example.test", response_breached_at=T - timedelta(days=9))
    new("Messagerie", T - timedelta(days=3), resolution_breached_at=T - timedelta(days=1))
    third = new("Accès VPN", T - timedelta(days=1), status="waiting", assignee="bruno@example.test")
    new("Ancienne demande", T - timedelta(days=20), status="closed", response_breached_at=T - timedelta(days=19))
    for n in range(11):
        new(f"Demande {n}", T - timedelta(minutes=120 - n))
    for number, agent, minutes, day in ((first, "alice@example.test", 90, date(2024, 2, 29)),
                                        (third, "bruno@example.test", 30, date(2024, 2, 29)),
                                        (first, "alice@example.test", 45, date(2024, 2, 28))):
        task = imputation.ensure_task(conn, number, "t", day, T)
        imputation.log_time(conn, number, task, (TimeEntry(agent, minutes),), day, None)


def _digests(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.select(outbox).where(outbox.c.kind == "digest")
                                                   .order_by(outbox.c.id))]


EXPECTED = {
    "fr": {"subject": "[Support] Synthèse quotidienne du 01/03/2024",
           "lines": [r"Tickets ouverts : 14", r"Ouvert :\s+12", r"En cours :\s+1", r"Un instant :\s+1",
                     r"Réponse envoyée :\s+0", r"Objectifs de service dépassés \(2\) :",
                     r"#1 Imprimante <b>HS</b> & co : première réponse \(En cours, Alice\)",
                     r"#2 Messagerie : résolution \(Ouvert, non assigné\)",
                     r"#1 Imprimante <b>HS</b> & co : En cours, ouvert depuis 10 j 0 h, Alice",
                     r"#3 Accès VPN : Un instant, ouvert depuis 1 j 0 h, Bruno",
                     r"#5 Demande 0 : Ouvert, ouvert depuis 2 h, non assigné",
                     r"#6 Demande 1 : Ouvert, ouvert depuis 1 h 59",
                     r"Temps saisi le 29/02/2024 :", r"Alice :\s+1 h 30", r"Bruno :\s+30 min", r"Total :\s+2 h"],
           "html": ["Imprimante &lt;b&gt;HS&lt;/b&gt; &amp; co", "première réponse", "1 h 30"]},
    "en": {"subject": "[Support] Daily digest, 2024-03-01",
           "lines": [r"Open tickets: 14", r"Open:\s+12", r"In progress:\s+1", r"On hold:\s+1",
                     r"Service targets breached \(2\):",
                     r"#1 Imprimante <b>HS</b> & co: first response \(In progress, Alice\)",
                     r"#2 Messagerie: resolution \(Open, unassigned\)",
                     r"#1 Imprimante <b>HS</b> & co: In progress, open for 10d 0h, Alice",
                     r"#6 Demande 1: Open, open for 1h59",
                     r"Time logged on 2024-02-29:", r"Alice:\s+1h30", r"Bruno:\s+30 min", r"Total:\s+2h"],
           "html": ["Imprimante &lt;b&gt;HS&lt;/b&gt; &amp; co", "first response", "1h30"]},
}


@pytest.mark.parametrize("locale", ["fr", "en"])
async def test_the_daily_digest_goes_once_at_its_time_to_each_supervisor(
        locale: str, db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> None:
    settings = make_settings(db_url, smart_host.port, tmp_path, gateway__locale=locale, sla__supervisors=SUPERVISORS,
                             digest__daily="08:00")
    await write(settings, _script)
    clock = FakeClock()
    async with running(settings, clock=clock) as daemon:
        assert daemon.sweeper is not None
        await daemon.sweeper.sweep_once()
        assert await read(settings, _digests) == []  # 07:00: not yet
        clock.now = T + timedelta(seconds=30)
        await daemon.sweeper.sweep_once()
        await until(lambda: len(smart_host.received) == 2, what="the digest at the smart host")
        rows = await read(settings, _digests)
        assert [(r["envelope_to"], r["ticket_id"], r["automatic"]) for r in rows] == [
            ([s], None, True) for s in SUPERVISORS]
        await daemon.sweeper.sweep_once()  # the next sweep, and later the same day: not again
        clock.now = T + timedelta(hours=3)
        await daemon.sweeper.sweep_once()

        async with running(settings, clock=clock) as second:  # a second daemon on the database: stands by,
            assert second.sweeper is not None
            await second.sweeper.sweep_once()  # and would it sweep (taking over), the period is recorded
        rows = await read(settings, _digests)
        assert len(rows) == 2 and len(smart_host.received) == 2
    assert await read(settings, lambda conn: list(conn.execute(sa.select(digest_sent.c.period)).scalars())) == [
        "daily:2024-03-01T08:00"]

    expected = EXPECTED[locale]
    for envelope, supervisor in zip(smart_host.received, SUPERVISORS, strict=True):
        assert envelope.rcpt_tos == [supervisor]
        msg = cast(EmailMessage, message_from_bytes(bytes(envelope.original_content or b""), policy=default))
        assert msg["Subject"] == expected["subject"] and msg["To"] == supervisor
        assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Mailgate-Loop"] == settings.loop_token
        assert msg.get_content_type() == "multipart/alternative" and msg["Content-Language"] == locale
        assert msg["Message-ID"].startswith("<digest.202403010800.")
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        assert plain is not None and html is not None, "a text and an HTML part"
        text = cast(EmailMessage, plain).get_content().replace("\r\n", "\n")
        for pattern in expected["lines"]:
            assert re.search(pattern, text), (pattern, text)
        oldest = text.split("\n\n")[3].splitlines()[1:]
        assert len(oldest) == 10 and "Ancienne demande" not in text  # the ten oldest open; never a closed one
        assert [line.split()[0] for line in oldest[:3]] == ["#1", "#2", "#3"]
        page = cast(EmailMessage, html).get_content()
        assert all(value in page for value in expected["html"]), page
        assert "<b>HS</b>" not in page  # a title is text, escaped


async def test_no_digest_without_supervisors_or_times(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 1, tmp_path, digest__daily="08:00", digest__weekly="mon 08:00")
    db = open_database(settings)
    try:
        renderer = Renderer(settings.templates_dir)
        assert not Digests(settings, renderer).enabled  # nobody to send it to
        assert await Digests(settings, renderer).send_due(db, T) == 0
        quiet = make_settings(db_url, 1, tmp_path, sla__supervisors=SUPERVISORS)
        assert not Digests(quiet, renderer).enabled and Digests(quiet, renderer).next_at(T) is None
    finally:
        db.close()


async def test_the_weekly_digest_counts_the_time_of_the_week_before(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 1, tmp_path, gateway__locale="en", sla__supervisors=SUPERVISORS[:1],
                             digest__weekly="mon 08:00")
    await write(settings, _script)
    monday = datetime(2024, 3, 4, 8, 5, tzinfo=UTC)
    db = open_database(settings)
    try:
        renderer = Renderer(settings.templates_dir)
        digests = Digests(settings, renderer)
        assert await digests.send_due(db, monday - timedelta(minutes=10)) == 0  # 07:55: not yet
        assert digests.next_at(monday - timedelta(minutes=10)) == datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
        assert await digests.send_due(db, monday) == 1
        assert await digests.send_due(db, monday) == 0
        assert await Digests(settings, renderer).send_due(db, monday + timedelta(hours=1)) == 0  # another daemon
        rows = await read(settings, _digests)
    finally:
        db.close()
    assert len(rows) == 1
    msg = cast(EmailMessage, message_from_bytes(rows[0]["raw"], policy=default))
    assert msg["Subject"] == "[Support] Weekly digest, 2024-03-04"
    plain = msg.get_body(("plain",))
    assert plain is not None and msg.get_body(("html",)) is not None
    text = cast(EmailMessage, plain).get_content()
    for pattern in (r"Time logged from 2024-02-26 to 2024-03-03:", r"Alice:\s+2h15", r"Bruno:\s+30 min",
                    r"Total:\s+2h45", r"weekly digest sent to the supervisors"):
        assert re.search(pattern, text), (pattern, text)
