"""The store on SQLite and PostgreSQL: migrations match the tables; the batched worker: workers racing never
double a mail, a poisoned mail is shunted alone, a worker killed between claim and commit loses nothing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from mailgate import worker as worker_module
from mailgate.clock import utcnow
from mailgate.config.settings import Settings
from mailgate.core.model import Address, NewTicket, Priority, RequestType, Status
from mailgate.core.outcome import TicketChange
from mailgate.outbound.queue import Outgoing
from mailgate.outbound.render import Renderer
from mailgate.store import inbound, migrate, tickets
from mailgate.store import outbox as outbox_store
from mailgate.store.columns import _without_nul, json_text, json_value
from mailgate.store.driver_sql import Statement
from mailgate.store.faults import database_unavailable, is_temporary
from mailgate.store.inbound import Arrival
from mailgate.store.kb_tables import ours
from mailgate.store.schema import open_database
from mailgate.store.tables import event, inbound_mail, metadata, outbox, ticket
from mailgate.worker import LEASE, Worker
from tests.conftest import all_tickets, counts, make_settings, schema_at, write


def test_migrations_create_exactly_the_tables(db_url: str, tmp_path: Path) -> None:
    db = open_database(make_settings(db_url, 25, tmp_path))
    try:
        assert migrate.current(db.engine) == migrate.head()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
            assert compare_metadata(context, metadata) == []
    finally:
        db.close()


def request(i: int, subject: str = "Demande") -> Arrival:
    raw = (f"From: customer{i}@client.example\r\nTo: support@example.test\r\nSubject: {subject} {i}\r\n"
           f"Message-ID: <race-{i}@client.example>\r\n\r\nBonjour {i}\r\n").encode()
    return Arrival(raw=raw, source="test", source_ref="race", envelope_from=None,
                   envelope_to=["support@example.test"], message_id=f"race-{i}@client.example",
                   sender=f"customer{i}@client.example")


def worker_for(settings: Settings, **overrides: Any) -> Worker:
    db = open_database(settings)
    worker = Worker(settings, db, Outgoing(settings, Renderer(settings.templates_dir)), overrides.pop("clock", utcnow))
    for key, value in overrides.items():
        setattr(worker, key, value)
    return worker


async def test_two_workers_racing_process_each_mail_once(db_url: str, tmp_path: Path) -> None:
    settings: Settings = make_settings(db_url, 25, tmp_path)
    n = 60
    await write(settings, inbound.store_many, [request(i) for i in range(n)], utcnow())
    workers = [worker_for(settings, batch=7) for _ in range(2)]  # each its own database connection
    handled: list[list[int]] = [[], []]
    try:
        async def drain(k: int) -> None:
            while results := await workers[k].process_batch():
                handled[k] += [r.inbound_id for r in results if r.status == "processed"]

        await asyncio.gather(drain(0), drain(1))
    finally:
        for w in workers:
            w.db.close()
    assert sorted(handled[0] + handled[1]) == list(range(1, n + 1))  # each mail exactly once
    assert handled[0] and handled[1]  # both took a share
    assert (await counts(settings)) == {"inbound": {"processed": n}, "outbox": {"queued": n}}
    tickets = await all_tickets(settings)
    assert sorted(t["id"] for t in tickets) == list(range(1, n + 1))  # numbers from 1, no gaps here


async def test_a_poisoned_mail_in_a_batch_is_shunted_alone(db_url: str, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = make_settings(db_url, 25, tmp_path)
    await write(settings, inbound.store_many, [request(i, "Poison" if i == 2 else "Demande") for i in range(5)],
                utcnow())
    real_write = worker_module.write

    def poisoned(conn: Any, outgoing: Any, outcome: Any, **kw: Any) -> Any:
        result = real_write(conn, outgoing, outcome, **kw)  # its rows are written, then it raises
        if outcome.new_ticket is not None and outcome.new_ticket.title.startswith("Poison"):
            raise RuntimeError("a bug met by one mail")
        return result

    monkeypatch.setattr(worker_module, "write", poisoned)
    w = worker_for(settings)
    try:
        results = await w.process_batch()
    finally:
        w.db.close()
    assert [r.status for r in results] == ["processed", "processed", "shunted", "processed", "processed"]
    assert (await counts(settings)) == {"inbound": {"processed": 4, "shunted": 1}, "outbox": {"queued": 4}}
    assert len(await all_tickets(settings)) == 4  # the poisoned mail's ticket rolled back with its savepoint


async def test_a_worker_killed_between_claim_and_commit_loses_and_doubles_nothing(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 25, tmp_path)
    await write(settings, inbound.store_many, [request(i) for i in range(6)], utcnow())
    dead = worker_for(settings)
    try:  # it claims the mails, then dies: nothing of its transaction is committed
        now = utcnow()
        claimed = await dead.db.write(inbound.claim, dead.me, now, now + LEASE, 10)
        assert len(claimed) == 6
    finally:
        dead.db.close()
    early = worker_for(settings)
    try:
        assert await early.process_batch() == []  # another worker passes them by while the lease holds
    finally:
        early.db.close()
    late = worker_for(settings, clock=lambda: utcnow() + LEASE + timedelta(seconds=1))
    try:
        results = await late.process_batch()
    finally:
        late.db.close()
    assert [r.status for r in results] == ["processed"] * 6
    assert (await counts(settings)) == {"inbound": {"processed": 6}, "outbox": {"queued": 6}}
    assert len(await all_tickets(settings)) == 6


async def test_a_batch_commits_within_its_time_budget(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(db_url, 25, tmp_path, worker__max_transaction_ms=0.001)
    await write(settings, inbound.store_many, [request(i) for i in range(5)], utcnow())
    w = worker_for(settings)
    commits = 0
    real = w._transaction

    def counted(pending: Any) -> Any:
        nonlocal commits
        commits += 1
        return real(pending)

    w._transaction = counted  # type: ignore[method-assign]
    try:
        results = await w.process_batch()
    finally:
        w.db.close()
    assert [r.status for r in results] == ["processed"] * 5
    assert commits == 5  # a budget this small: one mail per transaction, none left behind


async def test_a_mail_sees_what_the_mails_before_it_in_its_batch_queued(db_url: str, tmp_path: Path) -> None:
    """The batch reads its people's counts once (store/snapshot.People); a person an earlier mail of the batch
    wrote to is read again, so the caps hold inside one batch as across batches."""
    import sqlalchemy as sa

    from mailgate.store.tables import outbox

    settings = make_settings(db_url, 25, tmp_path, hygiene__acks_per_recipient_per_hour=2,
                             worker__max_transaction_ms=60_000)  # one transaction
    same = [request(i) for i in range(4)]  # four new tickets from one sender, in one batch
    same = [replace(a, raw=a.raw.replace(f"customer{i}@".encode(), b"loop@"), sender="loop@client.example")
            for i, a in enumerate(same)]
    await write(settings, inbound.store_many, [*same, request(9)], utcnow())
    w = worker_for(settings, batch=10)
    try:
        results = await w.process_batch()
        assert [r.status for r in results] == ["processed"] * 5
        acks = await w.db.read(lambda conn: conn.execute(
            sa.select(outbox.c.recipient).where(outbox.c.kind == "ack")).scalars().all())
    finally:
        w.db.close()
    assert sorted(acks) == ["customer9@client.example", "loop@client.example", "loop@client.example"]


async def test_a_mail_sees_what_the_mails_before_it_in_its_batch_did_to_its_ticket(db_url: str,
                                                                                 tmp_path: Path) -> None:
    """The batch reads its tickets once (store/snapshot.Tickets); a ticket an earlier mail of the batch may have
    changed is read again: Alice takes the ticket, then Bruno, in the same transaction. Bruno's `take` finds it
    taken: the customer hears once that it is taken (read before Alice's change, Ouvert, it was twice)."""
    import sqlalchemy as sa

    from mailgate.store.tables import outbox, ticket

    settings = make_settings(db_url, 25, tmp_path, worker__max_transaction_ms=60_000,  # one transaction
                             workflow__trusted_authserv_ids=["mx.example.test"])
    await write(settings, inbound.store_many, [request(1)], utcnow())
    w = worker_for(settings, batch=10)
    try:
        assert [r.ticket_id for r in await w.process_batch()] == [1]

        def take(i: int, agent: str) -> Arrival:
            raw = (f"Authentication-Results: mx.example.test; dkim=pass header.d=example.test\r\nFrom: {agent}\r\n"
                   f"To: support@example.test\r\nSubject: Re: [#1] Demande 1\r\n"
                   f"Message-ID: <take-{i}@example.test>\r\n\r\ntake\r\n").encode()
            return replace(request(i), raw=raw, message_id=f"take-{i}@example.test", sender=agent)

        await write(settings, inbound.store_many, [take(2, "alice@example.test"), take(3, "bruno@example.test")],
                    utcnow())
        results = await w.process_batch()
        assignee = await w.db.read(lambda conn: conn.execute(sa.select(ticket.c.assignee)).scalar_one())
        notices = await w.db.read(lambda conn: conn.execute(sa.select(outbox.c.recipient).where(
            outbox.c.kind == "status_notice")).scalars().all())
    finally:
        w.db.close()
    assert [(r.status, r.ticket_id) for r in results] == [("processed", 1), ("processed", 1)]
    assert assignee == "bruno@example.test" and notices == ["customer1@client.example"]


def test_the_head_revision_read_without_alembic_is_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from mailgate.config.settings import data_dir

    cfg = Config()
    cfg.set_main_option("script_location", str(data_dir("db")))
    assert migrate.head() == ScriptDirectory.from_config(cfg).get_current_head()


def test_the_transaction_budget_is_50_ms_unless_set(tmp_path: Path) -> None:
    assert make_settings("sqlite:///x.sqlite3", 25, tmp_path).worker.max_transaction_ms == 50.0
    assert make_settings("sqlite:///x.sqlite3", 25, tmp_path, worker__max_transaction_ms=25).worker \
        .max_transaction_ms == 25


def test_migration_0012_moves_the_raw_bytes_apart_and_back(db_url: str) -> None:
    """0012 copies each stored mail's bytes into inbound_raw and drops the column; its downgrade puts them back."""
    import sqlalchemy as sa

    from mailgate.store.columns import JSON, UTCDateTime
    from mailgate.store.db import make_engine

    old = sa.table("inbound_mail", sa.column("id", sa.Integer), sa.column("received_at", UTCDateTime()),
                   sa.column("source", sa.String), sa.column("source_ref", sa.String),
                   sa.column("envelope_to", JSON()), sa.column("dedupe_key", sa.String), sa.column("size", sa.Integer),
                   sa.column("raw", sa.LargeBinary), sa.column("status", sa.String), sa.column("attempts", sa.Integer))
    engine = make_engine(db_url)
    try:
        schema_at(engine, "0011")
        with engine.begin() as conn:
            conn.execute(sa.insert(old), [dict(id=i, received_at=utcnow(), source="smtp", source_ref="x",
                                               envelope_to=[], dedupe_key=f"k{i}", size=5, raw=b"mail%d" % i,
                                               status="received", attempts=0) for i in (1, 2)])
        migrate.upgrade(engine)
        with engine.connect() as conn:
            moved = dict(conn.execute(sa.text("SELECT inbound_id, raw FROM inbound_raw ORDER BY inbound_id")).all())
            columns = {c["name"] for c in sa.inspect(conn).get_columns("inbound_mail")}
        assert {k: bytes(v) for k, v in moved.items()} == {1: b"mail1", 2: b"mail2"} and "raw" not in columns
        schema_at(engine, "0011")
        with engine.connect() as conn:
            back = dict(conn.execute(sa.text("SELECT id, raw FROM inbound_mail ORDER BY id")).all())
            assert not sa.inspect(conn).has_table("inbound_raw")
        assert {k: bytes(v) for k, v in back.items()} == {1: b"mail1", 2: b"mail2"}
        migrate.upgrade(engine)
    finally:
        engine.dispose()


async def test_big_raw_bytes_and_attachments_are_stored_byte_for_byte(db_url: str, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Values of 64 kB and more go in through SQLite's blob I/O (store/blobs.py) and are read back through it;
    on PostgreSQL a big mail goes in by COPY and is read back in slices (here of 50,000 bytes, 6 of them, the
    last one short): the same bytes come out."""
    monkeypatch.setattr(inbound, "PG_SLICE", 50_000)
    import base64

    import sqlalchemy as sa

    from mailgate.store.tables import attachment, inbound_raw

    content = bytes(range(256)) * 800  # 200 kB
    small = b"%PDF-1.4 small\n"
    raw = ("From: customer1@client.example\r\nTo: support@example.test\r\nSubject: Capture\r\n"
           "Message-ID: <big-1@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n"
           "\r\n--X\r\nContent-Type: text/plain\r\n\r\nVoici.\r\n--X\r\nContent-Type: application/octet-stream\r\n"
           "Content-Disposition: attachment; filename=big.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(content).decode().replace("\n", "\r\n") + "--X\r\nContent-Type: application/pdf\r\n"
           "Content-Disposition: attachment; filename=small.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           + base64.encodebytes(small).decode() + "--X--\r\n").encode()
    settings = make_settings(db_url, 25, tmp_path)
    await write(settings, inbound.store_many, [replace(request(1), raw=raw)], utcnow())
    worker = worker_for(settings)
    try:
        assert [r.status for r in await worker.process_batch()] == ["processed"]
        with worker.db.engine.connect() as conn:
            stored = bytes(conn.execute(sa.select(inbound_raw.c.raw)).scalar_one())
            files = {r.filename: bytes(r.content) for r in conn.execute(
                sa.select(attachment.c.filename, attachment.c.content))}
    finally:
        worker.db.close()
    assert stored == raw
    assert files == {"big.bin": content, "small.pdf": small}


def test_a_ticket_update_keeps_its_first_resolution_and_adds_alert_repeats(db_url: str, tmp_path: Path) -> None:
    """tickets.update runs statements built once per set of columns: the values are bound, never built in."""
    db = open_database(make_settings(db_url, 25, tmp_path))
    t0 = utcnow().replace(microsecond=0)
    spec = NewTicket(title="Imprimante", requester=Address("c@client.example", "C"), cc=(),
                     type=RequestType.ASSISTANCE, level=1, priority=Priority.NORMAL, locale="fr", dedupe_key="disk")
    try:
        number = db.write_now(tickets.create, spec, t0)
        steps = [(TicketChange(status=Status.ANSWER_SENT), 1), (TicketChange(alert_repeats=2), 2),
                 (TicketChange(status=Status.CLOSED), 3), (TicketChange(alert_repeats=3, priority=Priority.HIGH), 4)]
        for change, minutes in steps:
            db.write_now(tickets.update, number, change, t0 + timedelta(minutes=minutes))
        row = db.read_now(lambda conn: conn.execute(sa.select(ticket).where(ticket.c.id == number)).one()._mapping)
    finally:
        db.close()
    assert row["resolved_at"] == t0 + timedelta(minutes=1)  # the answer's, not the close's
    assert row["status_changed_at"] == t0 + timedelta(minutes=3)
    assert row["updated_at"] == t0 + timedelta(minutes=4)
    assert (row["status"], row["priority"], row["alert_count"]) == (Status.CLOSED.value, Priority.HIGH.value, 6)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from("a\x00é\\\"\u2028 u0")),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(alphabet="k\x00é", max_size=3) | st.integers(),
                                                                inner, max_size=4), max_leaves=20)


@settings(max_examples=300, deadline=None)
@example(value={"a\x00": ["x\x00y", "\\u0000", 2**70, -2**64 - 1, 2**63]})  # a NUL in a key, "\u0000", long integers
@given(value=_JSON_VALUES)
def test_a_json_columns_text_reads_back_as_the_stdlib_writes_it_without_nul(value: Any) -> None:
    """columns.json_text (orjson) against json.dumps: the same value read back, with no NUL in any string."""
    read = json_value(json_text(value))  # as the engines read it
    assert read == json.loads(json.dumps(_without_nul(value)))
    assert _without_nul(read) == read  # no NUL left in any string
    assert json_value(json_text([float("nan"), float("inf")])) == [None, None]


def test_a_row_inserted_by_its_sql_text_reads_back_as_cores(db_url: str, tmp_path: Path) -> None:
    """store/driver_sql: the same row as Connection.execute writes (NUL dropped, datetimes, JSON, booleans), its
    id back, and None for a duplicate under ON CONFLICT DO NOTHING."""
    db = open_database(make_settings(db_url, 25, tmp_path))
    now = utcnow()
    values = dict(ticket_id=None, kind="ack", envelope_from="s\x00@x", envelope_to=["a@b", "é\x00"],
                  raw=b"\x00raw", status="queued", attempts=0, created_at=now, next_attempt_at=now,
                  deadline=now + timedelta(days=1), automatic=True, recipient="a@b")
    inbound_row = dict(received_at=now, source="test", source_ref="r", envelope_from=None, envelope_to=["x@y"],
                       message_id="m@x", dedupe_key="k" * 64, size=3, status="received", attempts=0)
    lean_mail = Statement(sqlite_dialect.insert(inbound_mail).on_conflict_do_nothing(index_elements=["dedupe_key"])
                          if db_url.startswith("sqlite") else
                          postgresql_dialect.insert(inbound_mail).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                          returning=True)

    def both(conn: Any) -> tuple[Any, ...]:
        lean = Statement(sa.insert(outbox), returning=True).new_id(conn, dict(values, message_id="lean@x"))
        core = conn.execute(sa.insert(outbox).returning(outbox.c.id), dict(values, message_id="core@x")).scalar_one()
        first = lean_mail.new_id_or_none(conn, inbound_row)
        again = lean_mail.new_id_or_none(conn, inbound_row)
        rows = {r["id"]: dict(r) for r in conn.execute(sa.select(outbox)).mappings()}
        number = tickets.create(conn, NewTicket(title="T", requester=Address("c@x.example"), cc=(),
                                                type=RequestType.ASSISTANCE, level=1, priority=Priority.NORMAL,
                                                locale="fr"), now)
        events = [dict(ticket_id=number, at=now, kind=k, data={"k\x00": [1, "v\x00"]}, inbound_id=first) for k in "ab"]
        Statement(sa.insert(event)).many(conn, events)
        conn.execute(sa.insert(event), events)
        written = [dict(r) for r in conn.execute(sa.select(event.c.at, event.c.kind, event.c.data, event.c.inbound_id)
                                                   .order_by(event.c.id)).mappings()]
        assert written[:2] == written[2:] and written[0]["data"] == {"k": [1, "v"]}
        return lean, core, rows, first, again

    try:
        lean, core, rows, first, again = db.write_now(both)
    finally:
        db.close()
    assert lean != core and isinstance(first, int) and again is None
    assert {k: v for k, v in rows[lean].items() if k not in ("id", "message_id")} == \
        {k: v for k, v in rows[core].items() if k not in ("id", "message_id")}
    assert rows[lean]["envelope_from"] == "s@x" and rows[lean]["envelope_to"] == ["a@b", "é"]


def test_a_statement_whose_table_has_python_side_defaults_is_refused_not_run_without_them() -> None:
    """Core's execution fills a column's `default=` in; run by its text alone the column would be NULL."""
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("a", sa.Integer, default=5), sa.Column("b", sa.Integer))
    engine = sa.create_engine("sqlite://")
    table.create(engine)
    with engine.begin() as conn:
        with pytest.raises(ValueError, match="Python-side defaults"):
            Statement(sa.insert(table), returning=True).new_id(conn, {"b": 1})
        assert Statement(sa.insert(table), returning=True).new_id(conn, {"a": 2, "b": 1}) == 1


def test_text_columns_bind_without_nul_on_both_databases() -> None:
    from mailgate.store.columns import String, Text  # noqa: PLC0415

    for dialect in (sqlite_dialect.dialect(), postgresql_dialect.psycopg.dialect()):
        for column_type in (String(20), Text()):
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            assert process is not None, (dialect.name, column_type)
            assert [process(v) for v in ("Pan\x00ne", "plain", None)] == ["Panne", "plain", None]


def test_datetimes_bind_to_their_own_text_when_one_repeats() -> None:
    """SQLite's datetime processor keeps the text of the last datetime bound (a batch binds its `now` again and
    again): every value, repeated or not, an equal one or the same object, still binds to its own text."""
    from mailgate.store.columns import UTCDateTime  # noqa: PLC0415

    dialect = sqlite_dialect.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    now = datetime(2026, 12, 8, 9, 30, 0, 5, tzinfo=UTC)
    paris = datetime(2026, 12, 8, 10, 31, tzinfo=timezone(timedelta(hours=1)))
    values = [now, now, None, now, paris, paris, now + timedelta(seconds=1), None, None, now]
    assert [process(v) for v in values] == [
        "2026-12-08 09:30:00.000005", "2026-12-08 09:30:00.000005", None, "2026-12-08 09:30:00.000005",
        "2026-12-08 09:31:00.000000", "2026-12-08 09:31:00.000000", "2026-12-08 09:30:01.000005", None, None,
        "2026-12-08 09:30:00.000005"]
    with pytest.raises(ValueError, match="naive"):
        process(datetime(2026, 12, 8))
    with pytest.raises(ValueError, match="naive"):  # not the text of the datetime bound before it
        process(datetime(2026, 12, 8, 9, 30, 0, 5))


def test_mails_marked_sent_by_the_sql_text_read_back_as_by_core(db_url: str, tmp_path: Path) -> None:
    db = open_database(make_settings(db_url, 25, tmp_path))
    now = utcnow()

    def both(conn: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        ids = [outbox_store.enqueue(conn, ticket_id=None, kind="ack", message_id=f"{n}@x", envelope_from="s@x",
                              envelope_to=["a@b"], raw=b"raw", now=now, deadline=now + timedelta(days=1))
               for n in ("lean", "core")]
        outbox_store.lease_due(conn, now, timedelta(minutes=5), 10, "me")
        outbox_store.mark_all_sent(conn, ids[:1], now)
        conn.execute(sa.update(outbox).where(outbox.c.id == ids[1]).values(
            status="sent", sent_at=now, last_error=None, leased_by=None))
        lean, core = (dict(conn.execute(sa.select(outbox).where(outbox.c.id == i)).mappings().one())
                      for i in ids)
        return lean, core

    try:
        lean, core = db.write_now(both)
    finally:
        db.close()
    assert lean["status"] == "sent" and lean["sent_at"] == now and lean["leased_by"] is None
    assert {k: v for k, v in lean.items() if k not in ("id", "message_id")} == \
        {k: v for k, v in core.items() if k not in ("id", "message_id")}


def test_a_statement_run_on_the_drivers_cursor_fails_as_through_sqlalchemy(db_url: str, tmp_path: Path) -> None:
    """driver_sql runs the per-mail statements on the driver's cursor: its errors are SQLAlchemy's classes, and a
    connection the server dropped is marked invalidated, so that store/faults tells them apart alike."""
    db = open_database(make_settings(db_url, 25, tmp_path))
    now = utcnow()
    values = dict(ticket_id=None, kind="ack", message_id="same@x", envelope_from="s@x", envelope_to=["a@b"],
                  raw=b"raw", status="queued", attempts=0, created_at=now, next_attempt_at=now,
                  deadline=now + timedelta(days=1), automatic=False, recipient="a@b")
    insert = Statement(sa.insert(outbox), returning=True)

    def twice(conn: Any) -> None:
        insert.new_id(conn, values)
        insert.new_id(conn, values)  # the same Message-ID: unique

    try:
        with pytest.raises(sa.exc.IntegrityError) as refused:
            db.write_now(twice)
        assert not is_temporary(refused.value) and not refused.value.connection_invalidated
        assert db.read_now(lambda c: c.execute(sa.select(sa.func.count()).select_from(outbox)).scalar()) == 0
        if db.is_sqlite:
            return

        def dropped(conn: Any) -> None:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with sa.create_engine(db.engine.url, poolclass=sa.NullPool).connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            insert.new_id(conn, dict(values, message_id="after@x"))

        with pytest.raises(sa.exc.DBAPIError) as lost:
            db.write_now(dropped)
        assert lost.value.connection_invalidated and database_unavailable(lost.value)
        assert db.write_now(lambda c: insert.new_id(c, dict(values, message_id="again@x"))) > 0  # a new connection
    finally:
        db.close()
