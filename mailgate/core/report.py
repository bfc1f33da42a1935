"""Core: the supervisors' report over a period (`mailgate report`, docs/reports.md): backlog and ageing, first
response and resolution times (nearest-rank percentiles), breaches, escalations, reopenings, time and billing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce

from mailgate.core.model import RequestType, Status
from mailgate.core.workflow import billing

AGEING = (("<1d", 1), ("1-3d", 3), ("3-7d", 7), ("7-30d", 30), ("30d+", None))  # [lower, upper) days
LEVELS = ("N1", "N2", "N3", "N4")
STANDARD_MOVES = ("N1->N2", "N2->N3", "N3->N4")
CLOSING = frozenset({"closed", "auto_closed", "merged"})  # event kinds that close a ticket
# the event kinds that move a ticket's status, and `escalated` (levels): what the store reads of the history
STATUS_KINDS = frozenset({"status", "taken", "assigned", "resolved", "estimate_sent", "waiting", "reopened",
                          *CLOSING})
EVENT_KINDS = STATUS_KINDS | {"escalated"}
_MOVED = {"resolved": Status.ANSWER_SENT, "estimate_sent": Status.AWAITING_ESTIMATE_APPROVAL,
          "waiting": Status.WAITING, "reopened": Status.IN_PROGRESS}


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """[start, end) in UTC; `label` is how the command line named it."""
    start: datetime
    end: datetime
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TicketFacts:
    """One ticket row as the report reads it (present values)."""
    id: int
    created_at: datetime
    status: Status
    status_changed_at: datetime
    level: int
    type: RequestType
    queue: str | None = None
    merged: bool = False
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    response_breached_at: datetime | None = None
    resolution_breached_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One event of a ticket (only EVENT_KINDS matter); `order` sorts events of the same instant."""
    ticket_id: int
    at: datetime
    kind: str
    data: Mapping[str, object]
    order: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Logged:
    """Minutes one consultant logged in the period on one customer's tickets (None: no customer)."""
    agent: str
    customer: str | None
    minutes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthLines:
    """One whole month of the period, billed as `mailgate billing` bills it (core/workflow/billing.lines)."""
    month: str
    lines: tuple[billing.Line, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class History:
    """What the store read: tickets that may matter to the period, their events, time, billing lines."""
    tickets: tuple[TicketFacts, ...]
    events: tuple[Event, ...] = ()
    logged: tuple[Logged, ...] = ()
    months: tuple[MonthLines, ...] = ()


@dataclass(frozen=True, slots=True)
class Count:
    key: str
    value: int  # tickets, moves or minutes


@dataclass(frozen=True, slots=True, kw_only=True)
class Times:
    """Durations (seconds) from creation: `n` measured, `pending` not there yet; nearest-rank p50 and p90."""
    n: int
    pending: int
    p50: int | None
    p90: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    """Tickets created in the period sharing `key` (a level, a type, a month) and their two durations."""
    key: str
    tickets: int
    response: Times
    resolution: Times


@dataclass(frozen=True, slots=True, kw_only=True)
class Backlog:
    total: int
    by_status: tuple[Count, ...]
    by_level: tuple[Count, ...]
    by_type: tuple[Count, ...]
    by_queue: tuple[Count, ...]
    ageing: tuple[Count, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Bill:
    """One customer's bill for one month (`mailgate billing`'s total), over `tickets` billed tickets."""
    month: str
    customer: str
    tickets: int
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    period: Period
    as_of: datetime  # the backlog's instant: the period's end, or now when that is sooner
    backlog: Backlog
    all: Group  # every ticket created in the period
    by_level: tuple[Group, ...]
    by_type: tuple[Group, ...]
    by_month: tuple[Group, ...]
    response_breached: int  # tickets of `all` whose response target was breached (the supervisors told)
    resolution_breached: int
    breached: int  # either target
    escalations: tuple[Count, ...]  # "N1->N2": moves in the period
    reopened: int  # tickets reopened in the period
    closed: int  # tickets closed in the period (merges left out)
    time_by_agent: tuple[Count, ...]  # minutes, most first
    time_by_customer: tuple[Count, ...]
    billing: tuple[Bill, ...]  # by month, then customer


def nearest_rank(values: Sequence[int], percent: int) -> int | None:
    """The `percent`-th percentile by the nearest-rank method: the smallest value of the sample such that at
    least `percent` % of the sample is at most it, i.e. sorted(values)[ceil(percent * n / 100) - 1] (rank 1 at
    least); None for an empty sample. Always a value of the sample: never interpolated."""
    if not values:
        return None
    rank = max(1, -(-percent * len(values) // 100))
    return sorted(values)[rank - 1]


def times(durations: Iterable[int | None]) -> Times:
    found = list(durations)
    measured = [d for d in found if d is not None]
    return Times(n=len(measured), pending=len(found) - len(measured), p50=nearest_rank(measured, 50),
                 p90=nearest_rank(measured, 90))


def seconds(since: datetime, until: datetime | None) -> int | None:
    """Whole seconds from `since` to `until` (never below 0); None when `until` is not there yet."""
    return None if until is None else max(0, int((until - since).total_seconds()))


def status_after(status: Status, event: Event) -> Status:
    """The status a ticket has after `event`, given the one it had before (the workflow's events, replayed)."""
    kind = event.kind
    if kind == "status":
        try:
            return Status(str(event.data.get("to")))
        except ValueError:
            return status
    if kind in ("taken", "assigned"):
        return Status.TAKEN if status is Status.OPEN else status
    return _MOVED.get(kind, Status.CLOSED if kind in CLOSING else status)


def status_at(t: TicketFacts, events: Sequence[Event], at: datetime) -> Status:
    """The ticket's status at `at` (after all that happened before it): its present one if it has not changed
    since, else its events replayed from Ouvert."""
    if t.status_changed_at < at:
        return t.status
    return reduce(status_after, (e for e in events if e.at < at), Status.OPEN)


def level_at(t: TicketFacts, events: Sequence[Event], at: datetime) -> int:
    """The ticket's level at `at`: where the first escalation after `at` started from, else its present one."""
    later = (e.data.get("from") for e in events if e.kind == "escalated" and e.at >= at)
    return next((level for level in later if isinstance(level, int)), t.level)


def moves(events: Sequence[Event], period: Period) -> tuple[bool, bool]:
    """(reopened, closed) in the period: a move from Fermé to another status, and one into Fermé (a merge
    excepted), as the replay of the ticket's events finds them."""
    status, reopened, closed = Status.OPEN, False, False
    for e in events:
        after = status_after(status, e)
        if period.start <= e.at < period.end:
            reopened |= status is Status.CLOSED and after is not Status.CLOSED
            closed |= status is not Status.CLOSED and after is Status.CLOSED and e.kind != "merged"
        status = after
    return reopened, closed


def _age(age: timedelta) -> str:
    return next(label for label, upper in AGEING if upper is None or age < timedelta(days=upper))


def _counts(keys: Iterable[str], known: Iterable[str] = ()) -> tuple[Count, ...]:
    found = dict.fromkeys(known, 0)
    for key in keys:
        found[key] = found.get(key, 0) + 1
    return tuple(Count(k, n) for k, n in found.items())


def _group(key: str, tickets: Sequence[TicketFacts]) -> Group:
    return Group(key=key, tickets=len(tickets),
                 response=times(seconds(t.created_at, t.first_response_at) for t in tickets),
                 resolution=times(seconds(t.created_at, t.resolved_at) for t in tickets))


def _groups(tickets: Sequence[TicketFacts], key: Callable[[TicketFacts], str],
            known: Iterable[str]) -> tuple[Group, ...]:
    """One group per known key (in that order, empty ones too), then any other key met, in key order."""
    by: dict[str, list[TicketFacts]] = {k: [] for k in known}
    others: dict[str, list[TicketFacts]] = {}
    for t in tickets:
        (by if key(t) in by else others).setdefault(key(t), []).append(t)
    return tuple(_group(k, found) for k, found in (*by.items(), *sorted(others.items())))


def months(period: Period) -> tuple[str, ...]:
    """The months the period touches, "YYYY-MM", in order."""
    found: list[str] = []
    year, month = period.start.year, period.start.month
    while datetime(year, month, 1, tzinfo=period.start.tzinfo) < period.end:
        found.append(f"{year:04d}-{month:02d}")
        year, month = year + month // 12, month % 12 + 1
    return tuple(found)


def _sums(pairs: Iterable[tuple[str, int]]) -> tuple[Count, ...]:
    sums: dict[str, int] = {}
    for key, minutes in pairs:
        sums[key] = sums.get(key, 0) + minutes
    return tuple(Count(k, n) for k, n in sorted(sums.items(), key=lambda kv: (-kv[1], kv[0])))


def _bills(month: MonthLines) -> tuple[Bill, ...]:
    return tuple(Bill(month=month.month, customer=name, amount=amount,
                      tickets=len({li.ticket_id for li in month.lines if li.customer == name}))
                 for name, amount in billing.totals(month.lines).items())


def report(history: History, period: Period, *, now: datetime) -> Report:
    """The report of `period` from what the store read; the backlog is that of the period's end, or of `now`."""
    as_of = min(period.end, now)
    events: dict[int, list[Event]] = {}
    for e in sorted(history.events, key=lambda e: (e.at, e.order)):
        events.setdefault(e.ticket_id, []).append(e)
    backlog: list[tuple[TicketFacts, Status, int]] = []
    reopened = closed = 0
    for t in history.tickets:
        mine = events.get(t.id, [])
        if t.created_at < as_of and (status := status_at(t, mine, as_of)) is not Status.CLOSED:
            backlog.append((t, status, level_at(t, mine, as_of)))
        again, shut = moves(mine, period)
        reopened, closed = reopened + again, closed + shut
    created = sorted((t for t in history.tickets if period.start <= t.created_at < period.end and not t.merged),
                     key=lambda t: t.id)
    escalations = (f"N{e.data.get('from')}->N{e.data.get('to')}" for e in history.events
                   if e.kind == "escalated" and period.start <= e.at < period.end)
    return Report(
        period=period, as_of=as_of,
        backlog=Backlog(
            total=len(backlog),
            by_status=_counts((s.value for _, s, _ in backlog), (s.value for s in Status if s is not Status.CLOSED)),
            by_level=_counts((f"N{lv}" for _, _, lv in backlog), LEVELS),
            by_type=_counts((t.type.value for t, _, _ in backlog), (r.value for r in RequestType)),
            by_queue=tuple(sorted(_counts(t.queue or "(none)" for t, _, _ in backlog), key=lambda c: c.key)),
            ageing=_counts((_age(as_of - t.created_at) for t, _, _ in backlog), (label for label, _ in AGEING))),
        all=_group("all", created),
        by_level=_groups(created, lambda t: f"N{t.level}", LEVELS),
        by_type=_groups(created, lambda t: t.type.value, (r.value for r in RequestType)),
        by_month=_groups(created, lambda t: f"{t.created_at:%Y-%m}", months(period)),
        response_breached=sum(t.response_breached_at is not None for t in created),
        resolution_breached=sum(t.resolution_breached_at is not None for t in created),
        breached=sum(t.response_breached_at is not None or t.resolution_breached_at is not None for t in created),
        escalations=_counts(escalations, STANDARD_MOVES), reopened=reopened, closed=closed,
        time_by_agent=_sums((e.agent, e.minutes) for e in history.logged),
        time_by_customer=_sums((e.customer or "(no customer)", e.minutes) for e in history.logged),
        billing=tuple(b for m in history.months for b in _bills(m)))
