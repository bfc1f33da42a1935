"""SMTP throughput of the real mailgate daemon end to end (accept, ticket, ack sent) vs a bare aiosmtpd server."""

# Usage (from the repository root, about 1-3 minutes on 2 cores):
#   .venv/bin/python benchmarks/smtp_throughput.py [--count 500] [--connections 1,4]
#                                                      [--databases sqlite,postgresql]
# PostgreSQL is used when postgresql://postgres@127.0.0.1:5432/test answers (trust auth); a fresh
# database is created and dropped for every run. Every subprocess is killed on the way out.

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import random
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

PY = sys.executable  # the daemon and the servers run under the same interpreter as this script
ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/"
SUPPORT = "support@example.test"
POLL = 0.010  # seconds between database polls
RUN_TIMEOUT = 90.0  # seconds allowed for one run's mail to be processed and acknowledged

# A bare aiosmtpd server (the same SMTP options as mailgate's listener); handle_DATA answers at once.
BASELINE_SERVER = r"""
import asyncio, sys
from aiosmtpd.smtp import SMTP
class H:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(H(), data_size_limit=26214400, enable_SMTPUTF8=True,
                                   decode_data=False, ident="baseline ESMTP"), host="127.0.0.1",
                                   port=int(sys.argv[1]))
    await srv.serve_forever()
asyncio.run(main())
"""

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
locale = "fr"
secret = "bench-secret-0123456789abcdef"
[database]
url = "{url}"
[smtp]
host = "127.0.0.1"
port = {port}
max_message_size = 26214400
[outbound]
host = "127.0.0.1"
port = {sink_port}
retry_initial_delay = 1
poll_interval = 0.5
[worker]
poll_interval = 0.5
[log]
level = "warning"
"""


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[Any], timeout: float, what: str,
                   stderr_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = stderr_path.read_text(errors="replace")[-3000:] if stderr_path else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening\n{err}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:.0f}s")


def kill(proc: subprocess.Popen[Any] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.kill()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def proc_status(pid: int, key: str) -> int | None:
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


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


# ---------------------------------------------------------------- test mail


_WORDS = ("bonjour", "imprimante", "serveur", "facture", "accès", "compte", "erreur", "urgent", "merci",
          "écran", "réseau", "mot", "de", "passe", "le", "la", "ne", "fonctionne", "plus", "depuis", "hier")


def make_mails(n: int, tag: str) -> list[tuple[str, bytes]]:
    """(envelope sender, raw mail): unique Message-ID and sender each; 1 in 10 is ~20 KB with a
    base64 attachment, the rest ~1 KB of plain text."""
    rng = random.Random(1234)
    attachment = base64.encodebytes(rng.randbytes(15_000)).decode().replace("\n", "\r\n")
    mails = []
    for i in range(n):
        sender = f"customer{i}@client.example"
        words = [rng.choice(_WORDS) for _ in range(140)]
        lines = [" ".join(words[j:j + 14]) for j in range(0, len(words), 14)]
        text = "Bonjour,\r\n\r\n" + "\r\n".join(lines) + f"\r\n\r\nCordialement,\r\nClient {i}\r\n"
        headers = (
            f"From: Client {i} <{sender}>\r\nTo: Support <{SUPPORT}>\r\n"
            f"Subject: Demande {i}: probleme d'acces au service\r\n"
            f"Date: {formatdate(localtime=False)}\r\nMessage-ID: <bench-{tag}-{i}@client.example>\r\n"
            "MIME-Version: 1.0\r\n"
        )
        if i % 10 == 9:
            body = (
                'Content-Type: multipart/mixed; boundary="BOUNDARY"\r\n\r\n'
                "--BOUNDARY\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                f"{text}\r\n--BOUNDARY\r\nContent-Type: application/octet-stream; name=\"capture{i}.bin\"\r\n"
                f"Content-Disposition: attachment; filename=\"capture{i}.bin\"\r\n"
                "Content-Transfer-Encoding: base64\r\n\r\n"
                f"{attachment}\r\n--BOUNDARY--\r\n"
            )
        else:
            body = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + text
        mails.append((sender, (headers + body).encode("utf-8")))
    return mails


# ---------------------------------------------------------------- client


@dataclass
class SendResult:
    t0: float = 0.0  # monotonic time of the first send
    t_last_ack: float = 0.0  # monotonic time the last 250 came back
    latencies: list[float] = field(default_factory=list)  # seconds, one per mail answered 250
    errors: list[str] = field(default_factory=list)


def send_all(port: int, mails: list[tuple[str, bytes]], connections: int) -> tuple[SendResult, list[threading.Thread]]:
    """Start `connections` threads, each with its own SMTP session sending its share sequentially.
    Returns at once (the clock has started); join the threads to wait for the last 250."""
    import smtplib

    result = SendResult()
    lock = threading.Lock()
    ready = threading.Barrier(connections + 1, action=lambda: setattr(result, "t0", time.monotonic()))

    def worker(share: list[tuple[str, bytes]]) -> None:
        lat: list[float] = []
        errs: list[str] = []
        client = None
        try:
            client = smtplib.SMTP("127.0.0.1", port, timeout=60)
            client.ehlo("bench.client.example")
        except Exception as exc:
            errs.append(f"connect: {type(exc).__name__}: {exc}")
        try:
            ready.wait(timeout=30)
        except threading.BrokenBarrierError:
            errs.append("barrier broken")
        if client is not None:
            for sender, raw in share:
                start = time.monotonic()
                try:
                    client.sendmail(sender, [SUPPORT], raw)
                    lat.append(time.monotonic() - start)
                except Exception as exc:
                    errs.append(f"{type(exc).__name__}: {exc}")
                    if isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
                        break
            end = time.monotonic()
            try:
                client.quit()
            except Exception:
                client.close()
            with lock:
                result.t_last_ack = max(result.t_last_ack, end)
        with lock:
            result.latencies.extend(lat)
            result.errors.extend(errs)

    threads = [threading.Thread(target=worker, args=(mails[k::connections],), daemon=True)
               for k in range(connections)]
    for t in threads:
        t.start()
    ready.wait(timeout=60)
    return result, threads


def join_all(threads: list[threading.Thread], deadline: float) -> bool:
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


# ---------------------------------------------------------------- runs


@dataclass
class Row:
    target: str
    db: str
    conns: int
    n: int
    sent_ok: int = 0
    accept_s: float | None = None  # first send -> last 250
    p50_ms: float | None = None
    p99_ms: float | None = None
    processed_s: float | None = None  # first send -> N processed with N acks queued
    acks_s: float | None = None  # first send -> sink received N
    cpu_s: float | None = None  # server (daemon or baseline) CPU during the run
    client_cpu_s: float | None = None  # this process: client threads, poller, sink reader
    sink_cpu_s: float | None = None
    wall_s: float | None = None  # first send -> end of the measurement
    rss_mb: float | None = None
    exit_code: int | None = None
    note: str = ""

    @property
    def accept_rate(self) -> float | None:
        return self.sent_ok / self.accept_s if self.accept_s else None

    @property
    def e2e_rate(self) -> float | None:
        if self.target == "baseline":
            return self.accept_rate
        return self.n / self.processed_s if self.processed_s else None


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def fill_latency(row: Row, res: SendResult) -> None:
    row.sent_ok = len(res.latencies)
    row.accept_s = res.t_last_ack - res.t0 if res.t_last_ack else None
    row.p50_ms = percentile(res.latencies, 50) * 1000
    row.p99_ms = percentile(res.latencies, 99) * 1000
    if res.errors:
        row.note += f"{len(res.errors)} send errors (first: {res.errors[0][:120]}); "


def run_baseline(n: int, conns: int) -> Row:
    row = Row("baseline", "-", conns, n)
    port = free_port()
    proc = subprocess.Popen([PY, "-c", BASELINE_SERVER, str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_listening(port, proc, 20, "baseline server")
        mails = make_mails(n, f"base{conns}-{uuid.uuid4().hex[:8]}")
        cpu0, self0 = cpu_seconds(proc.pid) or 0.0, self_cpu()
        res, threads = send_all(port, mails, conns)
        if not join_all(threads, time.monotonic() + RUN_TIMEOUT):
            row.note += "TIMEOUT sending; "
        fill_latency(row, res)
        row.wall_s = row.accept_s
        row.cpu_s = (cpu_seconds(proc.pid) or 0.0) - cpu0
        row.client_cpu_s = self_cpu() - self0
        hwm = proc_status(proc.pid, "VmHWM")
        row.rss_mb = hwm / 1024 if hwm else None
    finally:
        kill(proc)
    return row


class Sink:
    """The capture smart host in its own process; a reader thread follows its counter."""

    def __init__(self) -> None:
        self.port = free_port()
        self.count = 0
        self.t_all: float | None = None
        self.target: int | None = None
        self.proc = subprocess.Popen([PY, "-u", "-c", SINK_SERVER, str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            count, at = line.split()
            self.count = int(count)
            if self.target is not None and self.count >= self.target and self.t_all is None:
                self.t_all = float(at)

    def close(self) -> None:
        kill(self.proc)


class Poller:
    """Counts in the daemon's database, read directly (sqlite3 or asyncpg)."""

    Q_PROCESSED = "SELECT count(*) FROM inbound_mail WHERE status='processed'"
    Q_OUTBOX = "SELECT count(*) FROM outbox"
    Q_OTHER = "SELECT status, count(*) FROM inbound_mail GROUP BY status"
    Q_OUT_STATUS = "SELECT status, count(*) FROM outbox GROUP BY status"

    def __init__(self, sqlite_path: Path | None, pg_url: str | None) -> None:
        self.sqlite_path, self.pg_url = sqlite_path, pg_url
        self.sq: sqlite3.Connection | None = None
        self.pg: Any = None  # asyncpg.Connection

    async def open(self) -> None:
        if self.sqlite_path is not None:
            self.sq = sqlite3.connect(str(self.sqlite_path), timeout=5, isolation_level=None)
        else:
            import asyncpg
            self.pg = await asyncpg.connect(self.pg_url, timeout=10)

    async def scalar(self, q: str) -> int:
        if self.sq is not None:
            return int(self.sq.execute(q).fetchone()[0])
        return int(await self.pg.fetchval(q))

    async def rows(self, q: str) -> dict[str, int]:
        if self.sq is not None:
            return dict(self.sq.execute(q).fetchall())
        return {r[0]: r[1] for r in await self.pg.fetch(q)}

    async def close(self) -> None:
        if self.sq is not None:
            self.sq.close()
        if self.pg is not None:
            await self.pg.close()


