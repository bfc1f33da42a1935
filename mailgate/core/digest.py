"""Core: the supervisors' digest: when each one is due (daily, weekly, UTC) and what it says (backlog by status,
service-target breaches, the oldest open tickets, time logged per consultant), as text values for its templates."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from mailgate.core.model import Status
from mailgate.core.workflow.messages import minutes_text, status_label

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CATCH_UP = timedelta(hours=6)  # a digest not sent this long after its time (no daemon ran) is skipped
OLDEST = 10  # open tickets listed, the oldest first
_TIME = r"([01]?\d|2[0-3]):([0-5]\d)"
_DAILY = re.compile(rf"^{_TIME}$")
_WEEKLY = re.compile(rf"^({'|'.join(DAYS)})\s+{_TIME}$", re.I)
_DATE = {"fr": "%d/%m/%Y", "en": "%Y-%m-%d"}
_TARGETS = {"fr": {"response": "première réponse", "resolution": "résolution"},
            "en": {"response": "first response", "resolution": "resolution"}}
_NOBODY = {"fr": "non assigné", "en": "unassigned"}

Kind = Literal["daily", "weekly"]


def parse_daily(text: str) -> time | None:
    """"08:00" -> 08:00; "" -> None (no daily digest); anything else raises ValueError."""
    if not text.strip():
        return None
    found = _DAILY.match(text.strip())
    if found is None:
        raise ValueError(f'{text!r}: expected "HH:MM" (UTC), e.g. "08:00", or "" for none')
    return time(int(found.group(1)), int(found.group(2)))


def parse_weekly(text: str) -> tuple[int, time] | None:
    """"mon 08:00" -> (0, 08:00) (Monday = 0); "" -> None; anything else raises ValueError."""
    if not text.strip():
        return None
    found = _WEEKLY.match(text.strip())
    if found is None:
        raise ValueError(f'{text!r}: expected "<day> HH:MM" (UTC, day one of {", ".join(DAYS)}), e.g. "mon 08:00", '
                         'or "" for none')
    return DAYS.index(found.group(1).lower()), time(int(found.group(2)), int(found.group(3)))


@dataclass(frozen=True, slots=True)
class Period:
    """One digest: sent at `at`; its time logged is that of the days `first_day`..`last_day`."""

    kind: Kind
    at: datetime
    first_day: date
    last_day: date

    @property
    def key(self) -> str:
        """What the store records it under, so that it goes once: `daily:2024-03-01T08:00`."""
        return f"{self.kind}:{self.at:%Y-%m-%dT%H:%M}"

    @property
    def length(self) -> timedelta:
        return timedelta(days=1 if self.kind == "daily" else 7)


@dataclass(frozen=True, slots=True)
class Schedule:
    daily: time | None = None
    weekly: tuple[int, time] | None = None

    @classmethod
    def of(cls, daily: str, weekly: str) -> Schedule:
        return cls(parse_daily(daily), parse_weekly(weekly))

    @property
    def enabled(self) -> bool:
        return self.daily is not None or self.weekly is not None

    def latest(self, now: datetime) -> list[Period]:
        """The last time each digest was due, at or before `now`."""
        now = now.astimezone(UTC)
        found: list[Period] = []
        if self.daily is not None:
            at = datetime.combine(now.date(), self.daily, tzinfo=UTC)
            at -= timedelta(days=1) if at > now else timedelta(0)
            found.append(Period("daily", at, at.date() - timedelta(days=1), at.date() - timedelta(days=1)))
        if self.weekly is not None:
            weekday, hour = self.weekly
            at = datetime.combine(now.date(), hour, tzinfo=UTC) - timedelta(days=(now.weekday() - weekday) % 7)
            at -= timedelta(days=7) if at > now else timedelta(0)
            found.append(Period("weekly", at, at.date() - timedelta(days=7), at.date() - timedelta(days=1)))
        return found

    def due(self, now: datetime) -> list[Period]:
        """The digests to send now unless already sent: due, and not later than CATCH_UP after their time."""
        return [p for p in self.latest(now) if now - p.at < CATCH_UP]

    def next_at(self, now: datetime) -> datetime | None:
        """When the next digest falls due (after `now`); None when none is scheduled."""
        return min((p.at + p.length for p in self.latest(now)), default=None)


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """An open ticket as the digest sees it."""

    number: int
    title: str
    status: Status
    created_at: datetime
    assignee: str | None  # an address
    breached: tuple[str, ...] = ()  # "response", "resolution": the targets the supervisors were told are breached


@dataclass(frozen=True, slots=True)
class Logged:
    """Minutes one consultant logged over the period."""

    agent: str
    minutes: int


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    title: str
    status: str
    age: str
    assignee: str
    breached: str  # "" or the breached targets, in words


@dataclass(frozen=True, slots=True)
class Count:
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class Time:
    name: str
    text: str
    minutes: int


@dataclass(frozen=True, slots=True)
class Content:
    """The digest's words and figures, in its locale: the templates lay them out."""

    kind: Kind
    subject: str
    period: str  # the days the time logged covers, in words
    generated: str
    backlog: tuple[Count, ...]
    open_total: int
    breaches: tuple[Line, ...]
    oldest: tuple[Line, ...]
    time: tuple[Time, ...]
    time_total: str

    def context(self) -> dict[str, object]:
        """The templates' `digest` value."""
        return asdict(self)


