"""Peak memory that one mail with a big attachment costs the daemon, end to end: received over SMTP, stored,
processed into a ticket with its attachment kept (issue 11, P5: at most 4x the attachment's size).

    .venv/bin/python benchmarks/attachment_memory.py [--megabytes 25] [--databases sqlite,postgresql]

For each process of the daemon (the listener, the worker process) the peak resident memory (VmHWM) is reset
once the daemon is idle (/proc/PID/clear_refs), one mail is sent and processed, and the new peak is read:
the growth is peak - resident before. The baseline, in the same run, is a mail of the same text without the
attachment. About 20 s a database on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import smtplib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    SUPPORT,
    TEXT_PART,
    DaemonRun,
    Poller,
    build_mail,
    customer,
    family,
    print_table,
    proc_status_kb,
    wait_idle,
    wait_listening,
    with_attachment,
)

MB = 1024 * 1024


def _reset_peaks(pids: list[int]) -> dict[int, float]:
    """Resident MB of each process now, its peak reset to it (writing 5 to clear_refs, Linux >= 4.0)."""
    now = {}
    for pid in pids:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        now[pid] = (proc_status_kb(pid, "VmRSS") or 0) / 1024
    return now


def _send_and_wait(run: DaemonRun, raw: bytes, processed_before: int) -> float:
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", run.port, timeout=120) as client:
        client.sendmail(customer(1), [SUPPORT], raw)

    async def processed() -> None:
        poller = run.poller()
        try:
            while await poller.scalar(Poller.Q_PROCESSED) <= processed_before:
                if time.monotonic() - started > 120:
                    raise RuntimeError("the mail was not processed within 120 s")
                await asyncio.sleep(0.05)
        finally:
            await poller.close()

    asyncio.run(processed())
    return time.monotonic() - started


def measure(db: str, megabytes: int) -> list[tuple[str, ...]]:
    rng = random.Random(11)
    text = "Bonjour,\r\n\r\nvoici la capture de l'erreur.\r\n\r\nCordialement\r\n"
    blob = base64.encodebytes(rng.randbytes(megabytes * MB)).decode().replace("\n", "\r\n")
    mails = [("no attachment (baseline)", build_mail(1, "plain", TEXT_PART + text)),
             (f"{megabytes} MB attachment", build_mail(2, "big", with_attachment(
                 text, "application/octet-stream", "capture.bin", blob)))]
    size = len(mails[1][1])
    limit = size + MB
    rows = []
    with tempfile.TemporaryDirectory(prefix="mailgate-bench-attachment-") as folder:
        run = DaemonRun(db, Path(folder), "bench_attachment")
        try:
            run.prepare(2, smtp=f"max_message_size = {limit}\npregreet_wait = 0\n",
                        tables=f"[hygiene]\nmax_attachment_bytes = {megabytes * MB + MB}\n"
                               f"max_attachments_bytes_per_mail = {megabytes * MB + MB}\n")
            proc = run.launch()
            wait_listening(run.port, proc, 60, "daemon", run.err_path)
            wait_idle(proc.pid)
            for n, (label, raw) in enumerate(mails):
                pids = family(proc.pid)
                before = _reset_peaks(pids)
                seconds = _send_and_wait(run, raw, n)
                time.sleep(0.5)  # the sender's acknowledgement too
                growth = {pid: (proc_status_kb(pid, "VmHWM") or 0) / 1024 - before[pid] for pid in pids}
                per = " + ".join(f"{growth[pid]:.0f}" for pid in pids)
                total = sum(growth.values())
                rows.append((db, label, f"{len(raw) / MB:.1f}", per, f"{total:.0f}", f"{max(growth.values()):.0f}",
                             f"{max(growth.values()) / megabytes:.1f}" if n else "-", f"{seconds:.2f}"))
            run.stop()
        finally:
            run.close()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--megabytes", type=int, default=25)
    ap.add_argument("--databases", default="sqlite")
    args = ap.parse_args()
    rows = []
    for db in args.databases.split(","):
        rows += measure(db.strip(), args.megabytes)
    print("one mail through the daemon, peak RSS growth in MB per process (listener first)\n")
    print_table(("db", "mail", "raw MB", "growth each", "sum", "largest", "x size", "s"), rows, 2)
    print("\ngrowth each: VmHWM after the mail - VmRSS before it, per process; x size: the largest process's"
          "\ngrowth over the attachment's size; s: from the first SMTP byte to the mail processed")


if __name__ == "__main__":
    main()
