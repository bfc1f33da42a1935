"""Core: what one try to hand an outgoing mail to the smart host leads to: sent, tried again later (when), or
failed for good. Exponential backoff until the mail's deadline; a 5xx or a mail the client refuses is final."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Verdict(StrEnum):
    SENT = "sent"
    TEMPORARY = "temporary"  # 4xx, network trouble, our login refused: try again later
    PERMANENT = "permanent"  # 5xx, or refused before sending: never again


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    verdict: Verdict
    detail: str  # the smart host's answer, or what went wrong


@dataclass(frozen=True, slots=True, kw_only=True)
class Next:
    status: str  # sent | queued (tried again at retry_at) | failed
    retry_at: datetime | None = None
    error: str | None = None


def retry_delay(attempts: int, *, initial: float, maximum: float) -> timedelta:
    """initial, 2x, 4x ... capped at maximum (seconds), after the `attempts`-th try."""
    seconds = initial * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, maximum))


def after(attempt: Attempt, *, attempts: int, deadline: datetime, now: datetime, initial: float,
          maximum: float) -> Next:
    if attempt.verdict is Verdict.SENT:
        return Next(status="sent")
    if attempt.verdict is Verdict.PERMANENT:
        return Next(status="failed", error=attempt.detail)
    at = now + retry_delay(attempts, initial=initial, maximum=maximum)
    if at > deadline:
        return Next(status="failed", error=f"gave up after {attempts} attempts: {attempt.detail}")
    return Next(status="queued", retry_at=at, error=attempt.detail)