def content(period: Period, tickets: Iterable[OpenTicket], logged: Iterable[Logged], *, names: Mapping[str, str],
            locale: str, now: datetime, gateway: str) -> Content:
    """The digest of the open tickets and the time logged over `period`, as of `now`; `names`: agents' names."""
    locale = locale if locale in _DATE else "en"
    tickets = sorted(tickets, key=lambda t: (t.created_at, t.number))
    counts: dict[Status, int] = {s: 0 for s in Status if s is not Status.CLOSED}
    for t in tickets:
        counts[t.status] = counts.get(t.status, 0) + 1

    def line(t: OpenTicket) -> Line:
        who = names.get(t.assignee, t.assignee) if t.assignee else _NOBODY[locale]
        return Line(t.number, t.title, status_label(t.status, locale), age_text(now - t.created_at, locale), who,
                    ", ".join(_TARGETS[locale][b] for b in t.breached))

    times = sorted((Time(names.get(e.agent, e.agent), minutes_text(e.minutes, locale), e.minutes)
                    for e in logged if e.minutes), key=lambda e: (-e.minutes, e.name))
    fmt = _DATE[locale]
    return Content(
        kind=period.kind, subject=subject(period, locale, gateway), period=_period_text(period, locale),
        generated=f"{now.astimezone(UTC):{fmt} %H:%M} UTC",
        backlog=tuple(Count(status_label(s, locale), n) for s, n in counts.items()), open_total=len(tickets),
        breaches=tuple(line(t) for t in tickets if t.breached), oldest=tuple(line(t) for t in tickets[:OLDEST]),
        time=tuple(times), time_total=minutes_text(sum(e.minutes for e in times), locale))


def subject(period: Period, locale: str, gateway: str) -> str:
    day = f"{period.at:{_DATE.get(locale, _DATE['en'])}}"
    if locale == "fr":
        what = "Synthèse quotidienne" if period.kind == "daily" else "Synthèse hebdomadaire"
        return f"[{gateway}] {what} du {day}"
    what = "Daily digest" if period.kind == "daily" else "Weekly digest"
    return f"[{gateway}] {what}, {day}"


def _period_text(period: Period, locale: str) -> str:
    fmt = _DATE[locale]
    first, last = f"{period.first_day:{fmt}}", f"{period.last_day:{fmt}}"
    if locale == "fr":
        return f"le {first}" if first == last else f"du {first} au {last}"
    return f"on {first}" if first == last else f"from {first} to {last}"


def age_text(age: timedelta, locale: str) -> str:
    """How long ago: '3 j 4 h' / '3d 4h'; under a day '5 h 20' / '5h20', '12 min'."""
    minutes = max(0, int(age.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    if days:
        return f"{days} j {rest // 60} h" if locale == "fr" else f"{days}d {rest // 60}h"
    return minutes_text(minutes, locale)


def sample(locale: str = "fr") -> dict[str, object]:
    """A digest's template values, for `mailgate check` to render the templates with."""
    at = datetime(2022, 1, 17, 8, 0, tzinfo=UTC)
    period = Schedule.of("08:00", "").latest(at)[0]
    tickets = [OpenTicket(88, "Création de l'utilisateur Fabrice", Status.IN_PROGRESS, at - timedelta(days=3),
                          "alice@example.com", ("response",)),
               OpenTicket(89, "Imprimante", Status.OPEN, at - timedelta(hours=5), None)]
    return content(period, tickets, [Logged("alice@example.com", 90)], names={"alice@example.com": "Alice"},
                   locale=locale, now=at, gateway="Support").context()
