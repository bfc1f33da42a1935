"""Shell: the link between the daemon's two processes (listener and worker): a pipe each way, one byte per
wake-up ("new mail stored", "mail queued"); writes never block, and the end of the pipe tells that the
other process is gone."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

ENV = "MAILGATE_PEER_FDS"  # "<read fd>,<write fd>" handed to the worker process


def env_value(fds: tuple[int, int]) -> str:
    """The value of ENV that hands the other process these (read, write) fds."""
    return f"{fds[0]},{fds[1]}"


class Peer:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        os.set_blocking(write_fd, False)
        os.set_blocking(read_fd, False)
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def pair(cls) -> tuple[Peer, tuple[int, int]]:
        """This side's Peer, and the two fds (read, write) to hand to the other process."""
        to_child_r, to_child_w = os.pipe()
        to_parent_r, to_parent_w = os.pipe()
        return cls(to_parent_r, to_child_w), (to_child_r, to_parent_w)

    @classmethod
    def from_env(cls) -> Peer | None:
        value = os.environ.get(ENV)
        if not value:
            return None
        read_fd, write_fd = (int(x) for x in value.split(","))
        return cls(read_fd, write_fd)

    def signal(self) -> None:
        """Wake the other process; a full pipe already means it has wake-ups to read."""
        try:
            os.write(self.write_fd, b"!")
        except (BlockingIOError, BrokenPipeError):
            pass

    def watch(self, on_signal: Callable[[], None], on_gone: Callable[[], None]) -> None:
        """Call `on_signal` for wake-ups, `on_gone` once when the other process has closed its end."""
        loop = asyncio.get_running_loop()
        self._loop = loop

        def readable() -> None:
            try:
                data = os.read(self.read_fd, 4096)
            except BlockingIOError:
                return
            if data:
                on_signal()
                return
            loop.remove_reader(self.read_fd)
            on_gone()

        loop.add_reader(self.read_fd, readable)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.read_fd)
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
