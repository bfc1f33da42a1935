"""The two-process daemon's first worker process is forked before the listener starts: it shares the pages of
what both imported, starts only once the listener has, and never outlives a listener that failed or died."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mailgate.prefork import fork_worker
from mailgate.processes import WORKER_NAME
from tests.conftest import SmartHostSink, settings_data, until, write_config
from tests.test_processes import REPO, _children, _config, _free_port, _listening, _mail, _running, _terminated


def _memory(pid: int) -> dict[str, int]:
    """The process's smaps_rollup figures, in kB."""
    figures = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value = line.split(":", 1)
        figures[key] = int(value.split()[0])
    return figures


def _alive_with(marker: str) -> list[int]:
    """Live processes (zombies excepted) whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (marker.encode() in (entry / "cmdline").read_bytes()
                        and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


async def test_the_first_worker_process_shares_the_listeners_pages_a_restarted_one_is_started_anew(
        smart_host: SmartHostSink, tmp_path: Path) -> None:
    port = _free_port()
    with _running(_config(tmp_path, f"sqlite:///{tmp_path / 'f.sqlite3'}", smart_host, port)) as proc:
        await until(lambda: _listening(port) and len(_children(proc.pid)) == 1, timeout=30,
                    what="the listener and its worker process")
        await asyncio.to_thread(smtplib.SMTP("127.0.0.1", port).sendmail, "c@client.example",
                                ["support@example.test"], _mail(1))
        await until(lambda: len(smart_host.received) == 1, timeout=30, what="the forked worker's acknowledgement")
        (forked,) = _children(proc.pid)
        assert Path(f"/proc/{forked}/cmdline").read_bytes() == Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert Path(f"/proc/{forked}/comm").read_text().strip() == WORKER_NAME  # top tells them apart
        assert Path(f"/proc/{proc.pid}/comm").read_text().strip() != WORKER_NAME
        shared = _memory(forked)
        # an exec'd process's anonymous pages are its own (Pss_Anon == Anonymous); half of each shared one counts
        assert shared["Pss_Anon"] < 0.9 * shared["Anonymous"], shared
        os.kill(forked, signal.SIGKILL)
        await until(lambda: _children(proc.pid) not in ([], [forked]), timeout=30, what="a new worker process")
        (restarted,) = _children(proc.pid)
        await asyncio.to_thread(smtplib.SMTP("127.0.0.1", port).sendmail, "c@client.example",
                                ["support@example.test"], _mail(2))
        await until(lambda: len(smart_host.received) == 2, timeout=30, what="the restarted worker's acknowledgement")
        assert b"--worker-process" in Path(f"/proc/{restarted}/cmdline").read_bytes()
        assert Path(f"/proc/{restarted}/comm").read_text().strip() == WORKER_NAME
        anew = _memory(restarted)
        assert anew["Pss_Anon"] > 0.97 * anew["Anonymous"], anew  # the contrast: nothing shared
        err = await _terminated(proc)
    assert proc.returncode == 0, err
    assert not _children(proc.pid)


async def test_a_listener_that_cannot_start_leaves_no_worker_process_behind(smart_host: SmartHostSink,
                                                                           tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = _config(tmp_path, f"sqlite:///{tmp_path / 'f.sqlite3'}", smart_host, taken.getsockname()[1])
        with _running(config) as proc:
            _, err = await asyncio.to_thread(proc.communicate, None, 30)
    assert proc.returncode == 1 and b"cannot start" in err, err
    assert _alive_with(str(config)) == []  # the forked child was told to go home, and reaped


async def test_a_worker_process_waiting_for_its_listener_ends_when_the_listener_is_killed(
        smart_host: SmartHostSink, tmp_path: Path) -> None:
    """The listener waits for a PostgreSQL that refuses connections before it migrates; its forked child waits
    for the listener's go. A kill -9 of the listener alone ends the child too (its go pipe closes)."""
    closed = _free_port()
    data = settings_data(f"postgresql+psycopg://postgres@127.0.0.1:{closed}/test", smart_host.port,
                         smtp__port=_free_port(), daemon__processes=2)
    config = write_config(tmp_path / "waiting.toml", data)
    with _running(config) as proc:
        await until(lambda: len(_children(proc.pid)) == 1, timeout=30, what="the forked worker process")
        (child,) = _children(proc.pid)
        await asyncio.sleep(0.5)  # the listener is waiting for the database
        assert proc.poll() is None and sorted(_alive_with(str(config))) == sorted([proc.pid, child])
        os.kill(proc.pid, signal.SIGKILL)
        await until(lambda: _alive_with(str(config)) == [], timeout=15, what="the child gone with its listener")


