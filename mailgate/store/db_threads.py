"""Store: the database's threads, and a call's trip to them and back: handed to a thread through one queue, its
result set on the event loop in one call_soon_threadsafe. loop.run_in_executor with a ThreadPoolExecutor cost
70-90 us of CPU a round trip here, this 33 (5,000 calls, 3 runs), and the SMTP listener makes one or more a
mail (its group commits, the sender's claims and results)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[], Any]
    done: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class DatabaseThreads:
    """`count` threads, started at the first call (none runs before: a daemon about to fork has no thread)."""

    def __init__(self, count: int, name: str) -> None:
        self._count, self._name = count, name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """`fn()` on a database thread; its result (or exception) in the future, on the running loop."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        with self._lock:  # so that no call is queued behind close()'s ends of the threads
            if self._closed:
                raise RuntimeError("the database is closed")
            if not self._threads:
                self._start()
            self._calls.put(_Call(fn, done, loop))
        return done

    def close(self) -> None:
        """The calls handed over run; then the threads end (joined)."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for _ in threads:
            self._calls.put(None)
        for thread in threads:
            thread.join()

    def _start(self) -> None:
        while len(self._threads) < self._count:  # (under the lock)
            thread = threading.Thread(target=self._serve, name=f"{self._name}_{len(self._threads)}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self) -> None:
        while (call := self._calls.get()) is not None:
            if call.done.cancelled():  # its caller gave up before it ran (as a pool's queued work is cancelled)
                continue
            try:
                result = call.fn()
            except BaseException as exc:  # to the caller, like any outcome
                _back(call, _failed, exc)
            else:
                _back(call, _succeeded, result)


def _back(call: _Call, setter: Callable[[asyncio.Future[Any], Any], None], outcome: Any) -> None:
    try:
        call.loop.call_soon_threadsafe(setter, call.done, outcome)
    except RuntimeError:  # the loop is closed: nobody waits for it any more
        pass


def _succeeded(done: asyncio.Future[Any], result: Any) -> None:
    if not done.cancelled():
        done.set_result(result)


def _failed(done: asyncio.Future[Any], exc: BaseException) -> None:
    if not done.cancelled():
        done.set_exception(exc)
