"""Shell: service targets of the config -> due times of a new ticket (priority targets in hours)."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailgate.config import Settings, Target
from mailgate.core.model import Priority
from mailgate.store.tickets import Due


def target(settings: Settings, priority: Priority) -> Target | None:
    found: Target | None = getattr(settings.sla, priority.value)
    return found


def due(settings: Settings, priority: Priority, created: datetime) -> Due:
    found = target(settings, priority)
    if found is None:
        return Due()
    return Due(response=created + timedelta(hours=found.response_hours),
               resolution=created + timedelta(hours=found.resolution_hours))
