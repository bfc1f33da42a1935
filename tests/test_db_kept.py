"""A SQLite file's connection kept from one transaction to the next (store/db.KeptConnection): the same
connection each time, a fresh one after any failure (nothing half-done carried over), reads begun deferred,
the engine still free for what uses it directly, one thread at a time."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mailgate.store.db import Database, make_engine


def _database(tmp_path: Path) -> Database:
    db = Database(make_engine(f"sqlite:///{tmp_path / 'kept.sqlite3'}"))
    db.write_now(lambda c: c.exec_driver_sql("CREATE TABLE t (n INTEGER)"))
    return db


def _driver(conn: sa.Connection) -> Any:
    return conn.connection.driver_connection


def test_transactions_and_reads_share_one_connection(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        first = db.write_now(_driver)
        assert db.write_now(_driver) is first
        assert db.read_now(_driver) is first
        assert db.read_now(lambda c: c.get_execution_options()["read_only"]) is True  # BEGIN, not IMMEDIATE
        assert db.write_now(lambda c: c.get_execution_options()["read_only"]) is False
    finally:
        db.close()


def test_after_a_failure_the_next_transaction_starts_afresh(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        first = db.write_now(lambda c: c)

        def half_done(conn: sa.Connection) -> None:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            raise RuntimeError("the mail's processing raised")

        with pytest.raises(RuntimeError):
            db.write_now(half_done)
        with pytest.raises(sa.exc.OperationalError):
            db.read_now(lambda c: c.exec_driver_sql("SELECT nothing FROM t").all())
        assert db.write_now(lambda c: c) is not first  # a new Connection, its driver's rolled back by the pool
        db.write_now(lambda c: c.exec_driver_sql("INSERT INTO t VALUES (2)"))
        assert db.read_now(lambda c: c.exec_driver_sql("SELECT n FROM t").scalars().all()) == [2]
    finally:
        db.close()


def test_the_engine_is_still_free_for_what_uses_it_directly(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        db.write_now(lambda c: c.exec_driver_sql("INSERT INTO t VALUES (1)"))
        with db.engine.connect() as conn:  # migrations, the command line: the pool's other connection
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
            assert db.read_now(lambda c: c.exec_driver_sql("SELECT count(*) FROM t").scalar()) == 1
    finally:
        db.close()


def test_one_thread_at_a_time(tmp_path: Path) -> None:
    db = _database(tmp_path)
    inside, overlaps = [0], []

    def add(conn: sa.Connection, n: int) -> None:
        inside[0] += 1
        overlaps.append(inside[0])
        conn.exec_driver_sql("INSERT INTO t VALUES (?)", (n,))
        inside[0] -= 1

    try:
        threads = [threading.Thread(target=lambda n=n: [db.write_now(add, n * 100 + k) for k in range(50)])
                   for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert max(overlaps) == 1
        assert db.read_now(lambda c: c.exec_driver_sql("SELECT count(DISTINCT n) FROM t").scalar()) == 200
    finally:
        db.close()


def test_closing_does_not_wait_for_a_read_that_hangs(tmp_path: Path) -> None:
    db = _database(tmp_path)
    inside, release = threading.Event(), threading.Event()

    def hanging(conn: sa.Connection) -> int:
        inside.set()
        release.wait(10)
        return int(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())

    reader = threading.Thread(target=lambda: db.read_now(hanging))
    reader.start()
    assert inside.wait(10)
    closer = threading.Thread(target=db.close)
    closer.start()
    closer.join(5)
    try:
        assert not closer.is_alive()  # closed without waiting; the reader's connection goes when it is done
    finally:
        release.set()
        reader.join(10)
