"""Which database errors are temporary: by class and SQLSTATE, the same for every driver; and the task loop
that outlives them all."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from mailgate import log
from mailgate.store.db import repeat_while_up
from mailgate.store.faults import database_unavailable, is_configuration, is_temporary


class DriverError(Exception):
    def __init__(self, sqlstate: str | None) -> None:
        super().__init__(f"server said {sqlstate}")
        self.sqlstate = sqlstate


def wrapped(sqlstate: str | None, cls: type[DBAPIError] = DBAPIError, invalidated: bool = False) -> DBAPIError:
    return cls("SELECT 1", {}, DriverError(sqlstate), connection_invalidated=invalidated)


@pytest.mark.parametrize("sqlstate", ["57P01", "57P02", "57P03", "53300", "55000", "08006", "08001", "58030"])
def test_a_server_down_starting_full_or_refusing_is_unavailable(sqlstate: str) -> None:
    exc = wrapped(sqlstate)  # SQLAlchemy wraps asyncpg's connect-time errors in a bare DBAPIError
    assert database_unavailable(exc) and is_temporary(exc) and not is_configuration(exc)


@pytest.mark.parametrize("sqlstate", ["40001", "40P01", "55P03"])
def test_a_lost_race_is_temporary_but_the_server_is_up(sqlstate: str) -> None:
    exc = wrapped(sqlstate)
    assert is_temporary(exc) and not database_unavailable(exc)


@pytest.mark.parametrize("sqlstate", ["23505", "22001", "42P01", "22021"])
def test_an_error_of_the_statement_is_not_temporary(sqlstate: str) -> None:
    assert not is_temporary(wrapped(sqlstate, IntegrityError))


@pytest.mark.parametrize("sqlstate", ["28P01", "3D000"])
def test_a_wrong_database_or_password_is_configuration(sqlstate: str) -> None:
    assert is_configuration(wrapped(sqlstate))


def test_a_dropped_connection_and_network_errors_are_unavailable() -> None:
    assert database_unavailable(wrapped(None, invalidated=True))
    assert database_unavailable(ConnectionRefusedError(111, "refused")) and database_unavailable(TimeoutError())


def test_sqlite_busy_is_temporary_and_counted() -> None:
    locked = wrapped(None, OperationalError)  # "database is locked": the server is not down, the file is busy
    assert is_temporary(locked) and not database_unavailable(locked)
    assert not is_temporary(ValueError("a bug"))


async def test_the_task_loop_outlives_failing_steps_and_a_failing_idle() -> None:
    stop = asyncio.Event()
    seen: list[str] = []

    async def step() -> bool:
        seen.append("step")
        if len(seen) == 1:
            raise ValueError("a bug in one item")
        return False

    async def idle() -> None:
        seen.append("idle")
        if seen.count("idle") == 1:
            raise wrapped("57P01")  # the sender's idle step reads the database
        stop.set()

    await asyncio.wait_for(repeat_while_up(stop, step, idle, log.get("test")), timeout=10)
    assert seen == ["step", "step", "idle", "step", "idle"]


class ConnectFailure(Exception):
    """psycopg's OperationalError at connect time: libpq's text, no SQLSTATE."""


@pytest.mark.parametrize("text", [
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  the database system is '
    "starting up",
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients',
])
def test_libpq_connect_failures_are_unavailable(text: str) -> None:
    exc = OperationalError("connect", {}, ConnectFailure(text))
    assert database_unavailable(exc) and not is_configuration(exc)


@pytest.mark.parametrize("text", [
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "x" does not exist',
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication '
    'failed for user "mailgate"',
])
def test_libpq_refusals_for_good_are_configuration(text: str) -> None:
    assert is_configuration(OperationalError("connect", {}, ConnectFailure(text)))
