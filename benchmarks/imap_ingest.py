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
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from common import (
    POLL,
    PY,
    ROOT,
    TEXT_PART,
    DaemonRun,
    Poller,
    build_mail,
    cpu_model,
    cpu_seconds,
    end_header,
    fmt,
    is_listening,
    mail_text,
    parse_databases,
    peak_rss_mb,
    print_end,
    print_table,
    with_attachment,
)

sys.path.insert(0, str(ROOT))

from tests.dovecot import PASSWORD, USER, Dovecot  # noqa: E402

MOVED_TO = "mailgate.processed"  # move_to "mailgate/processed" with dovecot's maildir separator "."
RUN_TIMEOUT = 180.0  # seconds allowed from daemon launch to N acks at the sink
REFERENCE = ("reference (from the issue, not measured in this run): django-helpdesk 2.6 ingests about 40-46 "
             "msgs/s over IMAP on this kind of machine; target >= 300")

# This script's own table in the daemon's config (see common.CONFIG).
IMAP_TABLE = """\
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


def load1() -> float:
    return os.getloadavg()[0]


# ---------------------------------------------------------------- test mail


def make_mails(n: int, tag: str) -> tuple[list[bytes], dict[str, int]]:
    """Raw mails, each with a unique Message-ID and sender customer{i}@client.example: most 1-3 KB of
    plain text, 1 in 5 with a 20-60 KB base64 attachment, 1 in 50 HTML only. Also the kind counts."""
    rng = random.Random(4321)
    mails: list[bytes] = []
    kinds = {"text": 0, "attachment": 0, "html": 0}
    for i in range(n):
        n_words = rng.randint(120, 420)  # ~1-3 KB with the headers
        text, lines = mail_text(rng, i, n_words, 12)
        if i % 50 == 25:
            kinds["html"] += 1
            html = "".join(f"<p>{ln}</p>\r\n" for ln in lines)
            body = ("Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                    f"<html><body><p>Bonjour,</p>\r\n{html}<p>Cordialement,<br>Client {i}</p></body></html>\r\n")
        elif i % 5 == 4:
            kinds["attachment"] += 1
            blob = base64.encodebytes(rng.randbytes(rng.randint(15_000, 45_000))).decode()  # 20-60 KB encoded
            body = with_attachment(text, "application/pdf", f"facture{i}.pdf", blob.replace("\n", "\r\n"))
        else:
            kinds["text"] += 1
            body = TEXT_PART + text
        mails.append(build_mail(i, tag, body))
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
    run = DaemonRun(db, Path(tempfile.mkdtemp(prefix=f"{db}-", dir=workdir)), "mailgate_imapbench")
    dovecot: Dovecot | None = None
    try:
        dovecot = Dovecot()
        dovecot.start()
        mails, _ = make_mails(n, f"{db}-{uuid.uuid4().hex[:8]}")
        t = time.monotonic()
        fill_inbox(dovecot, mails)
        row.fill_s = time.monotonic() - t
        if folder_count(dovecot, "INBOX") != n:
            raise RuntimeError(f"INBOX holds {folder_count(dovecot, 'INBOX')} mails after filling, not {n}")

        password_file = run.run_dir / "imap-password"
        password_file.write_text(PASSWORD + "\n")
        sink = run.prepare(n, tables=IMAP_TABLE.format(imap_port=dovecot.port, user=USER,
                                                      password_file=password_file, batch=batch))

        t0 = time.monotonic()  # the clock starts at launch
        daemon = run.launch()
        deadline = t0 + RUN_TIMEOUT
        poller = run.poller()
        port = run.port

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
                    if daemon.poll() is not None:
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
        row.rss_mb = peak_rss_mb(daemon.pid)
        row.exit_code, note = run.stop()
        row.note += note

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
        close_note = run.close()  # the daemon first, then dovecot under it
        if dovecot is not None:
            if row.note:  # keep the tail of dovecot's log for the report before the folder goes
                log = dovecot.root / "dovecot.log"
                if log.exists():
                    tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()][-8:]
                    if tail:
                        stderr_log.append(f"[{db}] dovecot.log, last lines:")
                        stderr_log.extend("    " + ln[:300] for ln in tail)
            dovecot.close()
        row.note += close_note
    stderr_log.extend(run.stderr_report(db))
    return row


# ---------------------------------------------------------------- output


def print_rows(rows: list[Row]) -> None:
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
    print_table(head, table, left=1)
    print("\nbefore the clock: " + ", ".join(
        f"{r.db} APPEND of {r.n} mails {fmt(r.fill_s, '.2f')}s, load average {fmt(r.load_before, '.2f')}"
        for r in rows))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=500, help="mails in the mailbox (default 500)")
    ap.add_argument("--batch", type=int, default=50, help="[[imap]] batch: mails per UID FETCH (default 50)")
    ap.add_argument("--databases", default="sqlite", help="sqlite and/or postgresql, comma-separated")
    args = ap.parse_args()
    dbs = parse_databases(ap, args.databases)

    _, kinds = make_mails(args.count, "x")
    sizes = [len(m) for m in make_mails(args.count, "x")[0]]
    print(f"mailgate IMAP ingest: N={args.count} mails in INBOX ({kinds['text']} text, {kinds['attachment']} "
          f"with a base64 attachment, {kinds['html']} HTML only; {sum(sizes) / 1024:.0f} KB, "
          f"{min(sizes) / 1024:.1f}-{max(sizes) / 1024:.1f} KB each), batch={args.batch}, databases {dbs}")
    print(f"machine: nproc={os.cpu_count()} ({cpu_model()}), python {sys.version.split()[0]} ({PY}), "
          f"load average {load1():.2f}")
    print(REFERENCE)
    end_header(dbs)

    rows: list[Row] = []
    stderr_log: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mailgate-imapbench-") as tmp:
        for d in dbs:
            t = time.monotonic()
            rows.append(run_one(args.count, args.batch, d, Path(tmp), stderr_log))
            print(f"  done: {d} in {time.monotonic() - t:.1f}s", flush=True)
    print()
    print_rows(rows)
    print_end([f"  {r.db}: {r.note.strip()}" for r in rows if r.note],
              "\ncolumns (all times from the daemon's launch): start-up = until its SMTP port listens; 1st stored ="
              "\n  first inbound_mail row; stored = N inbound_mail rows (fetched and committed: the IMAP ingest rate);"
              "\n  e2e = N inbound processed and N acks queued in the outbox (tickets created); acks = the capture"
              "\n  smart host got N acks; ... msg/s -startup = N / (that time - start-up); CPU s = daemon utime+stime"
              "\n  from launch; peak RSS = VmHWM just before SIGTERM; exit = exit code after SIGTERM;"
              f"\n  INBOX/moved/tickets = mails left in INBOX, mails in {MOVED_TO}, rows in ticket (after the stop).",
              stderr_log, started)
    return 0 if all(not r.note for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
