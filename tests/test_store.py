"""The store on SQLite and PostgreSQL: migrations match the tables, workers racing never double a mail."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from mailgate.clock import utcnow
from mailgate.config.settings import Settings
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.store import inbound, migrate
from mailgate.store.schema import open_engine
from mailgate.store.tables import metadata
from mailgate.worker import Worker
from tests.conftest import all_tickets, counts, make_settings


async def test_migrations_create_exactly_the_tables(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 25, tmp_path)
    engine = await open_engine(settings)
    try:
        assert await migrate.current(engine) == migrate.head()

        def diff(conn):  # type: ignore[no-untyped-def]
            return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


def request(i: int) -> bytes:
    return (f"From: customer{i}@client.example\r\nTo: support@example.test\r\nSubject: Demande {i}\r\n"
            f"Message-ID: <race-{i}@client.example>\r\n\r\nBonjour {i}\r\n").encode()


async def test_two_workers_racing_process_each_mail_once(db_url: str, tmp_path: Path) -> None:
    settings: Settings = make_settings(db_url, 25, tmp_path)
    engine = await open_engine(settings)
    n = 40
    try:
        async with engine.begin() as conn:
            for i in range(n):
                await inbound.store(conn, raw=request(i), source="test", source_ref="race", envelope_from=None,
                                    envelope_to=["support@example.test"], message_id=f"race-{i}@client.example",
                                    sender=f"customer{i}@client.example", now=utcnow())
        outgoing = Outgoing(settings, Renderer(settings.templates_dir))
        workers = [Worker(settings, engine, outgoing, utcnow) for _ in range(2)]
        handled: list[list[int]] = [[], []]

        async def drain(k: int) -> None:
            while (result := await workers[k].process_next()) is not None:
                handled[k].append(result.inbound_id)

        await asyncio.gather(drain(0), drain(1))
    finally:
        await engine.dispose()
    assert sorted(handled[0] + handled[1]) == list(range(1, n + 1))  # each mail exactly once
    assert (await counts(settings)) == {"inbound": {"processed": n}, "outbox": {"queued": n}}
    tickets = await all_tickets(settings)
    assert sorted(t["id"] for t in tickets) == list(range(1, n + 1))  # numbers from 1, no gaps here
