"""Shell: `mailgate run`: the daemon in one process, or in two ([daemon] processes): the listener (SMTP, IMAP,
the outbox sender) and, on a second core, the worker with the sweeper, started and watched by the listener
(restarted with a backoff if it dies, stopped with it), each on its half of the CPUs ([daemon] cpu_affinity).
Signal handlers: SIGTERM/SIGINT stop, SIGHUP reloads the rules (forwarded to the worker process)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys

from mailgate import log
from mailgate.aio import wait_any
from mailgate.config.sections import ConfigError
from mailgate.config.settings import Settings
from mailgate.daemon import ALL_ROLES, LISTENER_ROLES, WORKER_ROLES, Daemon, Stopped
from mailgate.exits import EX_CONFIG
from mailgate.peer import ENV, Peer, env_value
from mailgate.prefork import CPUS_ENV, Forked, cpus_text

logger = log.get("processes")


def split_cpus(allowed: set[int]) -> tuple[set[int], set[int]] | None:
    """The listener's CPUs and the worker process's, out of those the daemon may use: the first half and the
    rest (the worker, the busier, gets the odd one); None with fewer than two."""
    ordered = sorted(allowed)
    if len(ordered) < 2:
        return None
    half = len(ordered) // 2
    return set(ordered[:half]), set(ordered[half:])


def _pin(cpus: set[int] | None) -> set[int] | None:
    """This process on `cpus` (its threads started later too); None where the system cannot (not Linux)."""
    if not cpus or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        os.sched_setaffinity(0, cpus)
    except OSError as exc:  # CPUs outside this process's cpuset
        logger.warning("processes not pinned to their CPUs", cpus=sorted(cpus), error=str(exc))
        return None
    return cpus


def _worker_cpus() -> set[int] | None:
    value = os.environ.get(CPUS_ENV, "")
    return {int(c) for c in value.split(",") if c.strip().isdigit()} or None


WORKER_NAME = "mailgate-worker"  # the worker process's name (comm, at most 15 characters)


def _name(name: str) -> None:
    """This process's name as top and `ps -o comm` show it (Linux; elsewhere it keeps its own)."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name)
    except OSError:
        pass


GC_YOUNG = 10_000  # container objects allocated, net of those freed, between collections (the stdlib's: 700)


def collect_for_serving() -> None:
    """Once started: what start-up made (engine, rules, templates, caches) left out of every collection from
    now on (gc.freeze), and the young generation collected every GC_YOUNG allocations. Nearly every object of a
    mail is freed by its reference count: at 700, the collections of the worker found next to nothing for 19 us
    a mail, a full one among them pausing for 30 ms (benchmarks/worker_instructions.py's mix, gc.callbacks)."""
    gc.freeze()
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])


def process_count(settings: Settings) -> int:
    wanted = settings.daemon.processes
    if wanted == "auto":
        return 2 if (os.cpu_count() or 1) > 1 else 1
    return int(wanted)


def forks_worker(settings: Settings) -> bool:
    """Whether `mailgate run` forks its worker process before it starts (prefork.py): two processes, where
    the system can fork."""
    return _two_processes(settings) and hasattr(os, "fork")


def _two_processes(settings: Settings) -> bool:
    """The listener and a worker process: two wanted, and a config file for the worker process to read."""
    return process_count(settings) == 2 and settings.source != "<memory>"


