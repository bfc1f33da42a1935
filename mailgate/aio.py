"""Shell: small asyncio helpers shared by the daemon's tasks."""

from __future__ import annotations

import asyncio


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Sleep up to `timeout` seconds, returning early as soon as any of `events` is set."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=max(timeout, 0.0), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