def test_no_fork_while_a_thread_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread's locks would stay held in the child: the worker process is then started by exec instead."""
    monkeypatch.setattr(os, "fork", _no_fork)  # were the check gone, this test process is not forked
    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    try:
        assert fork_worker(lambda: None) is None
    finally:
        release.set()
        thread.join()


def _no_fork() -> int:
    raise AssertionError("forked while a thread runs")


# fork_worker in a process of its own (not this multi-threaded one), as `mailgate run` calls it
_LIFECYCLE = r"""
import asyncio, os, signal, sys, time
from mailgate.prefork import fork_worker
from mailgate.processes import WORKER_NAME

case = sys.argv[1]
lives = {"stays": 60, "busy": 0.2}
forked = fork_worker(lambda: time.sleep(lives[case]) if case in lives else sys.exit(78))
assert forked is not None
if case == "abandoned":
    forked.abandon()
    try:
        os.waitpid(forked.pid, 0)
    except ChildProcessError:
        print("reaped", forked.returncode)
elif case == "exits":
    forked.go(None)
    time.sleep(0.5)  # it has exited; nobody has reaped it yet
    forked.terminate()  # neither an error nor a signal to another process
    async def twice():
        first = asyncio.ensure_future(forked.wait())
        return await first, await forked.wait()
    print("codes", *asyncio.run(twice()))
    forked.kill()
elif case == "busy":  # the worker exits on its own while the listener's loop is busy, then is stopped
    from mailgate.processes import WorkerProcess
    async def stopping():
        stop = asyncio.Event()
        watcher = asyncio.create_task(WorkerProcess("x.toml", forked.child_fds, forked=forked).supervise(stop))
        await asyncio.sleep(0.1)  # told go; it ends 0.2 s later
        stop.set()
        time.sleep(0.5)  # the loop held up meanwhile (a DATA, the stop's own work)
        await watcher
        return forked.returncode
    print("stopped", asyncio.run(stopping()))
elif case == "stays":
    forked.go(None)
    async def stop():
        try:
            await asyncio.wait_for(forked.wait(), 0.3)  # a wait that times out, then the real one
        except TimeoutError:
            pass
        forked.terminate()
        return await forked.wait()
    print("terminated", asyncio.run(stop()))
"""


@pytest.mark.parametrize(("case", "told"), [("abandoned", "reaped 0"), ("exits", "codes 78 78"),
                                            ("stays", f"terminated {-signal.SIGTERM}"), ("busy", "stopped 0")])
def test_the_forked_child_is_released_waited_signalled_and_reaped_once(case: str, told: str) -> None:
    done = subprocess.run([sys.executable, "-c", _LIFECYCLE, case], cwd=REPO, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip().splitlines()[-1] == told, done.stderr  # after the log's lines


async def test_a_sigterm_to_both_processes_at_once_stops_the_daemon_cleanly(smart_host: SmartHostSink,
                                                                           tmp_path: Path) -> None:
    """systemd's stop (KillMode=control-group) signals every process of the daemon at once: the worker may be
    gone before the listener stops it (the narrow case itself: `busy` above), and the listener must not trip."""
    port = _free_port()
    with _running(_config(tmp_path, f"sqlite:///{tmp_path / 'f.sqlite3'}", smart_host, port)) as proc:
        await until(lambda: _listening(port) and len(_children(proc.pid)) == 1, timeout=30,
                    what="the listener and its worker process")
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = await asyncio.to_thread(proc.communicate, None, 30)
    assert proc.returncode == 0, err
    assert b"No such process" not in err and b"Traceback" not in err, err


def test_a_refused_fork_leaves_the_exec_to_start_the_worker_and_no_fd_open(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork(2)'s EAGAIN

    monkeypatch.setattr(os, "fork", refused)
    monkeypatch.setattr(threading, "active_count", lambda: 1)  # as in `mailgate run` (pytest-xdist has threads)
    before = sorted(os.listdir("/proc/self/fd"))
    assert fork_worker(lambda: None) is None
    assert sorted(os.listdir("/proc/self/fd")) == before
