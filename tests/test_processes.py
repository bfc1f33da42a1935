"""`mailgate run` as an operator runs it: two processes (listener and worker), the worker process restarted
when it dies, and kill -9 of the whole daemon at any moment under load: nothing acknowledged is lost, no
ticket is doubled, every acknowledgement is queued exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mailgate.processes import GC_YOUNG, collect_for_serving, split_cpus
from mailgate.store.tables import inbound_mail, outbox, ticket
from tests.conftest import SmartHostSink, read, settings_data, until, write_config

REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _start(config: Path) -> subprocess.Popen[bytes]:
    """The daemon in a session of its own, so that the whole process group can be killed at once."""
    return subprocess.Popen([sys.executable, "-m", "mailgate", "-c", str(config), "run"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


@contextlib.contextmanager
def _running(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The daemon (`_start`), killed with its worker process on the way out if it still runs."""
    proc = _start(config)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            _kill_all(proc)


async def _terminated(proc: subprocess.Popen[bytes]) -> bytes:
    """SIGTERM to the daemon, and what it wrote on stderr once it has stopped (within 30 s)."""
    proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.to_thread(proc.communicate, None, 30)
    return bytes(err)


def _kill_all(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the listener and its worker process, at once
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _mail(i: int) -> bytes:
    return (f"From: customer{i}@client.example\r\nTo: support@example.test\r\nSubject: Demande {i}\r\n"
            f"Message-ID: <kill-{i}@client.example>\r\n\r\nBonjour, demande {i}.\r\n").encode()


def _config(tmp_path: Path, db_url: str, smart_host: SmartHostSink, port: int, **extra: Any) -> Path:
    data = settings_data(db_url, smart_host.port, smtp__port=port, daemon__processes=2, **extra)
    return write_config(tmp_path / "config.toml", data)


def test_the_two_processes_take_each_half_of_the_cpus() -> None:
    assert split_cpus({0, 1}) == ({0}, {1})
    assert split_cpus({0, 1, 2}) == ({0}, {1, 2})  # the worker, the busier, gets the odd one
    assert split_cpus({2, 5, 7, 9}) == ({2, 5}, {7, 9})
    assert split_cpus({3}) is None and split_cpus(set()) is None


def _cpus_of(pid: int) -> set[int]:
    return set(os.sched_getaffinity(pid))


async def test_the_worker_process_is_restarted_when_it_dies(smart_host: SmartHostSink, tmp_path: Path) -> None:
    """Also: each process runs on its half of the CPUs (`[daemon] cpu_affinity = "split"`, the default), the
    restarted worker process too."""
    port = _free_port()
    halves = split_cpus(set(os.sched_getaffinity(0)))
    with _running(_config(tmp_path, f"sqlite:///{tmp_path / 'p.sqlite3'}", smart_host, port)) as proc:
        await until(lambda: _listening(port) and len(_children(proc.pid)) == 1, timeout=30,
                    what="the listener and its worker process")
        (worker,) = _children(proc.pid)
        if halves is not None:  # the worker process pins itself as it starts
            await until(lambda: _cpus_of(worker) == halves[1], timeout=30, what="the worker process on its CPUs")
            assert _cpus_of(proc.pid) == halves[0]
        os.kill(worker, signal.SIGKILL)
        await asyncio.to_thread(smtplib.SMTP("127.0.0.1", port).sendmail, "c@client.example",
                                ["support@example.test"], _mail(1))  # the listener still takes mail
        await until(lambda: _children(proc.pid) not in ([], [worker]), timeout=30, what="a new worker process")
        await until(lambda: len(smart_host.received) == 1, timeout=30, what="the acknowledgement")
        if halves is not None:
            (restarted,) = _children(proc.pid)
            await until(lambda: _cpus_of(restarted) == halves[1], timeout=30, what="the new one on its CPUs")
        err = await _terminated(proc)
    assert proc.returncode == 0, err
    assert b"worker process exited, restarting it" in err
    assert not _children(proc.pid)


async def test_without_cpu_affinity_both_processes_may_run_anywhere(smart_host: SmartHostSink,
                                                                   tmp_path: Path) -> None:
    port, everywhere = _free_port(), set(os.sched_getaffinity(0))
    proc = _start(_config(tmp_path, f"sqlite:///{tmp_path / 'p.sqlite3'}", smart_host, port,
                          daemon__cpu_affinity="none"))
    try:
        await until(lambda: _listening(port) and len(_children(proc.pid)) == 1, timeout=30,
                    what="the listener and its worker process")
        await asyncio.to_thread(smtplib.SMTP("127.0.0.1", port).sendmail, "c@client.example",
                                ["support@example.test"], _mail(1))
        await until(lambda: len(smart_host.received) == 1, timeout=30, what="the acknowledgement")  # both at work
        assert [_cpus_of(pid) for pid in (proc.pid, *_children(proc.pid))] == [everywhere, everywhere]
    finally:
        _kill_all(proc)


class Client(threading.Thread):
    """An MTA's worth of retrying: each mail is sent until it gets a 250, whatever the daemon goes through."""

    def __init__(self, port: int, n: int) -> None:
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.acknowledged: set[int] = set()
        self.finished = threading.Event()

    def run(self) -> None:
        client: smtplib.SMTP | None = None
        for i in range(self.n):
            while True:
                try:
                    if client is None:
                        client = smtplib.SMTP("127.0.0.1", self.port, timeout=10)
                    client.sendmail(f"customer{i}@client.example", ["support@example.test"], _mail(i))
                    self.acknowledged.add(i)
                    break
                except (OSError, smtplib.SMTPException):
                    client = None
                    time.sleep(0.05)
        self.finished.set()


async def test_kill_9_at_any_moment_under_load_loses_and_doubles_nothing(db_url: str, smart_host: SmartHostSink,
                                                                         tmp_path: Path) -> None:
    port, n, kills = _free_port(), 240, 3
    config = _config(tmp_path, db_url, smart_host, port)
    sender = Client(port, n)
    proc = _start(config)
    rng = random.Random(7)
    try:
        await until(lambda: _listening(port), timeout=30, what="the listener")
        sender.start()
        for _ in range(kills):
            await asyncio.sleep(rng.uniform(0.8, 2.0))  # somewhere in receiving, processing or sending
            await asyncio.to_thread(_kill_all, proc)
            proc = _start(config)
            await until(lambda: _listening(port), timeout=30, what="the listener after a restart")
        await asyncio.to_thread(sender.finished.wait, 120)
        assert sender.finished.is_set() and sender.acknowledged == set(range(n))

        def state(conn: Any) -> dict[str, Any]:
            return {
                "stored": conn.execute(sa.select(sa.func.count()).select_from(inbound_mail)).scalar_one(),
                "waiting": conn.execute(sa.select(sa.func.count()).select_from(inbound_mail).where(
                    inbound_mail.c.status != "processed")).scalar_one(),
                "titles": [r.title for r in conn.execute(sa.select(ticket.c.title))],
                "acks": [(r.ticket_id, r.message_id, r.status) for r in conn.execute(
                    sa.select(outbox.c.ticket_id, outbox.c.message_id, outbox.c.status).where(outbox.c.kind == "ack"))],
            }

        settings = _settings_of(config)

        async def drained() -> bool:
            s = await read(settings, state)
            return s["waiting"] == 0 and len(s["acks"]) == n and all(a[2] == "sent" for a in s["acks"])

        await until(drained, timeout=90, what="every mail processed and every acknowledgement sent")
        final = await read(settings, state)
    finally:
        if proc.poll() is None:
            _kill_all(proc)
    assert final["stored"] == n  # every mail that got a 250, stored once
    assert sorted(final["titles"]) == sorted(f"Demande {i}" for i in range(n))  # no ticket doubled
    assert sorted(t for t, _, _ in final["acks"]) == sorted(set(t for t, _, _ in final["acks"]))  # one ack each
    sent_ids = [e.original_content.split(b"Message-ID: <", 1)[1].split(b">", 1)[0]  # type: ignore[union-attr]
                for e in smart_host.received]
    queued = {mid.encode() for _, mid, _ in final["acks"]}
    assert set(sent_ids) == queued  # a resend after a kill carries the same Message-ID
    # a kill between the smart host's 250 and the commit recording it resends those mails (docs/delivery.md):
    # copies of one Message-ID stay within the number of kills, and only the few sent at that moment go twice
    assert max(sent_ids.count(mid) for mid in queued) <= 1 + kills
    assert len(sent_ids) - len(queued) <= kills * 10  # not a whole batch of 50 per kill


def _settings_of(config: Path) -> Any:
    from mailgate.config.settings import load

    return load(config)


def test_the_serving_collector_leaves_start_up_out_and_collects_young_objects_less_often() -> None:
    before = gc.get_threshold()
    try:
        kept = [[n] for n in range(100)]  # start-up's objects, say
        collect_for_serving()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (GC_YOUNG, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
