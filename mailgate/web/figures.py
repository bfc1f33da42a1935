"""Shell, web: the figures of /metrics, read from the database at each scrape in one transaction: the same
whichever process of the daemon, or whichever daemon sharing the database, serves them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from mailgate import log
from mailgate.clock import Clock, utcnow
from mailgate.core.model import Status
from mailgate.store import imap_state, inbound, intake, outbox, rules_state, scrape, tickets
from mailgate.store.db import Database, one_line
from mailgate.store.rules_state import RulesState
from mailgate.store.scrape import Latency

logger = log.get("metrics")


class Kind(Enum):
    GAUGE = "gauge"
    COUNTER = "counter"
    HISTOGRAM = "histogram"


@dataclass(frozen=True, slots=True)
class Spec:
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


# Every figure, its type, HELP text and labels (docs/operations.md#metrics lists the same; a test compares).
SPECS = {
    "mailgate_database_up": Spec(Kind.GAUGE, "1 when this scrape could read the database, 0 when it could not "
                                 "(no other figure then)"),
    "mailgate_inbound_mails": Spec(Kind.GAUGE, "Stored inbound mails by status (received = waiting for the "
                                   "worker; quarantined and shunted wait for mailgate release / replay)", ("status",)),
    "mailgate_mails_received_total": Spec(Kind.COUNTER, "Mails stored by the SMTP listener, the IMAP pollers and "
                                          "mailgate ingest (a duplicate delivery is stored once)"),
    "mailgate_mails_processed_total": Spec(Kind.COUNTER, "Mails the worker put on a ticket or answered by mail"),
    "mailgate_mails_ignored_total": Spec(Kind.COUNTER, "Mails the worker put on no ticket (our own, bounces of "
                                         "nothing of ours, a rule's ignore)"),
    "mailgate_processing_latency_seconds": Spec(Kind.HISTOGRAM, "Time from stored to processed or ignored, per "
                                                "mail (a replayed or released mail: from when it was first stored)"),
    "mailgate_inbound_oldest_received_age_seconds": Spec(Kind.GAUGE, "Age of the oldest inbound mail waiting for "
                                                         "the worker (0: none)"),
    "mailgate_outbox_mails": Spec(Kind.GAUGE, "Outgoing mails by status", ("status",)),
    "mailgate_outbox_sent_total": Spec(Kind.COUNTER, "Outgoing mails the smart host accepted"),
    "mailgate_outbox_oldest_queued_age_seconds": Spec(Kind.GAUGE, "Age of the oldest outgoing mail still queued "
                                                      "(0: none)"),
    "mailgate_tickets": Spec(Kind.GAUGE, "Tickets by status code", ("status",)),
    "mailgate_service_target_breaches_total": Spec(Kind.COUNTER, "Service-target breaches told to the supervisors, "
                                                   "by target (response, resolution)", ("target",)),
    "mailgate_imap_connected": Spec(Kind.GAUGE, "1 while the [[imap]] mailbox's poller is connected (0: not, or never "
                                    "polled)", ("mailbox",)),
    "mailgate_imap_last_poll_timestamp_seconds": Spec(Kind.GAUGE, "Unix time of the mailbox's last successful "
                                                      "poll (0: never)", ("mailbox",)),
    "mailgate_imap_failures": Spec(Kind.GAUGE, "Failed polls of the mailbox since its last success", ("mailbox",)),
    "mailgate_imap_stored_mails_total": Spec(Kind.COUNTER, "Mails stored from the mailbox", ("mailbox",)),
    "mailgate_rules_active": Spec(Kind.GAUGE, "Rules the daemon's worker runs", ("daemon",)),
    "mailgate_rules_loaded_timestamp_seconds": Spec(Kind.GAUGE, "Unix time the rules in use were loaded "
                                                    "(start or reload)", ("daemon",)),
    "mailgate_rules_reloads_total": Spec(Kind.COUNTER, "Rule reloads (SIGHUP or a changed file) by result: loaded, "
                                         "or refused and the previous rules kept", ("daemon", "result")),
    "mailgate_rules_errors": Spec(Kind.GAUGE, "Problems found in the rule files at the last load or reload (0: "
                                  "the files are the rules in use)", ("daemon",)),
}
BREACH_TARGETS = ("response", "resolution")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One scrape's figures, read in one transaction."""

    inbound: dict[str, int]
    outbox: dict[str, int]
    tickets: dict[str, int]
    oldest_received: datetime | None
    oldest_queued: datetime | None
    latency: Latency
    breaches: dict[str, int]
    mailboxes: dict[str, imap_state.MailboxState]
    rules: list[RulesState]


def read(conn: Connection) -> Reading:
    """Nine statements, each on an index (docs/operations.md#metrics has their cost on a large database)."""
    return Reading(inbound=inbound.counts(conn), outbox=outbox.counts(conn), tickets=tickets.counts(conn),
                   oldest_received=inbound.oldest_waiting(conn), oldest_queued=outbox.oldest_queued(conn),
                   latency=scrape.latency(conn), breaches=scrape.breaches(conn),
                   mailboxes={m.mailbox: m for m in imap_state.states(conn)}, rules=rules_state.every(conn))


def family(name: str) -> GaugeMetricFamily | CounterMetricFamily:
    """An empty family of a gauge or counter, its samples to add."""
    spec = SPECS[name]
    made = CounterMetricFamily if spec.kind is Kind.COUNTER else GaugeMetricFamily
    return made(name, spec.help, labels=list(spec.labels))


