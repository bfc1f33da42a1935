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
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    FROM,
    POLL,
    PY,
    SUPPORT,
    TEXT_PART,
    DaemonRun,
    Poller,
    build_mail,
    cpu_model,
    cpu_seconds,
    customer,
    end_header,
    family,
    fmt,
    free_port,
    kill,
    machine_ticks,
    mail_text,
    parse_databases,
    peak_rss_mb,
    print_end,
    print_table,
    wait_idle,
    wait_listening,
    with_attachment,
)

RUN_TIMEOUT = 90.0  # seconds allowed for one run's mail to be processed and acknowledged
REPLIES = 0.3  # of the timed mails, this share are replies to tickets made before the clock starts
ATTACHMENTS = 0.2  # and this share of all of them carry a 15 kB attachment (20 kB of base64)

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

# This script's own lines in the daemon's config (see common.CONFIG).
CONFIG_EXTRA = {
    "gateway": 'locale = "fr"\n',
    "smtp": "max_message_size = 26214400\n",
    "outbound": "retry_initial_delay = 1\npoll_interval = 0.5\n",
    "tables": "[worker]\npoll_interval = 0.5\n" + os.environ.get("MAILGATE_BENCH_WORKER", ""),
}


# ---------------------------------------------------------------- helpers


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


# ---------------------------------------------------------------- test mail