async def serve(settings: Settings, *, worker_process: bool = False, forked: Forked | None = None) -> None:
    """The daemon with signal handlers; `worker_process`: this is the second process, started by the first;
    `forked`: the first, whose worker process is forked already and waits to be told go."""
    child_fds: tuple[int, int] | None = None
    cpus: set[int] | None = None
    split = None
    if worker_process:
        _name(WORKER_NAME)  # the forked one has the listener's command line: top and ps -o comm tell them apart
        cpus = _pin(_worker_cpus())  # before any thread of this process starts: they inherit it
        daemon = Daemon(settings, roles=WORKER_ROLES, peer=Peer.from_env())
    elif _two_processes(settings):
        if settings.daemon.cpu_affinity == "split" and hasattr(os, "sched_getaffinity"):
            split = split_cpus(os.sched_getaffinity(0))
        cpus = _pin(split[0]) if split else None
        peer, child_fds = (forked.peer, forked.child_fds) if forked else Peer.pair()
        daemon = Daemon(settings, roles=LISTENER_ROLES, peer=peer)
    else:
        daemon = Daemon(settings, roles=ALL_ROLES)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stop)
    try:
        await daemon.start()  # the listener migrates the database before the worker process opens it
    except Stopped:
        logger.info("stopped before start-up completed")
        return
    if daemon.rules is not None:
        loop.add_signal_handler(signal.SIGHUP, daemon.rules.reload)
    collect_for_serving()
    two = child_fds is not None or worker_process
    logger.info("mailgate running", database=settings.database_url.split("@")[-1],
                roles=sorted(r.value for r in daemon.roles), processes=2 if two else 1,
                cpus=cpus_text(cpus) or "any")
    if child_fds is None:
        await daemon.run()
        return
    child = WorkerProcess(settings.source, child_fds, split[1] if cpus and split else None, forked=forked)
    loop.add_signal_handler(signal.SIGHUP, child.reload)
    watcher = asyncio.create_task(child.supervise(daemon.stop_event), name="worker process")
    try:
        await daemon.run()
    finally:
        daemon.stop()
        await watcher
    if child.refused:
        raise ConfigError("the worker process refused the configuration (see its messages above)")


class WorkerProcess:
    """The second process: the one forked early, told go; or `mailgate -c CONFIG run --worker-process`, the
    peer's fds handed over (a restart, or where the system cannot fork)."""

    def __init__(self, config_path: str, fds: tuple[int, int], cpus: set[int] | None = None, *,
                 forked: Forked | None = None) -> None:
        self.config_path = config_path
        self.fds = fds
        self.cpus = cpus  # the worker process's CPUs (`[daemon] cpu_affinity`), None: any
        self.forked = forked  # the first worker process, until told go
        self.proc: asyncio.subprocess.Process | Forked | None = None
        self.refused = False  # it exited with EX_CONFIG

    def reload(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGHUP)

    async def supervise(self, stop: asyncio.Event) -> None:
        """Keep the worker process running until `stop`; then stop it (SIGTERM, up to 30 s, then SIGKILL)."""
        delay = 1.0
        try:
            while not stop.is_set():
                self.proc = await self._start()
                logger.info("worker process started", pid=self.proc.pid,
                            how="forked" if isinstance(self.proc, Forked) else "exec")
                waiting = asyncio.ensure_future(self.proc.wait())
                await asyncio.wait({waiting, asyncio.ensure_future(stop.wait())},
                                   return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    break
                if self.proc.returncode == EX_CONFIG:  # it refuses the configuration: restarting will not help
                    logger.error("worker process refused the configuration: stopping", code=EX_CONFIG)
                    self.refused = True
                    stop.set()
                    break
                logger.error("worker process exited, restarting it", code=self.proc.returncode, retry_in=delay)
                await wait_any(stop, timeout=delay)
                delay = min(delay * 2, 30.0)
        finally:
            await self._stop_child()
            for fd in self.fds:
                os.close(fd)

    async def _start(self) -> asyncio.subprocess.Process | Forked:
        if self.forked is not None:
            self.forked.go(self.cpus)
            forked, self.forked = self.forked, None
            return forked
        env = {**os.environ, ENV: env_value(self.fds), CPUS_ENV: cpus_text(self.cpus)}
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mailgate", "-c", self.config_path, "run", "--worker-process",
            pass_fds=self.fds, env=env)

    async def _stop_child(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), timeout=30)
        except TimeoutError:
            logger.error("worker process did not stop in 30 s: killed", pid=proc.pid)
            proc.kill()
            await proc.wait()
