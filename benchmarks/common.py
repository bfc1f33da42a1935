"""What the benchmark scripts share: processes, the capture sink, the daemon's database, test mail, output."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from email.utils import formatdate
from pathlib import Path
from typing import IO, Any

PY = sys.executable  # the daemon and the servers run under the same interpreter as the script
ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/"
FROM: dict[str, str | None] = {"sqlite": None, "postgresql": None}  # runs start from a copy of these databases
SUPPORT = "support@example.test"
POLL = 0.010  # seconds between database polls

# The capture smart host: answers 250 and prints "<count> <monotonic time>" for every mail received.
SINK_SERVER = r"""
import asyncio, sys, time
from aiosmtpd.smtp import SMTP
class H:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        H.count += 1
        sys.stdout.write(f"{H.count} {time.monotonic()}\n"); sys.stdout.flush()
        return "250 2.0.0 OK"
async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(H(), decode_data=False, enable_SMTPUTF8=True),
                                   host="127.0.0.1", port=int(sys.argv[1]))
    await srv.serve_forever()
asyncio.run(main())
"""

# mailgate's config.toml for a run; {gateway}, {smtp} and {outbound} are a script's own extra lines for
# those tables, {tables} its own tables after them (each empty or ending with a newline).
CONFIG = """\
[gateway]
addresses = ["{support}"]
from = "Support <{support}>"
secret = "bench-secret-0123456789abcdef"
{gateway}[database]
url = "{url}"
[smtp]
host = "127.0.0.1"
port = {port}
{smtp}[outbound]
host = "127.0.0.1"
port = {sink_port}
{outbound}[log]
level = "warning"
{tables}"""


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_listening(port: int, proc: subprocess.Popen[Any], timeout: float, what: str,
                   stderr_path: Path | None = None) -> None:
    """Until `proc` listens on `port`; raises when it exits first (with the tail of `stderr_path`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = stderr_path.read_text(errors="replace")[-3000:] if stderr_path else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening\n{err}".rstrip())
        if is_listening(port):
            return
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


def kill(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def proc_status_kb(pid: int, key: str) -> int | None:
    """A kB figure from /proc/PID/status (VmHWM = peak RSS)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def family(pid: int) -> list[int]:
    """The process and its live descendants (a two-process daemon's worker process included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def peak_rss_mb(pid: int) -> float | None:
    """The sum of the peak RSS (VmHWM) of the process and its live descendants."""
    peaks = [proc_status_kb(p, "VmHWM") for p in family(pid)]
    total = sum(k for k in peaks if k)
    return total / 1024 if total else None


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process and its live descendants (and of the children it has reaped)."""
    total, seen = 0.0, False
    for index, p in enumerate(family(pid)):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        try:
            ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if index == 0 else 0)
        except (IndexError, ValueError):
            continue
        total, seen = total + ticks / os.sysconf("SC_CLK_TCK"), True
    return total if seen else None


def machine_ticks() -> tuple[int, int, int]:
    """(busy, steal, total) clock ticks of all CPUs since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    steal = fields[7] if len(fields) > 7 else 0
    total = sum(fields[:8])
    return total - idle - steal, steal, total


def wait_idle(pid: int, timeout: float = 15.0) -> None:
    """Until the process tree (a second worker process too) has started and burns no more CPU: so that a run's
    CPU figure does not include start-up imports."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid) or 0.0
    time.sleep(0.3)
    while time.monotonic() < deadline:
        now = cpu_seconds(pid) or 0.0
        if now - last < 0.02:
            return
        last = now
        time.sleep(0.3)


def cpu_model() -> str:
    return next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                 if ln.startswith("model name")), "?")


# ---------------------------------------------------------------- test mail


_WORDS = ("bonjour", "imprimante", "serveur", "facture", "accès", "compte", "erreur", "urgent", "merci",
          "écran", "réseau", "mot", "de", "passe", "le", "la", "ne", "fonctionne", "plus", "depuis", "hier")

TEXT_PART = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"


def customer(i: int) -> str:
    """The sender of test mail number i."""
    return f"customer{i}@client.example"


def mail_text(rng: random.Random, i: int, n_words: int, per_line: int) -> tuple[str, list[str]]:
    """A plain-text body of `n_words` random words, `per_line` a line; also its lines of words."""
    words = [rng.choice(_WORDS) for _ in range(n_words)]
    lines = [" ".join(words[j:j + per_line]) for j in range(0, len(words), per_line)]
    return "Bonjour,\r\n\r\n" + "\r\n".join(lines) + f"\r\n\r\nCordialement,\r\nClient {i}\r\n", lines


def with_attachment(text: str, mime_type: str, filename: str, b64: str) -> str:
    """A multipart/mixed body: `text`, then `b64` (base64 with CRLF line ends) as an attachment."""
    return (
        'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
        f"--BOUNDARY\r\n{TEXT_PART}"
        f"{text}\r\n--BOUNDARY\r\nContent-Type: {mime_type}; name=\"{filename}\"\r\n"
        f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n"
        f"{b64}\r\n--BOUNDARY--\r\n"
    )


def build_mail(i: int, tag: str, body: str) -> bytes:
    """Test mail number i from customer(i) to SUPPORT with a unique Message-ID; `body` starts with its
    Content-Type header."""
    headers = (
        f"From: Client {i} <{customer(i)}>\r\nTo: Support <{SUPPORT}>\r\n"
        f"Subject: Demande {i}: probleme d'acces au service\r\n"
        f"Date: {formatdate(localtime=False)}\r\nMessage-ID: <bench-{tag}-{i}@client.example>\r\n"
        "MIME-Version: 1.0\r\n"
    )
    return (headers + body).encode("utf-8")


# ---------------------------------------------------------------- sink


class Sink:
    """The capture smart host in its own process; a reader thread follows its counter."""

    def __init__(self, target: int) -> None:
        self.port = free_port()
        self.count = 0
        self.target = target
        self.t_all: float | None = None  # monotonic time the target count was reached
        self.proc = subprocess.Popen([PY, "-u", "-c", SINK_SERVER, str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            count, at = line.split()
            self.count = int(count)
            if self.count >= self.target and self.t_all is None:
                self.t_all = float(at)

    def close(self) -> None:
        kill(self.proc)


# ---------------------------------------------------------------- database


class Poller:
    """Counts in the daemon's database, read directly (sqlite3 or psycopg, autocommit: each read sees the
    latest commit)."""

    Q_STORED = "SELECT count(*) FROM inbound_mail"
    Q_PROCESSED = "SELECT count(*) FROM inbound_mail WHERE status='processed'"
    Q_OUTBOX = "SELECT count(*) FROM outbox"
    Q_TICKETS = "SELECT count(*) FROM ticket"
    Q_INBOUND_STATUS = "SELECT status, count(*) FROM inbound_mail GROUP BY status"
    Q_OUTBOX_STATUS = "SELECT status, count(*) FROM outbox GROUP BY status"

    def __init__(self, sqlite_path: Path | None, pg_url: str | None) -> None:
        self.sqlite_path, self.pg_url = sqlite_path, pg_url
        self.sq: sqlite3.Connection | None = None
        self.pg: Any = None  # psycopg.Connection

    async def open(self) -> bool:
        """Connects unless connected; False while the SQLite file does not exist yet. The queries call it."""
        if self.sq is not None or self.pg is not None:
            return True
        if self.sqlite_path is not None:
            if not self.sqlite_path.exists():  # the daemon creates it: never create it under its feet
                return False
            self.sq = sqlite3.connect(str(self.sqlite_path), timeout=5, isolation_level=None)
        else:
            import psycopg
            self.pg = psycopg.connect(self.pg_url, connect_timeout=10, autocommit=True)
        return True

    async def scalar(self, q: str) -> int:
        """0 while the database or the table does not exist yet."""
        try:
            if not await self.open():
                return 0
            if self.sq is not None:
                return int(self.sq.execute(q).fetchone()[0])
            return int(self.pg.execute(q).fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        except Exception as exc:  # psycopg.errors.UndefinedTable before the schema exists
            if type(exc).__name__ == "UndefinedTable":
                return 0
            raise

    async def fetch(self, q: str) -> list[tuple[Any, ...]]:
        if not await self.open():
            return []
        if self.sq is not None:
            return [tuple(r) for r in self.sq.execute(q).fetchall()]
        return [tuple(r) for r in self.pg.execute(q).fetchall()]

    async def rows(self, q: str) -> dict[str, int]:
        if not await self.open():
            return {}
        if self.sq is not None:
            return {str(k): int(v) for k, v in self.sq.execute(q).fetchall()}
        return {str(r[0]): int(r[1]) for r in self.pg.execute(q).fetchall()}

    async def close(self) -> None:
        if self.sq is not None:
            self.sq.close()
            self.sq = None
        if self.pg is not None:
            self.pg.close()
            self.pg = None


async def pg_admin(statement: str) -> None:
    """One statement over PG_ADMIN_URL."""
    import psycopg
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
        conn.execute(statement)


async def create_pg_db(prefix: str, template: str | None = None) -> str:
    """A fresh database named `prefix` + pid + random suffix (a copy of `template` when given); its name."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return name


async def drop_pg_db(name: str) -> None:
    await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def pg_reachable() -> str | None:
    """None when reachable, else why not."""
    try:
        import psycopg
        psycopg.connect(PG_ADMIN_URL, connect_timeout=3).close()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- the daemon


class DaemonRun:
    """The real mailgate daemon for one run, with a fresh database (an SQLite file in `run_dir` or a
    PostgreSQL database named after `pg_prefix`) and the capture sink. prepare(), launch(), stop();
    close() in a finally clause kills and removes whatever was started."""

    def __init__(self, db: str, run_dir: Path, pg_prefix: str) -> None:
        self.db, self.run_dir, self.pg_prefix = db, run_dir, pg_prefix
        self.port = 0  # the daemon's SMTP port, chosen by prepare() once the other servers listen
        self.sink: Sink | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.pg_name: str | None = None
        self.sqlite_path: Path | None = None
        self.pg_url: str | None = None
        self.cfg = run_dir / "config.toml"
        self.err_path = run_dir / "daemon.stderr"
        self._err_file: IO[bytes] | None = None

    def prepare(self, n: int, gateway: str = "", smtp: str = "", outbound: str = "", tables: str = "") -> Sink:
        """Creates the database, starts the sink (waiting for `n` mails), writes the config (with a
        script's own lines, see CONFIG) and creates the PostgreSQL schema. Returns the listening sink."""
        if self.db == "sqlite":
            self.sqlite_path = self.run_dir / "bench.sqlite3"
            url = f"sqlite:///{self.sqlite_path}"
            if FROM["sqlite"]:  # a copy of a big database (benchmarks/big_database.py)
                shutil.copyfile(FROM["sqlite"], self.sqlite_path)
                os.sync()  # the copy written back now, not by the kernel during the timed run
        else:
            self.pg_name = asyncio.run(create_pg_db(self.pg_prefix, FROM["postgresql"]))
            url = self.pg_url = PG_BASE + self.pg_name
        sink = self.sink = Sink(n)
        self.port = free_port()
        self.cfg.write_text(CONFIG.format(support=SUPPORT, url=url, port=self.port, sink_port=sink.port,
                                          gateway=gateway, smtp=smtp, outbound=outbound, tables=tables))
        if self.db == "postgresql":
            up = subprocess.run([PY, "-m", "mailgate", "-c", str(self.cfg), "db", "upgrade"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
            if up.returncode != 0:
                raise RuntimeError(f"db upgrade failed ({up.returncode}): {up.stderr[-2000:]}")
        wait_listening(sink.port, sink.proc, 20, "sink")
        return sink

    def launch(self) -> subprocess.Popen[bytes]:
        """Starts `mailgate run` (stderr to daemon.stderr) and returns at once."""
        self._err_file = open(self.err_path, "wb")
        self.proc = subprocess.Popen([PY, "-m", "mailgate", "-c", str(self.cfg), "run"], cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=self._err_file)
        profile = os.environ.get("MAILGATE_BENCH_PROFILE")  # "folder:seconds": sample the daemon with py-spy
        if profile:
            folder, _, seconds = profile.partition(":")
            subprocess.Popen([str(Path(PY).parent / "py-spy"), "record", "--pid", str(self.proc.pid), "--subprocesses",
                              "--format", "raw", "--duration", seconds or "15", "-o",
                              str(Path(folder) / f"{self.run_dir.name}.txt")], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        return self.proc

    def poller(self) -> Poller:
        return Poller(self.sqlite_path, self.pg_url)

    def another(self) -> DaemonRun:
        """A second daemon on the same database and the same capture sink (several instances sharing one
        PostgreSQL database): its own folder, config and SMTP port. prepare() must have run."""
        other = DaemonRun(self.db, self.run_dir / "second", self.pg_prefix)
        other.run_dir.mkdir()
        other.port = free_port()
        other.sqlite_path, other.pg_url = self.sqlite_path, self.pg_url
        other.cfg.write_text(self.cfg.read_text().replace(f"port = {self.port}\n", f"port = {other.port}\n", 1))
        return other

    def stop(self) -> tuple[int | None, str]:
        """SIGTERM and wait: (exit code, notes on a daemon that died early, hung or failed)."""
        assert self.proc is not None
        note = ""
        exit_code: int | None = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                exit_code = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                note += "did not stop within 30s of SIGTERM; "
        else:
            exit_code = self.proc.returncode
            note += "daemon died during the run; "
        if exit_code not in (0, None):
            note += f"exit code {exit_code}; "
        return exit_code, note

    def close(self) -> str:
        """Kills the daemon and the sink, drops the PostgreSQL database; a note when that fails."""
        kill(self.proc)
        if self._err_file is not None:
            self._err_file.close()
        if self.sink is not None:
            self.sink.close()
        if self.pg_name is not None:
            try:
                asyncio.run(drop_pg_db(self.pg_name))
            except Exception as exc:
                return f"could not drop {self.pg_name}: {exc}; "
        return ""

    def stderr_report(self, label: str) -> list[str]:
        """The first lines of the daemon's stderr, under `label`; none when it wrote nothing."""
        if not self.err_path.exists():
            return []
        lines = [ln for ln in self.err_path.read_text(errors="replace").splitlines() if ln.strip()]
        if not lines:
            return []
        return [f"[{label}] daemon stderr, {len(lines)} lines; first ones:", *("    " + ln[:300] for ln in lines[:8])]


# ---------------------------------------------------------------- command line and output


def parse_databases(ap: argparse.ArgumentParser, value: str) -> list[str]:
    """The --databases list; an argparse error on an unknown name."""
    dbs = [d.strip() for d in value.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgresql"):
            ap.error(f"unknown database {d!r}")
    return dbs


def end_header(dbs: list[str]) -> None:
    """Removes postgresql from `dbs`, with a note, when PG_ADMIN_URL does not answer; then the blank line
    that ends the header."""
    if "postgresql" in dbs:
        why = asyncio.run(pg_reachable())
        if why is not None:
            print(f"note: PostgreSQL skipped, {PG_ADMIN_URL} unreachable ({why})")
            dbs.remove("postgresql")
    print(flush=True)


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or v != v else format(v, spec)


def print_table(head: tuple[str, ...], table: Sequence[tuple[str, ...]], left: int) -> None:
    """Aligned columns under a ruled header line: the first `left` left-aligned, the others right."""
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]

    def join(cells: tuple[str, ...]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in pairs)

    line = join(head)
    print(line)
    print("-" * len(line))
    for t in table:
        print(join(t))


def print_end(notes: list[str], legend: str, stderr_log: list[str], started: float) -> None:
    """The notes (when any), the column legend, the daemon's stderr (when any) and the total time."""
    if notes:
        print("\nnotes:")
        print("\n".join(notes))
    print(legend)
    if stderr_log:
        print("\n" + "\n".join(stderr_log))
    print(f"\ntotal wall time {time.monotonic() - started:.1f}s")
