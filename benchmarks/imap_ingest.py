"""IMAP ingest of the real mailgate daemon: a full dovecot INBOX fetched, stored, ticketed and acknowledged."""

# Usage (from the repository root, about 1 minute on 2 cores):
#   .venv/bin/python benchmarks/imap_ingest.py [--count 500] [--batch 50] [--databases sqlite,postgresql]
# A real dovecot (tests/dovecot.py) is filled with N mails before the daemon starts; the clock starts
# when the daemon is launched. PostgreSQL is used when postgresql://postgres@127.0.0.1:5432/test answers
# (trust auth); a fresh database is created and dropped for every run. Every subprocess is killed and
# dovecot closed on the way out.

from __future__ import annotations

import argparse
import asyncio
import base64
import imaplib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dovecot import PASSWORD, USER, Dovecot  # noqa: E402

PY = sys.executable  # the daemon and the sink run under the same interpreter as this script
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/"
SUPPORT = "support@example.test"
MOVED_TO = "mailgate.processed"  # move_to "mailgate/processed" with dovecot's maildir separator "."
POLL = 0.010  # seconds between database polls
RUN_TIMEOUT = 180.0  # seconds allowed from daemon launch to N acks at the sink
REFERENCE = ("reference (from the issue, not measured in this run): django-helpdesk 2.6 ingests about 40-46 "
             "msgs/s over IMAP on this kind of machine; target >= 300")

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

