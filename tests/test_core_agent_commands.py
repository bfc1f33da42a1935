"""Consultants' commands, one row each: (status, type, command lines) -> changes, events, outgoing mail kinds."""

from __future__ import annotations

import pytest

from mailgate.core.mail.parse import parse
from mailgate.core.model import Address, Agent, RequestType, Status, TicketView
from mailgate.core.outcome import MailKind
from mailgate.core.workflow import agent_flow
from mailgate.core.workflow.authn import SentMail, Trust
from mailgate.core.workflow.work import AgentContext

ALICE = Agent("alice@example.test", "Alice", 2)
BRUNO = Agent("bruno@example.test", "Bruno", 3)
AGENTS = {a.email: a for a in (ALICE, BRUNO)}
NOTIFICATION = "mg.7.tok.aaaaaaaaaaaaaaaa@example.test"
CTX = AgentContext(agents=AGENTS, sent={NOTIFICATION: SentMail(NOTIFICATION, MailKind.NOTIFY_NEW, 7, (ALICE.email,))},
                   trust=Trust(),
                   tickets={7: TicketView(7, Status.IN_PROGRESS, frozenset()),
                            12: TicketView(12, Status.IN_PROGRESS, frozenset()),
                            13: TicketView(13, Status.CLOSED, frozenset())})


def view(status: Status, type_: RequestType = RequestType.ASSISTANCE, level: int = 2,
         assignee: str | None = None) -> TicketView:
    return TicketView(7, status, frozenset({"fabrice@client.example"}), type=type_, level=level,
                      requester=Address("fabrice@client.example", "Fabrice"), assignee=assignee, title="Imprimante")


def handle(v: TicketView, text: str):  # type: ignore[no-untyped-def]
    raw = (f"From: Alice <alice@example.test>\r\nTo: support@example.test\r\nSubject: Re: [#7] Imprimante\r\n"
           f"Message-ID: <a1@example.test>\r\nIn-Reply-To: <{NOTIFICATION}>\r\n\r\n{text}\r\n").encode()
    return agent_flow.handle(parse(raw), text, v, ALICE.email, CTX)


ROWS = [
    # (status, type, lines, changes (subset), event kinds after agent_mail, outgoing kinds)
    (Status.OPEN, RequestType.ASSISTANCE, "prendre", {"status": Status.TAKEN, "assignee": ALICE.email},
     ["taken", "commands_applied"], ["transcript"]),
    (Status.OPEN, RequestType.ASSISTANCE, "take\n\nLe compte est créé.",
     {"status": Status.IN_PROGRESS, "assignee": ALICE.email},
     ["taken", "status", "answer_relayed", "commands_applied"], ["relay", "transcript"]),
    (Status.IN_PROGRESS, RequestType.INCIDENT, "escalader",
     {"level": 3, "assignee": None}, ["escalated", "commands_applied"], ["notify_escalated", "transcript"]),
    (Status.IN_PROGRESS, RequestType.INCIDENT, "assigner bruno\n\nPeux-tu regarder ?",
     {"assignee": BRUNO.email}, ["assigned", "commands_applied"], ["notify_assigned", "transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "temps 1h30 analyse", {},
     ["commands_applied"], ["transcript"]),
    (Status.IN_PROGRESS, RequestType.EVOLUTION, "chiffrage 1500 EUR et 3j\n\nVoici le chiffrage.",
     {"status": Status.AWAITING_ESTIMATE_APPROVAL}, ["estimate_sent", "commands_applied"],
     ["estimate_request", "transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "résolu\n\nC'est réglé.",
     {"status": Status.ANSWER_SENT}, ["resolved", "commands_applied"], ["resolution", "transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "attente client manque le numéro de série",
     {"status": Status.WAITING, "resume_status": Status.IN_PROGRESS, "waiting_on": "customer"},
     ["waiting", "commands_applied"], ["transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "fermer", {"status": Status.CLOSED},
     ["closed", "commands_applied"], ["transcript"]),
    (Status.CLOSED, RequestType.ASSISTANCE, "rouvrir", {"status": Status.IN_PROGRESS},
     ["reopened", "commands_applied"], ["transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "fusionner #12", {"merged_into": 12},
     ["merged", "commands_applied"], ["merged", "transcript"]),  # the customer learns where the request lives
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "priorité haute", {"priority": "high"},
     ["priority", "commands_applied"], ["transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "type incident", {"type": RequestType.INCIDENT},
     ["type", "commands_applied"], ["transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "interne\n\nLe client est pénible.", {},
     ["internal_note", "commands_applied"], ["transcript"]),
    (Status.IN_PROGRESS, RequestType.ASSISTANCE, "statut en cours de réalisation", {},
     ["commands_refused"], ["transcript"]),  # a status of évolution tickets only
]


@pytest.mark.parametrize("status, type_, lines, changes, events, outgoing", ROWS,
                         ids=[r[2].splitlines()[0] for r in ROWS])
def test_command(status: Status, type_: RequestType, lines: str, changes: dict[str, object], events: list[str],
                 outgoing: list[str]) -> None:
    out = handle(view(status, type_), lines)
    assert {k: out.change.values().get(k, "(unset)") for k in changes} == changes
    assert [e.kind for e in out.events] == ["agent_mail", *events]
    assert [d.kind for d in out.outgoing] == outgoing


REFUSED = [  # the ticket's language (French): the reasons a consultant reads in the transcript
    (Status.CLOSED, "prendre", "le ticket #7 est fermé : rouvrez-le d'abord (rouvrir)"),
    (Status.IN_PROGRESS, "escalader N1", "déjà au niveau N2 : escalader fait monter"),
    (Status.IN_PROGRESS, "assigner zoé", "aucun consultant « zoé » dans la configuration"),
    (Status.IN_PROGRESS, "fusionner #99", "il n'y a pas de ticket #99"),
    (Status.IN_PROGRESS, "fusionner #13", "le ticket #13 est fermé"),
    (Status.IN_PROGRESS, "fusionner #7", "ne peut pas être fusionné avec lui-même"),
    (Status.IN_PROGRESS, "chiffrage 1500 EUR", "chiffrage ne vaut que pour les tickets d'évolution applicative"),
    (Status.IN_PROGRESS, "résolu", "écrivez-la sous les lignes de commande"),
]


@pytest.mark.parametrize("status, lines, reason", REFUSED, ids=[r[1] for r in REFUSED])
def test_a_refused_command_applies_nothing(status: Status, lines: str, reason: str) -> None:
    out = handle(view(status), lines)
    assert not out.change and [d.kind for d in out.outgoing] == ["transcript"]
    (refused,) = [e for e in out.events if e.kind == "commands_refused"]
    results = [line["result"] for line in refused.data["lines"]]  # type: ignore[union-attr]
    assert any(reason in r for r in results), results


def test_all_or_nothing_one_refusal_cancels_the_other_lines() -> None:
    out = handle(view(Status.OPEN), "prendre\nescalader N1\ntemps 30m")
    assert not out.change and out.time_entries == () and not out.open_task
    assert [d.kind for d in out.outgoing] == ["transcript"]
