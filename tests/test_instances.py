"""Several daemons on one database: the sweeper and each IMAP mailbox run in one of them at a time (the holder
of a PostgreSQL advisory lock, or of a flock beside the SQLite file), the other takes over when the holder dies;
mail is stored, processed and answered once whichever daemon takes it; `mailgate status` tells a daemon runs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from structlog.testing import capture_logs

from mailgate import log
from mailgate.ingest.imap import lease_name
from mailgate.store import leases, migrate
from mailgate.store.db import make_engine
from mailgate.store.tables import inbound_mail, outbox, ticket
from tests.conftest import SmartHostSink, cli, read, settings_data, until, write_config
from tests.dovecot import PASSWORD, USER, Dovecot

REPO = Path(__file__).resolve().parent.parent
logger = log.get("test_instances")


# ---------------------------------------------------------------- the leases, in this process

def _role(name: str, active: list[str], overlaps: list[list[str]]) -> Callable[[asyncio.Event], Awaitable[None]]:
    async def run(until: asyncio.Event) -> None:
        active.append(name)
        if len(active) > 1:
            overlaps.append(list(active))
        try:
            await until.wait()
        finally:
            active.remove(name)
    return run


def _events(logs: list[dict[str, Any]], event: str) -> int:
    return sum(1 for e in logs if e["event"] == event)


async def test_one_holder_at_a_time_and_the_other_takes_over(db_url: str) -> None:
    engine = make_engine(db_url)
    first, second = leases.leases_for(engine), leases.leases_for(engine)
    active: list[str] = []
    overlaps: list[list[str]] = []
    stop_a, stop_b = asyncio.Event(), asyncio.Event()
    try:
        with capture_logs() as logs:
            a = asyncio.create_task(leases.run_held(first, "test", _role("a", active, overlaps), stop_a, logger,
                                                    waiting="standing by", every=0.05))
            await until(lambda: active == ["a"], what="the first to hold the lease")
            b = asyncio.create_task(leases.run_held(second, "test", _role("b", active, overlaps), stop_b, logger,
                                                    waiting="standing by", every=0.05))
            await asyncio.sleep(0.5)  # about ten tries
            assert active == ["a"] and not second.take("test") and not first.take("test")  # (nor twice here)
            assert first.holds("test") and not second.holds("test")
            with engine.connect() as conn:
                assert leases.probe(conn, "test") is True
            stop_a.set()
            await asyncio.wait_for(a, 5)
            await until(lambda: active == ["b"], timeout=2, what="the other to take over")
            stop_b.set()
            await asyncio.wait_for(b, 5)
        with engine.connect() as conn:
            assert leases.probe(conn, "test") is False  # given back on stop
        assert overlaps == []
        assert _events(logs, "standing by") == 1  # logged once, not at every try
        assert _events(logs, "lease taken: this instance runs it") == 2
    finally:
        first.close()
        second.close()
        engine.dispose()


@pytest.mark.postgres
async def test_a_holder_whose_connection_dies_stops_and_the_other_takes_over(pg_database: str) -> None:
    engine = make_engine(pg_database)
    first, second = leases.leases_for(engine), leases.leases_for(engine)
    active: list[str] = []
    stop = asyncio.Event()
    try:
        with capture_logs() as logs:
            a = asyncio.create_task(leases.run_held(first, "test-lost", _role("a", active, []), stop, logger,
                                                    waiting="standing by", every=0.3))
            await until(lambda: active == ["a"], what="the first to hold the lease")
            b = asyncio.create_task(leases.run_held(second, "test-lost", _role("b", active, []), stop, logger,
                                                    waiting="standing by", every=0.05))
            await asyncio.sleep(0.2)
            (holder,) = _lock_holders(engine, "test-lost")
            with engine.connect() as conn:  # as when the server restarts or the network cuts the connection
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
            await until(lambda: active == ["b"], timeout=3, what="the other to take over")
            await until(lambda: _events(logs, "standing by") == 2, timeout=3, what="the first to stand by")
            assert active == ["b"]  # the first stopped its role and stands by
            assert _lock_holders(engine, "test-lost") != [holder]
            stop.set()
            await asyncio.wait_for(asyncio.gather(a, b), 5)
        lost = [e for e in logs if e["event"].startswith("lease lost")]
        assert len(lost) == 1 and lost[0]["log_level"] == "warning"
        assert _events(logs, "standing by") == 2  # the second at first, the first after its loss
    finally:
        first.close()
        second.close()
        engine.dispose()


def _lock_holders(engine: sa.Engine, name: str, column: str = "pid") -> list[Any]:
    """The server processes (or their application_name) holding the advisory lock of lease `name`."""
    key = leases.lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            f"SELECT a.{column} FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
            " AND l.classid = CAST(:hi AS oid) AND l.objid = CAST(:lo AS oid)"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"hi": key >> 32, "lo": key & 0xFFFF_FFFF}).scalars())


def test_sqlite_lease_is_a_flock_let_go_when_its_holder_is_killed(tmp_path: Path) -> None:
    database = tmp_path / "mailgate.sqlite3"
    config = write_config(tmp_path / "config.toml", settings_data(f"sqlite:///{database}", 1))
    engine = make_engine(f"sqlite:///{database}")
    migrate.upgrade(engine)
    engine.dispose()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from mailgate.store.leases import FileLeases\n"
        f"assert FileLeases({str(database)!r}).take('sweeper'); print('held', flush=True); time.sleep(60)")],
        cwd=REPO, stdout=subprocess.PIPE)
    here = leases.FileLeases(str(database))
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        assert Path(f"{database}.lease-sweeper").read_text().split()[1] == str(holder.pid)  # beside the file
        assert not here.take(leases.SWEEPER)
        shown = cli(config, "status")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.decode().splitlines()[0] == "daemon: running (leader lock held)"
        holder.kill()  # SIGKILL: nothing given back but by the system
        holder.wait(10)
        assert here.take(leases.SWEEPER) and here.holds(leases.SWEEPER)
        here.give_back(leases.SWEEPER)
        status = json.loads(cli(config, "status", "--json").stdout)
        assert status["daemon"] == {"running": False}
        mailbox = lease_name(_mailbox(1))
        assert Path(leases.lock_file(str(database), mailbox)).name.startswith("mailgate.sqlite3.lease-imap-")
    finally:
        here.close()
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _mailbox(port: int, **entry: Any) -> Any:
    from mailgate.config.sections import Imap

    return Imap(host="127.0.0.1", port=port, tls="none", username=USER, password_env="X", **entry)


# ---------------------------------------------------------------- two daemons, one PostgreSQL, one mailbox

@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if shutil.which("dovecot") is None and not Path("/usr/sbin/dovecot").exists():
        if os.environ.get("MAILGATE_REQUIRE_DOVECOT") == "1":
            pytest.fail("dovecot is required (apt-get install dovecot-imapd) but missing")
        pytest.skip("dovecot not installed (apt-get install dovecot-imapd)")
    server = Dovecot()
    server.start()
    yield server
    server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail(i: int) -> bytes:
    return (f"From: customer{i}@client.example\r\nTo: support@example.test\r\nSubject: Demande {i}\r\n"
            f"Message-ID: <instances-{i}@client.example>\r\n\r\nBonjour, demande {i}.\r\n").encode()


class Instance:
    """`mailgate run` in a process (and session) of its own, its log in a file."""

    def __init__(self, tmp_path: Path, name: str, data: dict[str, Any], smtp_port: int) -> None:
        self.smtp_port = smtp_port
        self.config = write_config(tmp_path / f"{name}.toml", {**data, "smtp": {**data["smtp"], "port": smtp_port}})
        self.log = tmp_path / f"{name}.log"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "mailgate", "-c", str(self.config), "run"], cwd=REPO,
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        self.pid = self.proc.pid

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
            self.proc.wait(10)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


def _imap_connections(pid: int, port: int) -> int:
    """The process's open TCP connections to `port` on this host (from /proc: what it really does)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port and fields[3] == "01":  # ESTABLISHED
                inodes.add(fields[9])
    found = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        found += target.startswith("socket:[") and target[8:-1] in inodes
    return found