CONFIG = """\
[gateway]
addresses = ["{support}"]
from = "Support <{support}>"
secret = "bench-secret-0123456789abcdef"
[database]
url = "{url}"
[smtp]
host = "127.0.0.1"
port = {port}
[outbound]
host = "127.0.0.1"
port = {sink_port}
[log]
level = "warning"
[[imap]]
name = "bench"
host = "127.0.0.1"
port = {imap_port}
tls = "none"
username = "{user}"
password_file = "{password_file}"
after = "move"
batch = {batch}
"""


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def is_listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_listening(port: int, proc: subprocess.Popen[Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
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


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a live process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def load1() -> float:
    return os.getloadavg()[0]


# ---------------------------------------------------------------- test mail


_WORDS = ("bonjour", "imprimante", "serveur", "facture", "accès", "compte", "erreur", "urgent", "merci",
          "écran", "réseau", "mot", "de", "passe", "le", "la", "ne", "fonctionne", "plus", "depuis", "hier")


def make_mails(n: int, tag: str) -> tuple[list[bytes], dict[str, int]]:
    """Raw mails, each with a unique Message-ID and sender customer{i}@client.example: most 1-3 KB of
    plain text, 1 in 5 with a 20-60 KB base64 attachment, 1 in 50 HTML only. Also the kind counts."""
    rng = random.Random(4321)
    mails: list[bytes] = []
    kinds = {"text": 0, "attachment": 0, "html": 0}
    for i in range(n):
        sender = f"customer{i}@client.example"
        n_words = rng.randint(120, 420)  # ~1-3 KB with the headers
        words = [rng.choice(_WORDS) for _ in range(n_words)]
        lines = [" ".join(words[j:j + 12]) for j in range(0, len(words), 12)]
        text = "Bonjour,\r\n\r\n" + "\r\n".join(lines) + f"\r\n\r\nCordialement,\r\nClient {i}\r\n"
        headers = (
            f"From: Client {i} <{sender}>\r\nTo: Support <{SUPPORT}>\r\n"
            f"Subject: Demande {i}: probleme d'acces au service\r\n"
            f"Date: {formatdate(localtime=False)}\r\nMessage-ID: <bench-{tag}-{i}@client.example>\r\n"
            "MIME-Version: 1.0\r\n"
        )
        if i % 50 == 25:
            kinds["html"] += 1
            html = "".join(f"<p>{ln}</p>\r\n" for ln in lines)
            body = ("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                    f"<html><body><p>Bonjour,</p>\r\n{html}<p>Cordialement,<br>Client {i}</p></body></html>\r\n")
        elif i % 5 == 4:
            kinds["attachment"] += 1
            blob = base64.encodebytes(rng.randbytes(rng.randint(15_000, 45_000))).decode()  # 20-60 KB encoded
            body = (
                'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
                "--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                f"{text}\r\n--BOUNDARY\r\nContent-Type: application/pdf; name=\"facture{i}.pdf\"\r\n"
                f"Content-Disposition: attachment; filename=\"facture{i}.pdf\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                f"{blob.replace(chr(10), chr(13) + chr(10))}\r\n--BOUNDARY--\r\n"
            )
        else:
            kinds["text"] += 1
            body = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
        mails.append((headers + body).encode("utf-8"))
    return mails, kinds


def fill_inbox(dovecot: Dovecot, mails: list[bytes]) -> None:
    """APPEND every mail to INBOX over one connection."""
    client = dovecot.client()
    try:
        for raw in mails:
            typ, data = client.append("INBOX", None, None, raw)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {typ} {data!r}")
    finally:
        client.logout()


def folder_count(dovecot: Dovecot, folder: str) -> int | None:
    """Messages in a folder (read-only SELECT); None when it does not exist."""
    client = imaplib.IMAP4("127.0.0.1", dovecot.port)
    try:
        client.login(USER, PASSWORD)
        typ, data = client.select(folder, readonly=True)
        if typ != "OK" or not data or data[0] is None:
            return None
        first = data[0]
        return int(first.decode() if isinstance(first, bytes) else str(first))
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


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
    """Counts in the daemon's database, read directly (sqlite3 or asyncpg)."""

    Q_STORED = "SELECT count(*) FROM inbound_mail"
    Q_PROCESSED = "SELECT count(*) FROM inbound_mail WHERE status='processed'"
    Q_OUTBOX = "SELECT count(*) FROM outbox"
    Q_TICKETS = "SELECT count(*) FROM ticket"
    Q_INBOUND_STATUS = "SELECT status, count(*) FROM inbound_mail GROUP BY status"
    Q_OUTBOX_STATUS = "SELECT status, count(*) FROM outbox GROUP BY status"

    def __init__(self, sqlite_path: Path | None, pg_url: str | None) -> None:
        self.sqlite_path, self.pg_url = sqlite_path, pg_url
        self.sq: sqlite3.Connection | None = None
        self.pg: Any = None  # asyncpg.Connection

    async def _ensure(self) -> bool:
        if self.sq is not None or self.pg is not None:
            return True
        if self.sqlite_path is not None:
            if not self.sqlite_path.exists():  # the daemon creates it: never create it under its feet
                return False
            self.sq = sqlite3.connect(str(self.sqlite_path), timeout=5, isolation_level=None)
        else:
            import asyncpg
            self.pg = await asyncpg.connect(self.pg_url, timeout=10)
        return True

    async def scalar(self, q: str) -> int:
        """0 while the database or the table does not exist yet."""
        try:
            if not await self._ensure():
                return 0
            if self.sq is not None:
                return int(self.sq.execute(q).fetchone()[0])
            return int(await self.pg.fetchval(q))
        except sqlite3.OperationalError:
            return 0
        except Exception as exc:  # asyncpg.UndefinedTableError before the schema exists
            if type(exc).__name__ == "UndefinedTableError":
                return 0
            raise

    async def rows(self, q: str) -> dict[str, int]:
        if not await self._ensure():
            return {}
        if self.sq is not None:
            return {str(k): int(v) for k, v in self.sq.execute(q).fetchall()}
        return {str(r[0]): int(r[1]) for r in await self.pg.fetch(q)}

    async def close(self) -> None:
        if self.sq is not None:
            self.sq.close()
            self.sq = None
        if self.pg is not None:
            await self.pg.close()
            self.pg = None


async def create_pg_db() -> str:
    import asyncpg
    name = f"mailgate_imapbench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_pg_db(name: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def pg_reachable() -> str | None:
    """None when reachable, else why not."""
    try:
        import asyncpg
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
        await conn.close()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


# ---------------------------------------------------------------- one run


@dataclass
class Row:
    db: str
    n: int
    fill_s: float | None = None  # APPEND of N mails (before the clock)
    startup_s: float | None = None  # launch -> SMTP port listens
    first_stored_s: float | None = None  # launch -> first inbound_mail row
    stored_s: float | None = None  # launch -> N inbound_mail rows
    e2e_s: float | None = None  # launch -> N processed and N outbox rows
    acks_s: float | None = None  # launch -> sink received N
    cpu_s: float | None = None
    rss_mb: float | None = None
    exit_code: int | None = None
    inbox_left: int | None = None
    moved: int | None = None
    tickets: int | None = None
    load_before: float | None = None
    note: str = ""

    def rate(self, seconds: float | None) -> float | None:
        return self.n / seconds if seconds else None


def run_one(n: int, batch: int, db: str, workdir: Path, stderr_log: list[str]) -> Row:
    row = Row(db, n, load_before=load1())
    run_dir = Path(tempfile.mkdtemp(prefix=f"{db}-", dir=workdir))
    dovecot: Dovecot | None = None
    sink: Sink | None = None
    daemon: subprocess.Popen[bytes] | None = None
    pg_name: str | None = None
    err_path = run_dir / "daemon.stderr"
    err_file: IO[bytes] | None = None
    try:
        dovecot = Dovecot()
        dovecot.start()
        mails, _ = make_mails(n, f"{db}-{uuid.uuid4().hex[:8]}")
        t = time.monotonic()
        fill_inbox(dovecot, mails)
        row.fill_s = time.monotonic() - t
        if folder_count(dovecot, "INBOX") != n:
            raise RuntimeError(f"INBOX holds {folder_count(dovecot, 'INBOX')} mails after filling, not {n}")

        if db == "sqlite":
            sqlite_path: Path | None = run_dir / "bench.sqlite3"
            url, pg_url = f"sqlite:///{sqlite_path}", None
        else:
            sqlite_path = None
            pg_name = asyncio.run(create_pg_db())
            url = pg_url = PG_BASE + pg_name
        sink = Sink(n)
        port = free_port()
        password_file = run_dir / "imap-password"
        password_file.write_text(PASSWORD + "\n")
        cfg = run_dir / "config.toml"
        cfg.write_text(CONFIG.format(support=SUPPORT, url=url, port=port, sink_port=sink.port,
                                     imap_port=dovecot.port, user=USER, password_file=password_file, batch=batch))
        if db == "postgresql":
            up = subprocess.run([PY, "-m", "mailgate", "-c", str(cfg), "db", "upgrade"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
            if up.returncode != 0:
                raise RuntimeError(f"db upgrade failed ({up.returncode}): {up.stderr[-2000:]}")
        wait_listening(sink.port, sink.proc, 20, "sink")

        err_file = open(err_path, "wb")
        t0 = time.monotonic()  # the clock starts at launch
        daemon = subprocess.Popen([PY, "-m", "mailgate", "-c", str(cfg), "run"], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=err_file)
        deadline = t0 + RUN_TIMEOUT
        poller = Poller(sqlite_path, pg_url)
        proc = daemon

        async def poll() -> tuple[dict[str, int], dict[str, int]]:
            try:
                while time.monotonic() < deadline:
                    now = time.monotonic() - t0
                    if row.startup_s is None and is_listening(port):
                        row.startup_s = now
                    if row.stored_s is None:
                        stored = await poller.scalar(Poller.Q_STORED)
                        if stored and row.first_stored_s is None:
                            row.first_stored_s = time.monotonic() - t0
                        if stored >= n:
                            row.stored_s = time.monotonic() - t0
                    if row.e2e_s is None and (await poller.scalar(Poller.Q_PROCESSED) >= n
                                              and await poller.scalar(Poller.Q_OUTBOX) >= n):
                        row.e2e_s = time.monotonic() - t0
                    if row.stored_s is not None and row.e2e_s is not None and sink.t_all is not None:
                        break
                    if proc.poll() is not None:
                        break
                    await asyncio.sleep(POLL)
                row.tickets = await poller.scalar(Poller.Q_TICKETS)
                return await poller.rows(Poller.Q_INBOUND_STATUS), await poller.rows(Poller.Q_OUTBOX_STATUS)
            finally:
                await poller.close()

        inbound_counts, outbox_counts = asyncio.run(poll())
        if sink.t_all is not None:
            row.acks_s = sink.t_all - t0
        if row.stored_s is None or row.e2e_s is None or row.acks_s is None:
            row.note += (f"INCOMPLETE after {time.monotonic() - t0:.0f}s: inbound {inbound_counts}, "
                         f"outbox {outbox_counts}, sink {sink.count}; ")
        row.cpu_s = cpu_seconds(daemon.pid)
        hwm = proc_status_kb(daemon.pid, "VmHWM")
        row.rss_mb = hwm / 1024 if hwm else None
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                row.exit_code = daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                row.note += "did not stop within 30s of SIGTERM; "
        else:
            row.exit_code = daemon.returncode
            row.note += "daemon died during the run; "
        if row.exit_code not in (0, None):
            row.note += f"exit code {row.exit_code}; "

        row.inbox_left = folder_count(dovecot, "INBOX")
        row.moved = folder_count(dovecot, MOVED_TO)
        if row.inbox_left != 0:
            row.note += f"INBOX still holds {row.inbox_left}; "
        if row.moved != n:
            row.note += f"{MOVED_TO} holds {row.moved}, not {n}; "
        if row.tickets != n:
            row.note += f"{row.tickets} tickets, not {n}; "
    except Exception as exc:
        row.note += f"FAILED: {type(exc).__name__}: {exc}; "
    finally:
        kill(daemon)
        if err_file is not None:
            err_file.close()
        if sink is not None:
            sink.close()
        if dovecot is not None:
            if row.note:  # keep the tail of dovecot's log for the report before the folder goes
                log = dovecot.root / "dovecot.log"
                if log.exists():
                    tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-8:]
                    if tail:
                        stderr_log.append(f"[{db}] dovecot.log, last lines:")
                        stderr_log.extend("    " + ln[:300] for ln in tail)
            dovecot.close()
        if pg_name is not None:
            try:
                asyncio.run(drop_pg_db(pg_name))
            except Exception as exc:
                row.note += f"could not drop {pg_name}: {exc}; "
    if err_path.exists():
        lines = [ln for ln in err_path.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            stderr_log.append(f"[{db}] daemon stderr, {len(lines)} lines; first ones:")
            stderr_log.extend("    " + ln[:300] for ln in lines[:8])
    return row


# ---------------------------------------------------------------- output


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or v != v else format(v, spec)


def print_table(rows: list[Row]) -> None:
    head = ("db", "start-up s", "1st stored s", "stored s", "stored msg/s", "e2e s", "e2e msg/s", "acks s",
            "acks msg/s", "stored msg/s -startup", "e2e msg/s -startup", "CPU s", "peak RSS MB", "exit",
            "INBOX/moved/tickets")
    table = []
    for r in rows:
        net_stored = r.n / (r.stored_s - r.startup_s) if r.stored_s and r.startup_s is not None else None
        net = r.n / (r.e2e_s - r.startup_s) if r.e2e_s and r.startup_s is not None else None
        table.append((
            r.db, fmt(r.startup_s, ".2f"), fmt(r.first_stored_s, ".2f"), fmt(r.stored_s, ".2f"),
            fmt(r.rate(r.stored_s), ".0f"), fmt(r.e2e_s, ".2f"), fmt(r.rate(r.e2e_s), ".0f"),
            fmt(r.acks_s, ".2f"), fmt(r.rate(r.acks_s), ".0f"), fmt(net_stored, ".0f"), fmt(net, ".0f"),
            fmt(r.cpu_s, ".1f"),
            fmt(r.rss_mb, ".1f"), "-" if r.exit_code is None else str(r.exit_code),
            f"{'-' if r.inbox_left is None else r.inbox_left}/{'-' if r.moved is None else r.moved}/"
            f"{'-' if r.tickets is None else r.tickets}",
        ))
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths, strict=True)))
    print(line)
    print("-" * len(line))
    for t in table:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(t, widths, strict=True))))
    print("\nbefore the clock: " + ", ".join(
        f"{r.db} APPEND of {r.n} mails {fmt(r.fill_s, '.2f')}s, load average {fmt(r.load_before, '.2f')}"
        for r in rows))
    notes = [f"  {r.db}: {r.note.strip()}" for r in rows if r.note]
    if notes:
        print("\nnotes:")
        print("\n".join(notes))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=500, help="mails in the mailbox (default 500)")
    ap.add_argument("--batch", type=int, default=50, help="[[imap]] batch: mails per UID FETCH (default 50)")
    ap.add_argument("--databases", default="sqlite", help="sqlite and/or postgresql, comma-separated")
    args = ap.parse_args()
    dbs = [d.strip() for d in args.databases.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgresql"):
            ap.error(f"unknown database {d!r}")

    _, kinds = make_mails(args.count, "x")
    sizes = [len(m) for m in make_mails(args.count, "x")[0]]
    print(f"mailgate IMAP ingest: N={args.count} mails in INBOX ({kinds['text']} text, {kinds['attachment']} "
          f"with a base64 attachment, {kinds['html']} HTML only; {sum(sizes) / 1024:.0f} KB, "
          f"{min(sizes) / 1024:.1f}-{max(sizes) / 1024:.1f} KB each), batch={args.batch}, databases {dbs}")
    cpu_model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "?")
    print(f"machine: nproc={os.cpu_count()} ({cpu_model}), python {sys.version.split()[0]} ({PY}), "
          f"load average {load1():.2f}")
    print(REFERENCE)
    if "postgresql" in dbs:
        why = asyncio.run(pg_reachable())
        if why is not None:
            print(f"note: PostgreSQL skipped, {PG_ADMIN_URL} unreachable ({why})")
            dbs.remove("postgresql")
    print(flush=True)

    rows: list[Row] = []
    stderr_log: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailgate-imapbench-") as tmp:
        for d in dbs:
            t = time.monotonic()
            rows.append(run_one(args.count, args.batch, d, Path(tmp), stderr_log))
            print(f"  done: {d} in {time.monotonic() - t:.1f}s", flush=True)
    print()
    print_table(rows)
    print("\ncolumns (all times from the daemon's launch): start-up = until its SMTP port listens; 1st stored ="
          "\n  first inbound_mail row; stored = N inbound_mail rows (fetched and committed: the IMAP ingest rate);"
          "\n  e2e = N inbound processed and N acks queued in the outbox (tickets created); acks = the capture"
          "\n  smart host got N acks; ... msg/s -startup = N / (that time - start-up); CPU s = daemon utime+stime"
          "\n  from launch; peak RSS = VmHWM just before SIGTERM; exit = exit code after SIGTERM;"
          f"\n  INBOX/moved/tickets = mails left in INBOX, mails in {MOVED_TO}, rows in ticket (after the stop).")
    if stderr_log:
        print("\n" + "\n".join(stderr_log))
    print(f"\ntotal wall time {time.monotonic() - started:.1f}s")
    return 0 if all(not r.note for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
