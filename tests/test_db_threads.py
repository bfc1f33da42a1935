"""The database's threads (store/db_threads.py): results and errors back on the loop, a call given up before it
ran never runs, no thread before the first call (a daemon about to fork has none), close ends them all."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mailgate.store.db_threads import DatabaseThreads


def _named(prefix: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(prefix)]


async def test_results_and_errors_come_back_and_no_thread_runs_before_the_first_call() -> None:
    threads = DatabaseThreads(2, "test-db-a")
    assert _named("test-db-a") == []
    try:
        assert await threads.call(lambda: threading.current_thread().name) in ("test-db-a_0", "test-db-a_1")
        assert len(_named("test-db-a")) == 2
        with pytest.raises(ZeroDivisionError):
            await threads.call(lambda: 1 / 0)
        assert await asyncio.gather(*(threads.call(lambda n=n: n * n) for n in range(50))) == [n * n for n in range(50)]
    finally:
        threads.close()
    assert _named("test-db-a") == []
    with pytest.raises(RuntimeError):
        threads.call(lambda: None)


async def test_a_call_given_up_before_it_ran_does_not_run() -> None:
    threads = DatabaseThreads(1, "test-db-b")
    started, release, ran = threading.Event(), threading.Event(), []
    try:
        busy = threads.call(lambda: (started.set(), release.wait(10)))
        await asyncio.to_thread(started.wait, 10)
        waiting = asyncio.ensure_future(threads.call(lambda: ran.append("queued")))
        await asyncio.sleep(0)
        waiting.cancel()
        release.set()
        await busy
        assert await threads.call(lambda: "after") == "after"  # the thread went on past the cancelled call
    finally:
        threads.close()
    assert ran == []


async def test_a_call_racing_close_fails_rather_than_waiting_for_ever() -> None:
    """close() on another thread (as the daemon closes its database: asyncio.to_thread(db.close)) while a call
    is being handed over: the call raises, it is never queued behind the threads' ends."""
    threads = DatabaseThreads(1, "test-db-c")
    assert await threads.call(lambda: 1) == 1
    loop = asyncio.get_running_loop()
    real = loop.create_future

    def closing_meanwhile() -> asyncio.Future[object]:
        closer = threading.Thread(target=threads.close)
        closer.start()
        closer.join()
        return real()

    loop.create_future = closing_meanwhile  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(threads.call(lambda: "ran"), 5)
    finally:
        loop.create_future = real  # type: ignore[method-assign]
