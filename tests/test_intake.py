"""SQLite's intake (store/intake.py): the SMTP listener's own file. Mail moves into inbound_mail once, in
order, whatever crashes between the move and the drop; the worker never drops what it has not committed;
a mail left in the intake by a stop is processed at the next start; `mailgate status` counts it as waiting."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailgate.clock import utcnow
from mailgate.config.settings import Settings
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.store import inbound, intake
from mailgate.store.schema import open_database
from mailgate.store.tables import inbound_mail
from mailgate.worker import LEASE, Worker
from tests.conftest import (
    SmartHostSink,
    cli,
    counts,
    make_settings,
    running,
    settings_data,
    smtp_send,
    until,
    write_config,
)
from tests.test_store import request


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return make_settings(f"sqlite:///{tmp_path / 'desk.sqlite3'}", 25, tmp_path, database__busy_timeout_ms=200)


def _path(settings: Settings) -> str:
    return settings.database_url.removeprefix("sqlite:///")


def _spool(settings: Settings, arrivals: list[inbound.Arrival]) -> list[int | None]:
    taken = intake.open_intake(_path(settings))
    try:
        return taken.write_now(intake.store_many, arrivals, utcnow())
    finally:
        taken.close()


def test_a_move_done_twice_stores_each_mail_once_in_order(sqlite_settings: Settings) -> None:
    ids = _spool(sqlite_settings, [request(i) for i in range(5)] + [request(2)])  # the last: a second delivery
    assert ids == [1, 2, 3, 4, 5, 6]  # the intake tells no duplicate apart: the move does
    db, taken = open_database(sqlite_settings), intake.open_intake(_path(sqlite_settings))
    try:
        waiting = taken.read_now(intake.waiting, 50)
        now = utcnow()
        for _ in range(2):  # the second time: a crash came between the commit and the drop
            claimed = db.write_now(intake.moved_and_claimed, waiting, me="w", now=now, until=now + LEASE, limit=50)
        rows = db.read_now(lambda c: c.execute(sa.select(inbound_mail.c.id, inbound_mail.c.message_id)
                                               .order_by(inbound_mail.c.id)).all())
        assert [m for _, m in rows] == [f"race-{i}@client.example" for i in range(5)]
        assert [r.id for r in claimed] == [1, 2, 3, 4, 5]
        assert taken.write_now(intake.drop, waiting[-1].id) == 6 and intake.peek(_path(sqlite_settings)) == (0, None)
    finally:
        db.close()
        taken.close()


async def test_the_worker_drops_nothing_it_could_not_commit(sqlite_settings: Settings) -> None:
    _spool(sqlite_settings, [request(i) for i in range(3)])
    db, taken = open_database(sqlite_settings), intake.open_intake(_path(sqlite_settings))
    worker = Worker(sqlite_settings, db, Outgoing(sqlite_settings, Renderer(sqlite_settings.templates_dir)), utcnow,
                    intake=taken)
    try:
        blocker = sqlite3.connect(_path(sqlite_settings), isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # the database refuses the move's commit
        with pytest.raises(sa.exc.OperationalError):
            await worker.process_batch()
        blocker.execute("ROLLBACK")
        blocker.close()
        assert intake.peek(_path(sqlite_settings))[0] == 3  # all still there
        results = await worker.process_batch()
        assert [(r.inbound_id, r.status) for r in results] == [(1, "processed"), (2, "processed"), (3, "processed")]
        assert intake.peek(_path(sqlite_settings))[0] == 0
    finally:
        db.close()
        taken.close()
    assert (await counts(sqlite_settings))["inbound"] == {"processed": 3}


async def test_mail_left_in_the_intake_is_processed_at_the_next_start(smart_host: SmartHostSink,
                                                                       tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'desk.sqlite3'}", smart_host.port, tmp_path)
    open_database(settings).close()
    _spool(settings, [request(i) for i in range(2)])  # answered 250 by a listener whose worker stopped first
    async with running(settings) as daemon:
        await until(lambda: _processed(settings, 2), what="the two mails of the intake")
        assert await smtp_send(daemon.smtp_port, request(7).raw) == {}
        await until(lambda: _processed(settings, 3), what="a new mail after them")
    assert intake.peek(_path(settings))[0] == 0
    assert (await counts(settings))["inbound"] == {"processed": 3}


async def _processed(settings: Settings, n: int) -> bool:
    return (await counts(settings))["inbound"].get("processed", 0) >= n


async def test_status_counts_the_intake_as_waiting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    config = write_config(tmp_path / "mailgate.toml", settings_data(url, 25))
    settings = make_settings(url, 25, tmp_path)
    open_database(settings).close()
    _spool(settings, [request(1), request(2)])
    status = json.loads((await asyncio.to_thread(cli, config, "status", "--json")).stdout)
    assert status["inbound"] == {"total": 2, "received": 2, "processed": 0, "ignored": 0, "quarantined": 0,
                                 "shunted": 0}
    assert 0 <= status["oldest"]["inbound_received"]["age_seconds"] < timedelta(minutes=5).total_seconds()


def test_metrics_and_health_see_mail_waiting_in_the_intake(sqlite_settings: Settings) -> None:
    from mailgate.web.figures import StoreCollector
    from mailgate.web.health import Health

    now = utcnow()
    db = open_database(sqlite_settings)
    taken = intake.open_intake(_path(sqlite_settings))
    try:
        taken.write_now(intake.store_many, [request(1)], now - timedelta(minutes=10))  # its worker is gone
        samples = {(m.name, tuple(s.labels.values())): s.value for m in StoreCollector(db, lambda: now).collect()
                   for s in m.samples}
        assert samples[("mailgate_inbound_mails", ("received",))] == 1
        assert samples[("mailgate_inbound_oldest_received_age_seconds", ())] == pytest.approx(600)
        health = Health(sqlite_settings, db, lambda: now, None)
        ok, report = health.check()
        health.close()
        assert not ok and report["failing"] == ["worker"] and report["parts"]["worker"]["age_seconds"] == 600
    finally:
        db.close()
        taken.close()


async def test_an_intake_of_an_unknown_format_stops_the_start_with_its_name(sqlite_settings: Settings) -> None:
    from mailgate.config.sections import ConfigError
    from mailgate.daemon import Daemon

    open_database(sqlite_settings).close()
    link = sqlite3.connect(intake.path_of(_path(sqlite_settings)))
    link.execute("PRAGMA user_version = 7")
    link.close()
    with pytest.raises(ConfigError, match=r"desk\.sqlite3\.intake: intake format 7, this mailgate knows 1"):
        await Daemon(sqlite_settings).start()


def test_a_batch_takes_no_more_raw_mail_than_its_size_allows(sqlite_settings: Settings) -> None:
    assert [inbound.fitting(sizes, 100) for sizes in ([], [500], [40, 40, 40], [40, 60, 1], [101, 1])] == \
        [0, 1, 2, 2, 1]  # one mail at least, even a bigger one
    mails = [request(i) for i in range(5)]
    size = len(mails[0].raw)
    _spool(sqlite_settings, mails)
    db, taken = open_database(sqlite_settings), intake.open_intake(_path(sqlite_settings))
    try:
        waiting = taken.read_now(intake.waiting, 50, int(size * 2.5))
        assert [m.id for m in waiting] == [1, 2]
        now = utcnow()
        claimed = db.write_now(intake.moved_and_claimed, taken.read_now(intake.waiting, 50), me="w", now=now,
                               until=now + LEASE, limit=50, max_bytes=int(size * 3.5))
        assert [r.id for r in claimed] == [1, 2, 3]  # all five moved, three taken
        rest = db.write_now(inbound.claim, "w2", now, now + LEASE, 50, max_bytes=10**9)
        assert [r.id for r in rest] == [4, 5] and all(r.raw.startswith(b"From: customer") for r in rest)
    finally:
        db.close()
        taken.close()


def test_a_big_mail_goes_in_through_blob_io_byte_for_byte(sqlite_settings: Settings) -> None:
    small, big = request(1), request(2)
    big = replace(big, raw=big.raw + bytes(range(256)) * 1000)  # 256 kB: past the size bound to the INSERT
    assert _spool(sqlite_settings, [small, big]) == [1, 2]
    taken = intake.open_intake(_path(sqlite_settings))
    try:
        assert [m.arrival.raw for m in taken.read_now(intake.waiting, 50)] == [small.raw, big.raw]
    finally:
        taken.close()


async def test_an_intake_that_cannot_be_opened_stops_the_start_with_its_name(sqlite_settings: Settings) -> None:
    from mailgate.config.sections import ConfigError
    from mailgate.daemon import Daemon

    open_database(sqlite_settings).close()
    Path(intake.path_of(_path(sqlite_settings))).mkdir()  # a folder where the file goes
    with pytest.raises(ConfigError, match=r"desk\.sqlite3\.intake: cannot use the SMTP listener's intake: "
                                          r"OperationalError: unable to open database file"):
        await Daemon(sqlite_settings).start()
