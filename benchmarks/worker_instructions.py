"""The worker's cost a mail, in process and repeatable: the real Worker (prepare -> load -> process -> write, in
batches) over smtp_throughput's mail mix on a fresh SQLite database, after seed tickets for its replies.

Prints CPU ms a mail; with --callgrind, the instructions a mail counted by valgrind's callgrind over the timed
mails only (the same count to a tenth of a per cent, run after run, whatever else the machine does: the wall
clock of this 2-core machine swings by a tenth). Under callgrind the worker's transaction time budget is lifted:
50 times slower, each mail overran it and had a transaction of its own, which at full speed a batch shares (the
count was 12.7 M a mail so, against 6.05 M with the budget lifted, and varied by 1.5 %). --against DIR measures
another checkout (a worktree of an older commit) in the same run, beside this one.

    python benchmarks/worker_instructions.py --count 150 --seed-tickets 100 --callgrind [--against /tmp/old]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=1000, help="timed mails (default 1000; 150 under --callgrind)")
    ap.add_argument("--seed-tickets", type=int, default=300, help="tickets made before the clock, for replies")
    ap.add_argument("--callgrind", action="store_true", help="count instructions under valgrind's callgrind")
    ap.add_argument("--against", type=Path, help="another checkout of mailgate, measured in the same run")
    ap.add_argument("--code", type=Path, default=HERE.parent, help=argparse.SUPPRESS)  # the checkout measured
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)  # this process measures
    args = ap.parse_args()
    if args.measure:
        asyncio.run(_measure(args.code.resolve(), args.count, args.seed_tickets))
        return 0
    for code in [HERE.parent, *([args.against] if args.against else [])]:
        print(f"{code}: {_run(code.resolve(), args.count, args.seed_tickets, args.callgrind)}", flush=True)
    return 0


def _run(code: Path, count: int, seeds: int, callgrind: bool) -> str:
    """One measurement in a process of its own, importing mailgate from `code`."""
    command = [sys.executable, str(HERE / "worker_instructions.py"), "--measure", "--code", str(code),
               "--count", str(count), "--seed-tickets", str(seeds)]
    env = dict(os.environ, MAILGATE_CALLGRIND="1" if callgrind else "")
    if not callgrind:
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        done = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                               *command], env=env, capture_output=True, text=True, check=True)
        total = re.search(r"^totals: (\d+)", out.read_text(), re.M)
    if total is None:
        raise RuntimeError(f"no instruction count from callgrind: {done.stderr[-2000:]}")
    return f"{int(total.group(1)) / count / 1e6:.3f} M instructions a mail ({done.stdout.strip()}, under valgrind)"


async def _measure(code: Path, count: int, seeds: int) -> None:
    sys.path[:0] = [str(code), str(code / "benchmarks")]
    os.chdir(code)  # the checkout's rules/ and templates
    import common  # noqa: PLC0415  (the checkout's own benchmarks)
    import smtp_throughput  # noqa: PLC0415
    import sqlalchemy as sa  # noqa: PLC0415

    from mailgate import log  # noqa: PLC0415
    from mailgate.clock import utcnow  # noqa: PLC0415
    from mailgate.config.settings import load  # noqa: PLC0415
    from mailgate.core.mail.parse import dedupe_fields  # noqa: PLC0415
    from mailgate.outbound.queue import Outgoing  # noqa: PLC0415
    from mailgate.outbound.render import Renderer  # noqa: PLC0415
    from mailgate.rules.load import RulesHolder  # noqa: PLC0415
    from mailgate.store import inbound  # noqa: PLC0415
    from mailgate.store.schema import open_database  # noqa: PLC0415
    from mailgate.worker import Worker  # noqa: PLC0415

    log.configure("warning")

    def arrivals(mails: list[tuple[str, bytes]]) -> list[inbound.Arrival]:
        return [inbound.Arrival(raw=raw, source="smtp", source_ref="127.0.0.1", envelope_from=sender,
                                envelope_to=[common.SUPPORT], message_id=dedupe_fields(raw)[0],
                                sender=dedupe_fields(raw)[1]) for sender, raw in mails]

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(common.CONFIG.format(support=common.SUPPORT, url=f"sqlite:///{folder}/bench.sqlite3",
                                               port=1, sink_port=2, gateway="", smtp="", outbound="", tables=""))
        settings = load(config)
        db = open_database(settings)
        worker = Worker(settings, db, Outgoing(settings, Renderer(settings.templates_dir)), utcnow,
                        RulesHolder.of(settings))
        if os.environ.get("MAILGATE_CALLGRIND"):  # 50 times slower there: one transaction a batch, as at full speed
            worker.budget = 3600.0
        seed = [(s.replace("customer", "earlier"), r.replace(b"Message-ID: <bench-", b"Message-ID: <seed-")
                 .replace(b"customer", b"earlier"))
                for s, r in smtp_throughput.make_mails(seeds, "seed", attachments=0)]
        await db.write(inbound.store_many, arrivals(seed), utcnow())
        while await worker.process_batch():
            pass
        rows = await db.read(lambda c: c.execute(sa.text("SELECT id, requester, root_mid FROM ticket")).all())
        mails = smtp_throughput.make_mails(count, "run", replies_to=[(int(i), str(r), str(m)) for i, r, m in rows],
                                           reply_share=1 / 3)
        await db.write(inbound.store_many, arrivals(mails), utcnow())
        from mailgate import processes  # noqa: PLC0415
        getattr(processes, "collect_for_serving", lambda: None)()  # the collector as the daemon sets it, once started
        _callgrind("on")
        started, done = time.process_time(), 0
        while results := await worker.process_batch():
            done += len(results)
        spent = time.process_time() - started
        _callgrind("off")
        db.close()
    print(f"{done} mails, {1000 * spent / max(done, 1):.3f} ms of CPU a mail")


def _callgrind(state: str) -> None:
    """Instrumentation on or off for this process, when it runs under callgrind (`--instr-atstart=no`)."""
    if os.environ.get("MAILGATE_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True, check=False)


if __name__ == "__main__":
    sys.exit(main())