def _holders(engine: sa.Engine, names: list[str]) -> dict[str, int | None]:
    """The daemon (its pid, from the lease connection's application_name) holding each lease."""
    found: dict[str, int | None] = {}
    for name in names:
        apps = _lock_holders(engine, name, "application_name")
        assert len(apps) <= 1
        found[name] = int(apps[0].rsplit(":", 1)[1]) if apps else None
    return found


def _send(port: int, numbers: range) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        for i in numbers:
            client.sendmail(f"customer{i}@client.example", ["support@example.test"], _mail(i))


def _state(conn: Any) -> dict[str, Any]:
    return {
        "stored": conn.execute(sa.select(sa.func.count()).select_from(inbound_mail)).scalar_one(),
        "titles": sorted(conn.execute(sa.select(ticket.c.title)).scalars()),
        "acks": list(conn.execute(sa.select(outbox.c.ticket_id).where(outbox.c.kind == "ack",
                                                                      outbox.c.status == "sent")).scalars()),
    }


@pytest.mark.postgres
@pytest.mark.imap
async def test_two_daemons_share_one_database_and_one_mailbox(
    pg_database: str, smart_host: SmartHostSink, tmp_path: Path, dovecot: Dovecot
) -> None:
    from tests.conftest import _truncate_pg

    _truncate_pg(pg_database)
    (tmp_path / "imap-password").write_text(PASSWORD + "\n")
    data = settings_data(pg_database, smart_host.port, daemon__processes=1, log__level="info")
    data["imap"] = [{"name": "support", "host": "127.0.0.1", "port": dovecot.port, "tls": "none", "username": USER,
                     "password_file": str(tmp_path / "imap-password"), "idle": False, "poll_interval": 0.3,
                     "backoff_initial": 0.1, "backoff_max": 0.5, "timeout": 5}]
    mailbox = lease_name(_mailbox(dovecot.port))
    engine = make_engine(pg_database)
    settings = _settings(write_config(tmp_path / "config.toml", data))
    for i in range(5):
        dovecot.append(_mail(i))
    first = Instance(tmp_path, "first", data, _free_port())
    second: Instance | None = None
    try:
        await until(lambda: _holders(engine, [leases.SWEEPER, mailbox]) == {leases.SWEEPER: first.pid,
                                                                           mailbox: first.pid},
                    timeout=20, what="the first daemon to hold both leases")
        second = Instance(tmp_path, "second", data, _free_port())
        await until(lambda: "another instance polls this mailbox" in second.text(), timeout=20,
                    what="the second daemon to stand by")
        # mail in through both SMTP listeners at once: both workers and both senders take from one store
        await asyncio.gather(asyncio.to_thread(_send, first.smtp_port, range(100, 120)),
                             asyncio.to_thread(_send, second.smtp_port, range(200, 220)))
        await until(lambda: len(smart_host.received) == 45, timeout=30, what="45 acknowledgements")
        assert _imap_connections(first.pid, dovecot.port) == 1 and _imap_connections(second.pid, dovecot.port) == 0
        assert "mail processed" in first.text() and "mail processed" in second.text()  # both worked

        first.kill()  # kill -9: the leases go with its connection
        killed = time.monotonic()
        await until(lambda: _holders(engine, [leases.SWEEPER, mailbox]) == {leases.SWEEPER: second.pid,
                                                                           mailbox: second.pid},
                    timeout=15, what="the second daemon to take both leases")
        took = time.monotonic() - killed
        for i in range(5, 8):
            dovecot.append(_mail(i))
        await until(lambda: len(smart_host.received) == 48, timeout=20, what="the mail after the takeover")
        assert _imap_connections(second.pid, dovecot.port) == 1
        status = json.loads((await asyncio.to_thread(cli, first.config, "status", "--json")).stdout)
        assert status["daemon"] == {"running": True}
        assert status["imap"][0]["stored"] == 8 and status["inbound"]["processed"] == 48

        second.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.proc.wait, 30) == 0
        text = (await asyncio.to_thread(cli, first.config, "status")).stdout.decode()
        assert text.splitlines()[0] == "daemon: not running (leader lock free)"
        final = await read(settings, _state)
    finally:
        first.kill()
        if second is not None:
            second.kill()
        engine.dispose()
    print(f"leases taken over {took:.1f} s after the kill")
    assert took < leases.TRY_EVERY + 5
    numbers = [*range(8), *range(100, 120), *range(200, 220)]
    assert final["stored"] == 48  # every mail stored once
    assert final["titles"] == sorted(f"Demande {i}" for i in numbers)  # no ticket doubled
    assert sorted(final["acks"]) == sorted(set(final["acks"])) and len(final["acks"]) == 48  # one ack each
    sent = [bytes(e.original_content or b"").split(b"Message-ID: <", 1)[1].split(b">", 1)[0]
            for e in smart_host.received]
    assert len(sent) == len(set(sent)) == 48  # none sent twice by the two senders
    assert dovecot.uids("INBOX") == []
    log_text = second.text()
    assert log_text.count("another instance polls this mailbox") == 1  # once, not at every try
    assert log_text.count("another instance runs the sweeper") == 1
    assert log_text.count("lease taken: this instance runs it") == 2


def _settings(config: Path) -> Any:
    from mailgate.config.settings import load

    return load(config)
