"""Memory of the SMTP listener while sessions hold unfinished DATA (issue 16.3): spooled to disk past
[smtp] spool_memory, against the same daemon keeping all DATA in memory (spool_memory as large as the mail).

    .venv/bin/python benchmarks/smtp_memory.py [--sessions 8] [--megabytes 16]

Each session sends MAIL, RCPT, DATA and `--megabytes` of 76-character lines, then waits without the final
dot; the daemon's resident memory (all its processes, from /proc) is read before, while the sessions hold
their data, and after they finish (the dot sent, every mail stored). SQLite; about 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SUPPORT, DaemonRun, family, print_table, proc_status_kb, wait_listening  # noqa: E402


def rss_mb(pid: int) -> float:
    return sum(proc_status_kb(p, "VmRSS") or 0 for p in family(pid)) / 1024


async def _session(port: int, chunk: bytes, chunks: int, held: asyncio.Event, go: asyncio.Event) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def say(line: bytes) -> bytes:
        writer.write(line + b"\r\n")
        await writer.drain()
        return await reader.readline()

    await reader.readline()
    for command in (b"HELO bench.example", b"MAIL FROM:<bench@client.example>", f"RCPT TO:<{SUPPORT}>".encode()):
        await say(command)
    started = time.monotonic()
    assert (await say(b"DATA")).startswith(b"354")
    writer.write(b"From: bench@client.example\r\nTo: " + SUPPORT.encode() + b"\r\nSubject: big\r\n\r\n")
    for _ in range(chunks):
        writer.write(chunk)
        await writer.drain()
    elapsed = time.monotonic() - started
    held.set()
    await go.wait()
    reply = await say(b".")
    assert reply.startswith(b"250"), reply
    writer.close()
    return elapsed


async def _measure(run: DaemonRun, sessions: int, megabytes: int) -> tuple[float, float, float, float]:
    assert run.proc is not None
    pid = run.proc.pid
    await asyncio.sleep(2)
    idle = rss_mb(pid)
    line = b"x" * 74 + b"\r\n"
    chunk = line * (65536 // len(line))
    chunks = megabytes * 1024 * 1024 // len(chunk)
    go = asyncio.Event()
    helds = [asyncio.Event() for _ in range(sessions)]
    tasks = [asyncio.create_task(_session(run.port, chunk, chunks, h, go)) for h in helds]
    for h in helds:
        await h.wait()
    await asyncio.sleep(1)  # the daemon reads what is still in its socket buffers
    holding = rss_mb(pid)
    go.set()
    seconds = await asyncio.gather(*tasks)
    await asyncio.sleep(2)
    after = rss_mb(pid)
    rate = sessions * megabytes / max(seconds)
    return idle, holding, after, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--megabytes", type=int, default=16)
    args = ap.parse_args()
    table = []
    limit = (args.megabytes + 1) * 1024 * 1024
    for label, spool in (("spooled (default 1 MiB)", 1024 * 1024), ("all in memory (baseline)", limit)):
        with tempfile.TemporaryDirectory(prefix="mailgate-bench-memory-") as folder:
            run = DaemonRun("sqlite", Path(folder), "bench_memory")
            try:
                run.prepare(args.sessions, smtp=f"max_message_size = {limit}\nspool_memory = {spool}\n"
                                              "pregreet_wait = 0\n")
                run.launch()
                assert run.proc is not None
                wait_listening(run.port, run.proc, 30, "daemon", run.err_path)
                idle, holding, after, rate = asyncio.run(_measure(run, args.sessions, args.megabytes))
                run.stop()
            finally:
                run.close()
        table.append((label, f"{idle:.1f}", f"{holding:.1f}", f"+{holding - idle:.1f}", f"{after:.1f}",
                      f"{rate:.0f}"))
    print(f"{args.sessions} sessions x {args.megabytes} MB of unfinished DATA, SQLite, daemon RSS in MB\n")
    print_table(("DATA kept", "idle", "holding", "growth", "after", "MB/s in"), table, 1)
    print("\nholding: while every session holds its unfinished DATA; after: once all are finished and stored;"
          "\nMB/s in: DATA received by all sessions together")


if __name__ == "__main__":
    main()
