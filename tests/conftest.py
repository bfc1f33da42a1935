"""Shared fixtures: databases (SQLite file, local PostgreSQL), a capturing smart host, a running daemon."""

from __future__ import annotations

import asyncio
import json
import os
import smtplib
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailgate.clock import Clock, utcnow
from mailgate.config.settings import Settings, from_dict
from mailgate.daemon import Daemon
from mailgate.store import migrate
from mailgate.store.db import make_engine
from mailgate.store.tables import metadata

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN_URL = os.environ.get("MAILGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "test-secret-0123456789abcdef"


def eml(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# ---------------------------------------------------------------- databases

def pg_admin(sql: str) -> None:
    """One statement on the test server's admin database, outside a transaction (CREATE DATABASE...)."""
    engine = make_engine(PG_ADMIN_URL)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(sql))
    finally:
        engine.dispose()


def _pg_available() -> str | None:
    try:
        pg_admin("select 1")
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head; dropped at the end."""
    problem = _pg_available()
    if problem is not None:
        if os.environ.get("MAILGATE_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}")
    name = f"mailgate_test_{uuid.uuid4().hex[:10]}"
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    url = f"{base}/{name}"

    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
        yield url
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_pg(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(t.name for t in metadata.sorted_tables)
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on an empty SQLite file and on an emptied PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mailgate.sqlite3'}"
    url = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


# ---------------------------------------------------------------- smart host

@dataclass
class SmartHostSink:
    """A real SMTP server (aiosmtpd) standing in for the smart host; answers can be scripted."""

    answers: list[str] = field(default_factory=list)  # consumed one per DATA; "250 OK" when empty
    received: list[Envelope] = field(default_factory=list)
    ehlo_names: list[str] = field(default_factory=list)  # the EHLO/HELO name of each accepted mail's session
    port: int = 0
    server: asyncio.Server | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self.answers.pop(0) if self.answers else "250 2.0.0 OK"
        if answer.startswith("2"):
            self.received.append(envelope)
            self.ehlo_names.append(str(session.host_name))
        return answer

    def messages(self) -> list[bytes]:
        return [bytes(e.original_content or b"") for e in self.received]


@pytest.fixture
async def smart_host() -> AsyncIterator[SmartHostSink]:
    sink = SmartHostSink()
    loop = asyncio.get_running_loop()
    sink.server = await loop.create_server(lambda: SMTP(sink), host="127.0.0.1", port=0)
    sink.port = sink.server.sockets[0].getsockname()[1]
    yield sink
    sink.server.close()


# ---------------------------------------------------------------- settings and daemon

def make_settings(db_url: str, smart_host_port: int, tmp_path: Path, **overrides: Any) -> Settings:
    return from_dict(settings_data(db_url, smart_host_port, **overrides), str(tmp_path / "config.toml"))


def settings_data(db_url: str, smart_host_port: int, **overrides: Any) -> dict[str, Any]:
    """A test config as a dict; `section__key=value` overrides one entry."""
    data: dict[str, Any] = {
        "gateway": {"addresses": ["support@example.test", "help@example.test"],
                    "from": "Support <support@example.test>", "locale": "fr", "secret": SECRET,
                    "rules": str(FIXTURES / "rules_none")},
        "database": {"url": db_url},
        "smtp": {"host": "127.0.0.1", "port": 0, "max_message_size": 64 * 1024},
        "outbound": {"host": "127.0.0.1", "port": smart_host_port or 1, "timeout": 5,
                     "retry_initial_delay": 0.05, "retry_max_delay": 0.2, "retry_deadline": 30,
                     "poll_interval": 0.2},
        "worker": {"poll_interval": 0.2},
        "log": {"level": "warning"},
        # no N1 agent: new tickets (N1) notify nobody, so tests of the pipeline see only the ack
        "agents": [{"email": "alice@example.test", "name": "Alice", "level": 2},
                   {"email": "bruno@example.test", "name": "Bruno", "level": 3}],
    }
    for dotted, value in overrides.items():
        section, _, key = dotted.partition("__")
        data.setdefault(section, {})[key] = value
    return data


def write_config(path: Path, data: dict[str, Any]) -> Path:
    """Write a config dict as TOML (tables, arrays of tables, scalars and lists of strings)."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v), ensure_ascii=False)

    lines: list[str] = []
    for section, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines += [f"[[{section}]]", *(f"{k} = {value(v)}" for k, v in item.items()), ""]
        else:
            lines += [f"[{section}]", *(f"{k} = {value(v)}" for k, v in body.items() if not isinstance(v, dict)), ""]
            for key, table in body.items():
                if isinstance(table, dict):
                    lines += [f"[{section}.{key}]", *(f"{k} = {value(v)}" for k, v in table.items()), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def cli(config: Path, *args: str, stdin: bytes = b"", timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run the real command line in a subprocess."""
    return subprocess.run([sys.executable, "-m", "mailgate", "-c", str(config), *args], input=stdin,
                          capture_output=True, timeout=timeout, cwd=Path(__file__).parent.parent)


@pytest.fixture
def settings(db_url: str, smart_host: SmartHostSink, tmp_path: Path) -> Settings:
    return make_settings(db_url, smart_host.port, tmp_path)


@asynccontextmanager
async def running(settings: Settings, clock: Clock = utcnow) -> AsyncIterator[Daemon]:
    daemon = Daemon(settings, clock=clock)
    await daemon.start()
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, timeout=15)


@pytest.fixture
async def daemon(settings: Settings) -> AsyncIterator[Daemon]:
    async with running(settings) as d:
        yield d


async def until(check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 10.0,
                what: str = "condition") -> None:
    """Poll `check` until it is true; fail the test after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


async def smtp_send(port: int, raw: bytes, *, sender: str = "client@example.org",
                    rcpts: tuple[str, ...] = ("support@example.test",)) -> dict[str, Any]:
    """Send with the stdlib smtplib client in a thread (a real SMTP conversation)."""
    def go() -> dict[str, Any]:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            return client.sendmail(sender, list(rcpts), raw)

    return await asyncio.to_thread(go)


async def read(settings: Settings, fn: Callable[..., Any], *args: Any) -> Any:
    """Run one store query on a database of its own (as the CLI would), off the event loop."""
    return await asyncio.to_thread(read_now, settings, fn, *args)


def read_now(settings: Settings, fn: Callable[..., Any], *args: Any) -> Any:
    from mailgate.store.schema import database_for

    db = database_for(settings)
    try:
        return db.read_now(fn, *args)
    finally:
        db.close()


async def write(settings: Settings, fn: Callable[..., Any], *args: Any) -> Any:
    """Run one store transaction on a database of its own (migrated first, as the daemon would)."""
    def go() -> Any:
        from mailgate.store.schema import open_database

        db = open_database(settings)
        try:
            return db.write_now(fn, *args)
        finally:
            db.close()

    return await asyncio.to_thread(go)


async def ticket(settings: Settings, number: int) -> dict[str, Any] | None:
    from mailgate.store import tickets

    return await read(settings, tickets.detail, number)  # type: ignore[no-any-return]


async def all_tickets(settings: Settings) -> list[dict[str, Any]]:
    from mailgate.store import tickets

    return await read(settings, tickets.list_all)  # type: ignore[no-any-return]


async def counts(settings: Settings) -> dict[str, dict[str, int]]:
    from mailgate.store import inbound, outbox

    def both(conn: Any) -> dict[str, dict[str, int]]:
        return {"inbound": inbound.counts(conn), "outbox": outbox.counts(conn)}

    return await read(settings, both)  # type: ignore[no-any-return]


def schema_at(engine: Any, revision: str) -> None:
    """The database's schema at `revision`: a new SQLite file upgraded to it, the tests' PostgreSQL database
    (at the head already) downgraded to it."""
    from alembic import command
    from alembic.config import Config

    from mailgate.config.settings import data_dir
    from mailgate.store import migrate

    if migrate.current(engine) is None:
        migrate.upgrade(engine, revision)
        return
    cfg = Config()
    cfg.set_main_option("script_location", str(data_dir("db")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
