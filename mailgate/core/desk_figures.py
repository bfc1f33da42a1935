"""Core: the dashboard's figures that `mailgate report` has not: the open tickets at the end of each day, replayed
from the tickets' events (core/report.status_at), for the backlog chart."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mailgate.core.model import Status
from mailgate.core.report import Event, History, status_at


def backlog_by_day(history: History, ends: Sequence[datetime]) -> list[int]:
    """For each instant of `ends` (a day's end), how many tickets existed then and were not Fermé."""
    events: dict[int, list[Event]] = {}
    for e in history.events:
        events.setdefault(e.ticket_id, []).append(e)
    counts = []
    for end in ends:
        counts.append(sum(1 for t in history.tickets if t.created_at < end and not t.merged
                          and status_at(t, events.get(t.id, ()), end) is not Status.CLOSED))
    return counts