async def create_pg_db() -> str:
    import asyncpg
    name = f"mailgate_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
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


def run_mailgate(n: int, conns: int, db: str, workdir: Path, stderr_log: list[str]) -> Row:
    row = Row("mailgate", db, conns, n)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{db}-c{conns}-", dir=workdir))
    pg_name: str | None = None
    sink: Sink | None = None
    daemon: subprocess.Popen[Any] | None = None
    err_path = run_dir / "daemon.stderr"
    err_file = None
    try:
        if db == "sqlite":
            sqlite_path = run_dir / "bench.sqlite3"
            url, pg_url = f"sqlite:///{sqlite_path}", None
        else:
            sqlite_path = None
            pg_name = asyncio.run(create_pg_db())
            url = pg_url = PG_BASE + pg_name
        sink = Sink()
        port = free_port()
        cfg = run_dir / "config.toml"
        cfg.write_text(CONFIG.format(support=SUPPORT, url=url, port=port, sink_port=sink.port))
        if db == "postgresql":
            up = subprocess.run([PY, "-m", "mailgate", "-c", str(cfg), "db", "upgrade"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
            if up.returncode != 0:
                raise RuntimeError(f"db upgrade failed ({up.returncode}): {up.stderr[-2000:]}")
        wait_listening(sink.port, sink.proc, 20, "sink")
        err_file = open(err_path, "wb")
        daemon = subprocess.Popen([PY, "-m", "mailgate", "-c", str(cfg), "run"], cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=err_file)
        wait_listening(port, daemon, 60, "mailgate daemon", err_path)
        poller = Poller(sqlite_path, pg_url)

        mails = make_mails(n, f"{db}{conns}-{uuid.uuid4().hex[:8]}")
        sink.target = n
        cpu0, self0 = cpu_seconds(daemon.pid) or 0.0, self_cpu()
        sink0 = cpu_seconds(sink.proc.pid) or 0.0
        res, threads = send_all(port, mails, conns)
        deadline = res.t0 + RUN_TIMEOUT

        async def poll() -> tuple[dict[str, int], dict[str, int]]:
            await poller.open()
            try:
                while time.monotonic() < deadline:
                    if row.processed_s is None:
                        if (await poller.scalar(Poller.Q_PROCESSED) >= n
                                and await poller.scalar(Poller.Q_OUTBOX) >= n):
                            row.processed_s = time.monotonic() - res.t0
                    if row.processed_s is not None and sink.t_all is not None:
                        break
                    if daemon.poll() is not None:
                        break
                    await asyncio.sleep(POLL)
                return await poller.rows(Poller.Q_OTHER), await poller.rows(Poller.Q_OUT_STATUS)
            finally:
                await poller.close()

        inbound_counts, outbox_counts = asyncio.run(poll())
        row.wall_s = time.monotonic() - res.t0
        row.client_cpu_s = self_cpu() - self0
        row.sink_cpu_s = (cpu_seconds(sink.proc.pid) or 0.0) - sink0
        if not join_all(threads, deadline):
            row.note += "TIMEOUT sending; "
        fill_latency(row, res)
        if sink.t_all is not None:
            row.acks_s = sink.t_all - res.t0
        if row.processed_s is None or row.acks_s is None:
            row.note += (f"INCOMPLETE after {RUN_TIMEOUT:.0f}s: inbound {inbound_counts}, outbox {outbox_counts}, "
                         f"sink {sink.count}; ")
        row.cpu_s = (cpu_seconds(daemon.pid) or 0.0) - cpu0
        hwm = proc_status(daemon.pid, "VmHWM")
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
    except Exception as exc:
        row.note += f"FAILED: {type(exc).__name__}: {exc}; "
    finally:
        kill(daemon)
        if err_file is not None:
            err_file.close()
        if sink is not None:
            sink.close()
        if pg_name is not None:
            try:
                asyncio.run(drop_pg_db(pg_name))
            except Exception as exc:
                row.note += f"could not drop {pg_name}: {exc}; "
    if err_path.exists():
        lines = [ln for ln in err_path.read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            stderr_log.append(f"[{db} C={conns}] daemon stderr, {len(lines)} lines; first ones:")
            stderr_log.extend("    " + ln[:300] for ln in lines[:8])
    return row


# ---------------------------------------------------------------- output


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None or v != v else format(v, spec)


def print_table(rows: list[Row]) -> None:
    base = {r.conns: r for r in rows if r.target == "baseline"}
    head = ("target", "db", "C", "e2e msg/s", "x base", "accept msg/s", "p50 ms", "p99 ms", "p50 x base",
            "all 250 s", "processed s", "acks sent s", "CPU s", "peak RSS MB", "exit")
    table = []
    for r in rows:
        b = base.get(r.conns)
        ratio = r.e2e_rate / b.e2e_rate if (b and r.e2e_rate and b.e2e_rate) else None
        p50r = r.p50_ms / b.p50_ms if (b and r.p50_ms and b.p50_ms) else None
        table.append((
            r.target, r.db, str(r.conns), fmt(r.e2e_rate, ".0f"),
            "1.00" if r.target == "baseline" else fmt(ratio, ".3f"),
            fmt(r.accept_rate, ".0f"), fmt(r.p50_ms, ".2f"), fmt(r.p99_ms, ".2f"),
            "1.0" if r.target == "baseline" else fmt(p50r, ".1f"),
            fmt(r.accept_s, ".2f"), fmt(r.processed_s, ".2f"), fmt(r.acks_s, ".2f"),
            fmt(r.cpu_s, ".1f"), fmt(r.rss_mb, ".1f"), "-" if r.exit_code is None else str(r.exit_code),
        ))
    widths = [max(len(h), *(len(t[i]) for t in table)) for i, h in enumerate(head)]
    line = "  ".join(h.rjust(w) if i > 2 else h.ljust(w) for i, (h, w) in enumerate(zip(head, widths, strict=True)))
    print(line)
    print("-" * len(line))
    for t in table:
        print("  ".join(c.rjust(w) if i > 2 else c.ljust(w) for i, (c, w) in enumerate(zip(t, widths, strict=True))))
    print("\nCPU seconds during each run (2 cores => at most 2 x wall):")
    print(f"  {'target':8}  {'db':10}  {'C':>1}  {'wall s':>7}  {'server':>7}  {'client+poller':>13}  {'sink':>5}"
          f"  {'server ms/mail':>14}")
    for r in rows:
        per = r.cpu_s / r.n * 1000 if r.cpu_s is not None else None
        print(f"  {r.target:8}  {r.db:10}  {r.conns:>1}  {fmt(r.wall_s, '.2f'):>7}  {fmt(r.cpu_s, '.2f'):>7}"
              f"  {fmt(r.client_cpu_s, '.2f'):>13}  {fmt(r.sink_cpu_s, '.2f'):>5}  {fmt(per, '.2f'):>14}")
    notes = [f"  {r.target}/{r.db}/C={r.conns}: {r.note.strip()}" for r in rows if r.note]
    if notes:
        print("\nnotes:")
        print("\n".join(notes))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=500, help="mails per run (default 500)")
    ap.add_argument("--connections", default="1,4", help="concurrent SMTP connections, comma-separated")
    ap.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    args = ap.parse_args()
    conns = [int(c) for c in args.connections.split(",") if c.strip()]
    dbs = [d.strip() for d in args.databases.split(",") if d.strip()]
    for d in dbs:
        if d not in ("sqlite", "postgresql"):
            ap.error(f"unknown database {d!r}")

    print(f"mailgate SMTP throughput: N={args.count} mails per run, connections {conns}, databases {dbs}")
    cpu_model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "?")
    print(f"machine: nproc={os.cpu_count()} ({cpu_model}), python {sys.version.split()[0]} ({sys.executable}), "
          f"daemon python {PY}")
    if "postgresql" in dbs:
        why = asyncio.run(pg_reachable())
        if why is not None:
            print(f"note: PostgreSQL skipped, {PG_ADMIN_URL} unreachable ({why})")
            dbs.remove("postgresql")
    print(flush=True)

    rows: list[Row] = []
    stderr_log: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        for c in conns:
            rows.append(run_baseline(args.count, c))
        for d in dbs:
            for c in conns:
                t = time.monotonic()
                rows.append(run_mailgate(args.count, c, d, Path(tmp), stderr_log))
                print(f"  done: mailgate {d} C={c} in {time.monotonic() - t:.1f}s", flush=True)
    print()
    print_table(rows)
    print("\ncolumns: e2e msg/s = N / (first send -> N inbound processed and N acks queued in the outbox);"
          "\n  baseline e2e = its accept rate; x base = e2e ratio to the baseline at the same C; accept msg/s ="
          "\n  mails answered 250 / (first send -> last 250); p50/p99 = sendmail() latency to the 250;"
          "\n  acks sent s = first send -> capture smart host got N acks; CPU s = server process CPU during the"
          "\n  run; peak RSS = VmHWM just before SIGTERM; exit = daemon exit code after SIGTERM.")
    if stderr_log:
        print("\n" + "\n".join(stderr_log))
    print(f"\ntotal wall time {time.monotonic() - started:.1f}s")
    return 0 if all(not r.note for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
