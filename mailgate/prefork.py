"""Shell: `mailgate run` in two processes forks its worker process before the event loop or any thread starts,
so that the two share the pages of the code both have imported (copy-on-write, the import-time objects
frozen out of the collector's reach); the child waits until the listener has started (the database
migrated) and says go. A worker process that dies later is started again by exec (processes.py), unshared.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable

from mailgate.peer import ENV, Peer, env_value

# the worker process's modules the listener does not need: imported before the fork, they are shared
WORKER_MODULES = ("mailgate.worker", "mailgate.sweeper")
CPUS_ENV = "MAILGATE_WORKER_CPUS"  # the CPUs the listener gives its worker process


def cpus_text(cpus: set[int] | None) -> str:
    """CPUS_ENV's value: the CPU numbers, comma-separated ("" for any)."""
    return ",".join(map(str, sorted(cpus or ())))


class Forked:
    """The worker process forked early, as asyncio.subprocess.Process is to an exec'd one (pid, returncode,
    wait, send_signal, terminate, kill), with the listener's side of their Peer and the child's fds.

    Watched and signalled through a pidfd (Linux), on the event loop's thread: it is reaped, its returncode
    set and its pidfd closed in one callback, so no signal ever reaches a pid reused after it. Elsewhere a
    thread reaps it, and a signal sent in between is dropped (ProcessLookupError)."""

    def __init__(self, pid: int, go_fd: int, peer: Peer, child_fds: tuple[int, int]) -> None:
        self.pid, self.peer, self.child_fds = pid, peer, child_fds
        self.returncode: int | None = None
        self._go_fd: int | None = go_fd  # the listener writes "go" here, or closes it: the child exits
        self._pidfd = _pidfd(pid)
        self._exited: asyncio.Future[int] | None = None

    def go(self, cpus: set[int] | None) -> None:
        """Let the child start as the worker process, on `cpus` (None: any)."""
        line = f"go {cpus_text(cpus)}\n"
        self._close_go(line.encode())

    def abandon(self) -> None:
        """The listener ends without having said go: the child exits, and is reaped here."""
        if self._go_fd is None:
            return
        self._close_go(b"")
        if self.returncode is None:
            self._reaped(os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1]))

    def _close_go(self, line: bytes) -> None:
        if self._go_fd is None:
            return
        try:
            if line:
                os.write(self._go_fd, line)
        except BrokenPipeError:  # the child is gone already: its wait tells how
            pass
        finally:
            os.close(self._go_fd)
            self._go_fd = None

    async def wait(self) -> int:
        if self._exited is None:  # watched once, however often waited for (a timed-out wait asks again)
            self._exited = self._watch()
        return await asyncio.shield(self._exited)

    def _watch(self) -> asyncio.Future[int]:
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()

        def done(code: int) -> None:
            self._reaped(code)
            if not exited.done():
                exited.set_result(code)

        pidfd = self._pidfd
        if pidfd is not None:
            def readable() -> None:
                loop.remove_reader(pidfd)
                done(os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1]))
            loop.add_reader(pidfd, readable)
        else:
            def reap() -> None:
                loop.call_soon_threadsafe(done, os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1]))
            threading.Thread(target=reap, name="mailgate-worker-reaper", daemon=True).start()
        return exited

    def _reaped(self, code: int) -> None:
        self.returncode = code
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return
        try:
            if self._pidfd is not None:
                signal.pidfd_send_signal(self._pidfd, sig)
            else:
                os.kill(self.pid, sig)
        except ProcessLookupError:  # exited, and reaped by the thread that has not told yet
            pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
    except OSError:  # a kernel before 5.3
        return None


def fork_worker(main: Callable[[], None]) -> Forked | None:
    """Fork the worker process, which runs `main` (the daemon's worker roles; SystemExit gives its exit code)
    once the listener says go. None, and no fork, if a thread runs already (its locks would stay held in
    the child) or the system refuses the fork: the worker process is then started by exec."""
    for name in WORKER_MODULES:
        importlib.import_module(name)
    if threading.active_count() > 1:
        return None
    peer, child_fds = Peer.pair()
    go_r, go_w = os.pipe()
    _flush()
    gc.freeze()  # what the listener holds now is never scanned again, so its pages stay shared
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory for now: the exec'd worker process will say so, or start
        for fd in (go_r, go_w, peer.read_fd, peer.write_fd, *child_fds):
            os.close(fd)
        return None
    if pid == 0:
        code = 1
        try:
            os.close(go_w)
            os.close(peer.read_fd)  # the listener's ends: the worker process sees EOF when the listener is gone
            os.close(peer.write_fd)
            code = _child(go_r, child_fds, main)
        finally:  # never back into the listener's command line, nor its atexit handlers
            os._exit(code)
    os.close(go_r)
    return Forked(pid, go_w, peer, child_fds)


def _child(go_fd: int, fds: tuple[int, int], main: Callable[[], None]) -> int:
    for sig in (signal.SIGINT, signal.SIGHUP):  # until the worker's own handlers: the listener stops or
        signal.signal(sig, signal.SIG_IGN)     # reloads for both meanwhile, and the worker reads its rules anew
    line = _read_line(go_fd)
    os.close(go_fd)
    if not line.startswith(b"go"):  # the listener ended before it started
        return 0
    os.environ[ENV] = env_value(fds)
    os.environ[CPUS_ENV] = line[2:].strip().decode()
    code: int = 0
    try:
        main()
    except SystemExit as exc:  # as the interpreter ends on it
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001 - told on stderr, as the interpreter would
        traceback.print_exc()
        code = 1
    finally:
        _flush()
    return code


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):  # None when the daemon was started with the fd closed
        if stream is not None:
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe, a closed file: nothing more can be told there
                pass


def _read_line(fd: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 256)
        if not chunk:
            return b""
        data += chunk
    return data