def _histogram(name: str) -> HistogramMetricFamily:
    return HistogramMetricFamily(name, SPECS[name].help, labels=list(SPECS[name].labels))


def _by_status(name: str, statuses: tuple[str, ...], counts: dict[str, int]) -> Metric:
    """Every known status, 0 included, so that no series vanishes; a status unknown to this version too."""
    metric = GaugeMetricFamily(name, SPECS[name].help, labels=["status"])
    for status in (*statuses, *sorted(set(counts) - set(statuses))):
        metric.add_metric([status], counts.get(status, 0))
    return metric


def _one(name: str, value: float) -> Metric:
    spec = SPECS[name]
    made = CounterMetricFamily if spec.kind is Kind.COUNTER else GaugeMetricFamily
    return made(name, spec.help, value=value)


class StoreCollector(Collector):
    """Reads the database when Prometheus scrapes (on the HTTP server's thread). The daemon may run as two
    processes, several daemons may share one PostgreSQL database: counters kept in one process's memory would
    show part of the picture, figures read from the database are the same whichever process serves them."""

    def __init__(self, db: Database, clock: Clock = utcnow, mailboxes: tuple[str, ...] = ()) -> None:
        self.mailboxes = mailboxes  # the configured [[imap]] entries' names
        self.db = db
        self.clock = clock

    def describe(self) -> Iterator[Metric]:
        for name, spec in SPECS.items():
            yield _histogram(name) if spec.kind is Kind.HISTOGRAM else family(name)

    def collect(self) -> Iterator[Metric]:
        try:
            reading = self.db.read_now(read)
            waiting, oldest = intake.counted(self.db.engine.url.database if self.db.is_sqlite else None,
                                             reading.inbound, reading.oldest_received)
            reading = replace(reading, inbound=waiting, oldest_received=oldest)
        except Exception as exc:  # a scrape says the database is unreadable; it never fails
            logger.warning("metrics: cannot read the database", error=one_line(exc))
            yield _one("mailgate_database_up", 0)
            return
        yield _one("mailgate_database_up", 1)
        yield from self._mails(reading)
        yield _by_status("mailgate_tickets", tuple(s.value for s in Status), reading.tickets)
        breaches = family("mailgate_service_target_breaches_total")
        for target in (*BREACH_TARGETS, *sorted(set(reading.breaches) - set(BREACH_TARGETS))):
            breaches.add_metric([target], reading.breaches.get(target, 0))
        yield breaches
        yield from self._mailboxes(reading.mailboxes)
        yield from _rules(reading.rules)

    def _mails(self, r: Reading) -> Iterator[Metric]:
        yield _by_status("mailgate_inbound_mails", inbound.STATUSES, r.inbound)
        yield _one("mailgate_mails_received_total", sum(r.inbound.values()))
        yield _one("mailgate_mails_processed_total", r.inbound.get("processed", 0))
        yield _one("mailgate_mails_ignored_total", r.inbound.get("ignored", 0))
        latency = _histogram("mailgate_processing_latency_seconds")
        bounds = [*(f"{b:g}" for b in scrape.BUCKETS), "+Inf"]
        latency.add_metric([], list(zip(bounds, map(float, r.latency.cumulative), strict=True)), r.latency.seconds)
        yield latency
        yield _by_status("mailgate_outbox_mails", outbox.STATUSES, r.outbox)
        yield _one("mailgate_outbox_sent_total", r.outbox.get("sent", 0))
        now = self.clock()
        for name, at in (("mailgate_inbound_oldest_received_age_seconds", r.oldest_received),
                         ("mailgate_outbox_oldest_queued_age_seconds", r.oldest_queued)):
            yield _one(name, 0.0 if at is None else max(0.0, (now - at).total_seconds()))

    def _mailboxes(self, states: dict[str, imap_state.MailboxState]) -> Iterator[Metric]:
        """Each configured mailbox (one never polled: disconnected, last poll 0), none of a removed one."""
        found = {name: family(name) for name in SPECS if name.startswith("mailgate_imap_")}
        for key in self.mailboxes:
            s = states.get(key)
            polled = s.last_poll_at.timestamp() if s is not None and s.last_poll_at is not None else 0.0
            for name, value in (("mailgate_imap_connected", int(s is not None and s.connected)),
                                ("mailgate_imap_last_poll_timestamp_seconds", polled),
                                ("mailgate_imap_failures", s.errors if s else 0),
                                ("mailgate_imap_stored_mails_total", s.stored if s else 0)):
                found[name].add_metric([key], value)
        yield from found.values()


def _rules(states: list[RulesState]) -> Iterator[Metric]:
    """Per daemon: its worker writes its rules' state and each reload's result to the database."""
    found = {name: family(name) for name in SPECS if name.startswith("mailgate_rules_")}
    for s in states:
        found["mailgate_rules_active"].add_metric([s.daemon], s.rules)
        found["mailgate_rules_loaded_timestamp_seconds"].add_metric([s.daemon], s.loaded_at.timestamp())
        found["mailgate_rules_reloads_total"].add_metric([s.daemon, "loaded"], s.reloads)
        found["mailgate_rules_reloads_total"].add_metric([s.daemon, "refused"], s.refused)
        found["mailgate_rules_errors"].add_metric([s.daemon], s.errors)
    yield from found.values()