def make_mails(n: int, tag: str, *, attachments: float = 0.2, replies_to: list[tuple[int, str, str]] = (),
               reply_share: float = 0.0) -> list[tuple[str, bytes]]:
    """(envelope sender, raw mail), all unique: a share `attachments` is ~20 KB with a base64 attachment, the
    rest ~1 KB of plain text. A share `reply_share` are replies to the tickets `replies_to` (number,
    requester, the Message-ID of their first mail): from the requester, `Re: [#N] ...`, quoting, threaded on
    the first mail; the others open tickets."""
    rng = random.Random(1234)
    attachment = base64.encodebytes(rng.randbytes(15_000)).decode().replace("\n", "\r\n")
    every = round(1 / attachments) if attachments else 0
    reply_every = round(1 / reply_share) if reply_share and replies_to else 0
    mails = []
    for i in range(n):
        text, _ = mail_text(rng, i, 140, 14)
        reply = replies_to[(i // reply_every) % len(replies_to)] if reply_every and i % reply_every == 1 else None
        if reply is not None:
            quoted = "\r\n".join("> " + line for line in text.splitlines()[:6])
            text = f"Merci, toujours en panne.\r\n\r\nLe 2 déc. 2026, {reply[1]} a écrit :\r\n{quoted}\r\n"
        if every and i % every == every - 1:
            body = with_attachment(text, "application/octet-stream", f"capture{i}.bin", attachment)
        else:
            body = TEXT_PART + text
        raw = build_mail(i, tag, body)
        if reply is None:
            mails.append((customer(i), raw))
            continue
        number, requester, first_mid = reply
        raw = raw.replace(f"From: Client {i} <{customer(i)}>".encode(), f"From: <{requester}>".encode()).replace(
            f"Subject: Demande {i}:".encode(), f"Subject: Re: [#{number}] Demande {i}:".encode()).replace(
            b"MIME-Version: 1.0\r\n", f"In-Reply-To: <{first_mid}>\r\nMIME-Version: 1.0\r\n".encode())
        mails.append((requester, raw))
    return mails


# ---------------------------------------------------------------- client


@dataclass
class SendResult:
    t0: float = 0.0  # monotonic time of the first send
    t_last_ack: float = 0.0  # monotonic time the last 250 came back
    latencies: list[float] = field(default_factory=list)  # seconds, one per mail answered 250
    errors: list[str] = field(default_factory=list)


def send_all(port: int | list[int], mails: list[tuple[str, bytes]],
             connections: int) -> tuple[SendResult, list[threading.Thread]]:
    """Start `connections` threads, each with its own SMTP session sending its share sequentially (to the
    ports in turn, when several daemons share the work). Returns at once (the clock has started); join the
    threads to wait for the last 250."""
    ports = port if isinstance(port, list) else [port]
    import smtplib

    result = SendResult()
    lock = threading.Lock()
    ready = threading.Barrier(connections + 1, action=lambda: setattr(result, "t0", time.monotonic()))

    def worker(share: list[tuple[str, bytes]], port: int) -> None:
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

    threads = [threading.Thread(target=worker, args=(mails[k::connections], ports[k % len(ports)]), daemon=True)
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
    mix: str = ""
    machine: str = ""  # the whole machine during the run (the database server, other load)
    rss_load_mb: float = 0.0  # the daemon's processes' summed VmRSS, highest sample while mails are processed
    pss_load_mb: float = 0.0  # the same in PSS (shared pages counted once across the two processes)
    split: str = ""  # CPU ms a mail of each daemon process (listener, worker), and the worker's transactions

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
        row.rss_mb = peak_rss_mb(proc.pid)
    finally:
        kill(proc)
    return row


# what the database held when the run started: counts, and the last ids, so that the polls during the run
# count only the rows past them (a count over a big database's million rows every 10 ms took a core from the
# daemon: 2.9 CPU s of the benchmark's own in a run of 4 s)
BEFORE = {"processed": 0, "outbox": 0, "ticket": 0, "inbound_id": 0, "outbox_id": 0}


async def count_before(poller: Poller) -> None:
    BEFORE["processed"] = await poller.scalar(Poller.Q_PROCESSED)
    BEFORE["outbox"] = await poller.scalar(Poller.Q_OUTBOX)
    BEFORE["ticket"] = await poller.scalar("SELECT coalesce(max(id), 0) FROM ticket")
    BEFORE["inbound_id"] = await poller.scalar("SELECT coalesce(max(id), 0) FROM inbound_mail")
    BEFORE["outbox_id"] = await poller.scalar("SELECT coalesce(max(id), 0) FROM outbox")
    await poller.close()


async def processed_since(poller: Poller) -> int:
    """Mails stored since the run started and processed: read through the primary key, not the whole table."""
    return await poller.scalar(f"SELECT count(*) FROM inbound_mail WHERE id > {BEFORE['inbound_id']} "
                               "AND status = 'processed'")


async def queued_since(poller: Poller) -> int:
    return await poller.scalar(f"SELECT count(*) FROM outbox WHERE id > {BEFORE['outbox_id']}")


def seed_tickets(port: int | list[int], poller: Poller, conns: int, count: int, tag: str,
                 daemon: subprocess.Popen[bytes]) -> list[tuple[int, str, str]]:
    """Before the clock starts: `count` tickets for the timed run's replies to answer; (number, requester,
    Message-ID of its first mail) each."""
    seed = [(sender.replace("customer", "earlier"),
             raw.replace(b"Message-ID: <bench-", b"Message-ID: <seed-").replace(b"customer", b"earlier"))
            for sender, raw in make_mails(count, f"seed-{tag}", attachments=0)]
    res, threads = send_all(port, seed, conns)
    join_all(threads, time.monotonic() + RUN_TIMEOUT)

    async def wait() -> list[tuple[int, str, str]]:
        await poller.open()
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline and daemon.poll() is None:
            if await processed_since(poller) >= count and await queued_since(poller) >= count:
                break
            await asyncio.sleep(POLL)
        rows = await poller.fetch(
            f"SELECT id, requester, root_mid FROM ticket WHERE id > {BEFORE['ticket']} ORDER BY id")
        await poller.close()
        return [(int(i), str(r), str(m)) for i, r, m in rows]

    found = asyncio.run(wait())
    if len(found) < count:
        raise RuntimeError(f"only {len(found)} of {count} seed tickets were made")
    return found


def memory_now(pids: list[int]) -> tuple[float, float]:
    """(summed VmRSS, summed Pss) in MB of these processes now, from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return rss / 1024, pss / 1024


def own_cpu_seconds(pid: int) -> float | None:
    """utime + stime of this one process (not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def transactions(poller: Poller, skip: int) -> str:
    """How the worker's transactions took the measured mails: those of one transaction share processed_at."""
    rows = await poller.rows(
        "SELECT count(*), count(DISTINCT processed_at) FROM (SELECT processed_at FROM inbound_mail "
        f"WHERE processed_at IS NOT NULL ORDER BY processed_at LIMIT 1000000000 OFFSET {skip}) AS measured")
    ((mails, count),) = rows.items()
    return f"{count} worker transactions, {int(mails) / max(int(count), 1):.1f} mails each"


def run_mailgate(n: int, conns: int, db: str, workdir: Path, stderr_log: list[str], instances: int = 1) -> Row:
    row = Row("mailgate" if instances == 1 else f"mailgate x{instances}", db, conns, n)
    run = DaemonRun(db, Path(tempfile.mkdtemp(prefix=f"{db}-c{conns}-", dir=workdir)), "mailgate_bench")
    others: list[DaemonRun] = []
    try:
        sink = run.prepare(n, **CONFIG_EXTRA)
        daemon = run.launch()
        wait_listening(run.port, daemon, 60, "mailgate daemon", run.err_path)
        others = [run.another() for _ in range(instances - 1)]
        for other in others:
            wait_listening(other.port, other.launch(), 60, "second mailgate daemon", other.err_path)
        for proc in (daemon, *(o.proc for o in others if o.proc is not None)):
            wait_idle(proc.pid)
        poller = run.poller()
        ports = [run.port, *(o.port for o in others)]

        tag = f"{db}{conns}-{uuid.uuid4().hex[:8]}"
        asyncio.run(count_before(poller))  # a run from a big database starts with its rows
        seeds = seed_tickets(ports, poller, conns, max(1, int(n * REPLIES)), tag, daemon)
        mails = make_mails(n, tag, attachments=ATTACHMENTS, replies_to=seeds, reply_share=REPLIES)
        requesters = {requester for _, requester, _ in seeds}
        new = sum(1 for sender, _ in mails if sender not in requesters)
        row.mix = f"{new} new, {n - new} replies, {sum(b'--BOUNDARY' in raw for _, raw in mails)} with attachments"
        sink.target = len(seeds) + new  # every new ticket's acknowledgement
        pids = [daemon.pid, *(o.proc.pid for o in others if o.proc is not None)]
        cpu0, self0 = sum(cpu_seconds(p) or 0.0 for p in pids), self_cpu()
        each0 = {p: own_cpu_seconds(p) for pid in pids for p in family(pid)}
        sink0 = cpu_seconds(sink.proc.pid) or 0.0
        machine0 = machine_ticks()
        res, threads = send_all(ports, mails, conns)
        deadline = res.t0 + RUN_TIMEOUT

        async def poll() -> tuple[dict[str, int], dict[str, int]]:
            await poller.open()
            try:
                next_sample = 0.0
                while time.monotonic() < deadline:
                    if time.monotonic() >= next_sample and row.processed_s is None:  # memory under load
                        next_sample = time.monotonic() + 0.25
                        sample = memory_now([p for pid in pids for p in family(pid)])
                        row.rss_load_mb = max(row.rss_load_mb, sample[0])
                        row.pss_load_mb = max(row.pss_load_mb, sample[1])
                    if row.processed_s is None:
                        if (await processed_since(poller) >= len(seeds) + n
                                and await queued_since(poller) >= len(seeds) + new):
                            row.processed_s = time.monotonic() - res.t0
                    if row.processed_s is not None and sink.t_all is not None:
                        break
                    if daemon.poll() is not None:
                        break
                    await asyncio.sleep(POLL)
                row.split = await transactions(poller, BEFORE["processed"] + len(seeds))
                return await poller.rows(Poller.Q_INBOUND_STATUS), await poller.rows(Poller.Q_OUTBOX_STATUS)
            finally:
                await poller.close()

        inbound_counts, outbox_counts = asyncio.run(poll())
        row.wall_s = time.monotonic() - res.t0
        busy, steal, total = (b - a for a, b in zip(machine0, machine_ticks(), strict=True))
        row.machine = f"machine {busy / max(total, 1) * 100:.0f}% busy, {steal / max(total, 1) * 100:.0f}% stolen"
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
        row.cpu_s = sum(cpu_seconds(p) or 0.0 for p in pids) - cpu0
        each = [f"{((own_cpu_seconds(p) or 0.0) - (before or 0.0)) / n * 1000:.2f}" for p, before in each0.items()]
        row.split = (f"process ms/mail {' + '.join(each)} (listener first); {row.split}; under load RSS "
                     f"{row.rss_load_mb:.1f} MB, PSS {row.pss_load_mb:.1f} MB (highest of samples every 0.25 s)")
        row.rss_mb = sum(peak_rss_mb(p) or 0.0 for p in pids)
        for other in others:
            row.note += other.stop()[1]
        row.exit_code, note = run.stop()
        row.note += note
    except Exception as exc:
        row.note += f"FAILED: {type(exc).__name__}: {exc}; "
    finally:
        for other in others:
            kill(other.proc)
        row.note += run.close()
    stderr_log.extend(run.stderr_report(f"{db} C={conns}"))
    return row


# ---------------------------------------------------------------- output


def print_rows(rows: list[Row]) -> None:
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
    print_table(head, table, left=3)
    for r in rows:
        if r.mix:
            print(f"  mail mix, {r.db} C={r.conns}: {r.mix} (after {int(r.n * REPLIES)} tickets made before the clock);"
                  f" {r.machine}")
        if r.split:
            print(f"  {r.db} C={r.conns}: {r.split}")
    print("\nCPU seconds during each run (2 cores => at most 2 x wall):")
    print(f"  {'target':8}  {'db':10}  {'C':>1}  {'wall s':>7}  {'server':>7}  {'client+poller':>13}  {'sink':>5}"
          f"  {'server ms/mail':>14}")
    for r in rows:
        per = r.cpu_s / r.n * 1000 if r.cpu_s is not None else None
        print(f"  {r.target:8}  {r.db:10}  {r.conns:>1}  {fmt(r.wall_s, '.2f'):>7}  {fmt(r.cpu_s, '.2f'):>7}"
              f"  {fmt(r.client_cpu_s, '.2f'):>13}  {fmt(r.sink_cpu_s, '.2f'):>5}  {fmt(per, '.2f'):>14}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=500, help="mails per run (default 500)")
    ap.add_argument("--connections", default="1,4", help="concurrent SMTP connections, comma-separated")
    ap.add_argument("--databases", default="sqlite,postgresql", help="sqlite and/or postgresql")
    ap.add_argument("--from-sqlite", default=None, help="also run SQLite from a copy of this file, after a run "
                    "on an empty database (benchmarks/big_database.py builds one); its rows say 'sqlite big'")
    ap.add_argument("--from-postgresql", default=None, help="likewise from a copy of this PostgreSQL database")
    ap.add_argument("--instances", default="1", help="daemons sharing one PostgreSQL database, comma-separated "
                    "(e.g. 1,2); SQLite always runs one")
    args = ap.parse_args()
    conns = [int(c) for c in args.connections.split(",") if c.strip()]
    instances = [int(k) for k in args.instances.split(",") if k.strip()]
    dbs = parse_databases(ap, args.databases)

    print(f"mailgate SMTP throughput: N={args.count} mails per run, connections {conns}, databases {dbs}")
    print(f"machine: nproc={os.cpu_count()} ({cpu_model()}), python {sys.version.split()[0]} ({sys.executable}), "
          f"daemon python {PY}")
    end_header(dbs)

    rows: list[Row] = []
    stderr_log: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailgate-bench-") as tmp:
        for c in conns:
            rows.append(run_baseline(args.count, c))
        sources = {"sqlite": args.from_sqlite, "postgresql": args.from_postgresql}
        for d in dbs:
            # with a big database given: a run on an empty one, then on a copy of the big one (P4)
            for source in ([None, sources[d]] if sources[d] else [None]):
                FROM[d] = source
                for c in conns:
                    for k in (instances if d == "postgresql" else [1]):
                        t = time.monotonic()
                        row = run_mailgate(args.count, c, d, Path(tmp), stderr_log, instances=k)
                        if source:
                            row.db += " big"
                        rows.append(row)
                        print(f"  done: mailgate {row.db} C={c} x{k} in {time.monotonic() - t:.1f}s", flush=True)
    print()
    print_rows(rows)
    print_end([f"  {r.target}/{r.db}/C={r.conns}: {r.note.strip()}" for r in rows if r.note],
              "\ncolumns: e2e msg/s = N / (first send -> N inbound processed and N acks queued in the outbox);"
              "\n  baseline e2e = its accept rate; x base = e2e ratio to the baseline at the same C; accept msg/s ="
              "\n  mails answered 250 / (first send -> last 250); p50/p99 = sendmail() latency to the 250;"
              "\n  acks sent s = first send -> capture smart host got N acks; CPU s = server process CPU during the"
              "\n  run; peak RSS = VmHWM just before SIGTERM; exit = daemon exit code after SIGTERM.",
              stderr_log, started)
    return 0 if all(not r.note for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
