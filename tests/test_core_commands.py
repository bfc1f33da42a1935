"""Core: command lines of consultants' replies, customer keywords, the transition table."""

from __future__ import annotations

import pytest

from mailgate.core.model import RequestType, Status
from mailgate.core.workflow import commands, keywords, messages
from mailgate.core.workflow import transitions as workflow
from mailgate.core.workflow.billing import task_title
from mailgate.core.workflow.transitions import Action


@pytest.mark.parametrize(("line", "name", "args"), [
    ("take", "take", {}),
    ("Prendre", "take", {}),
    ("/take", "take", {}),
    ("statut en cours", "status", {"status": "in_progress"}),
    ("Status: waiting", "status", {"status": "waiting"}),
    ("statut Réponse envoyée", "status", {"status": "answer_sent"}),
    ("assign bruno@example.test", "assign", {"who": "bruno@example.test"}),
    ("assigner Bruno Lefèvre", "assign", {"who": "Bruno Lefèvre"}),
    ("escalate", "escalate", {"level": None}),
    ("escalader N3", "escalate", {"level": 3}),
    ("escalate vendor", "escalate", {"level": 4}),
    ("time 1h30 analyse des logs", "time", {"minutes": 90, "comment": "analyse des logs"}),
    ("temps passé 45m", "time", {"minutes": 45, "comment": ""}),
    ("temps 2h", "time", {"minutes": 120, "comment": ""}),
    ("time 1.5h - call", "time", {"minutes": 90, "comment": "call"}),
    ("temps 0:45", "time", {"minutes": 45, "comment": ""}),
    ("chiffrage 1 500,50 € et 3j", "estimate", {"amount": "1500.50", "days": "3"}),
    ("estimate 2.5 days", "estimate", {"amount": None, "days": "2.5"}),
    ("estimate 800 EUR", "estimate", {"amount": "800", "days": None}),
    ("résolu", "resolve", {}),
    ("resolve", "resolve", {}),
    ("attente fournisseur correctif attendu", "wait", {"on": "vendor", "reason": "correctif attendu"}),
    ("wait", "wait", {"on": "customer"}),
    ("fermer", "close", {}),
    ("rouvrir", "reopen", {}),
    ("merge #12", "merge", {"into": 12}),
    ("fusionner avec #12", "merge", {"into": 12}),
    ("priorité haute", "priority", {"priority": "high"}),
    ("type évolution", "type", {"type": "evolution"}),
    ("note interne", "internal", {}),
])
def test_command_lines(line: str, name: str, args: dict[str, object]) -> None:
    command = commands.parse_line(line)
    assert command is not None and command.error is None
    assert (command.name, command.args) == (name, args)


@pytest.mark.parametrize("line", [
    "Take the second exit and restart the server.",
    "Close the window, then log in again.",
    "Type your password twice.",
    "Time is short, sorry.",
    "En attente de votre retour.",
    "Internal server error again",
    "Priority is to restore the service.",
    "Bonjour Fabrice,",
    "#88 is the ticket",
])
def test_sentences_that_start_like_keywords_are_text(line: str) -> None:
    assert commands.parse_line(line) is None


@pytest.mark.parametrize(("line", "error"), [
    ("/time tomorrow", "cannot read a duration"),
    ("/status done-ish", "unknown status"),
    ("/frobnicate", "unknown command"),
    ("/time 30h", "between 1 minute and 24 hours"),
    ("/merge twelve", "merge into which ticket"),
])
def test_explicit_lines_that_do_not_parse_are_refused_commands(line: str, error: str) -> None:
    command = commands.parse_line(line)
    assert command is not None and command.error is not None and error in messages.text(command.error, "en")


def test_command_block_ends_at_the_first_text_line() -> None:
    parsed = commands.parse("\ntake\ntemps 1h\n\nBonjour,\nvoici la réponse.\nfermer\n")
    assert [c.name for c in parsed.commands] == ["take", "time"]
    assert parsed.text == "Bonjour,\nvoici la réponse.\nfermer"
    assert commands.parse("Bonjour,\ntake").commands == ()


@pytest.mark.parametrize(("text", "asked", "answer"), [
    ("ACCEPTE\n\nMerci", "estimate_request", "approve"),
    ("accepté.", "estimate_request", "approve"),
    ("Refusé !", "estimate_request", "refuse"),
    ("APPROVED", "estimate_request", "approve"),
    ("RESOLU", "resolution", "confirm"),
    ("non résolu", "resolution", "contest"),
    ("NOT RESOLVED\nstill broken", "resolution", "contest"),
    ("RESOLU", "estimate_request", None),
    ("Je pense que c'est accepté", "estimate_request", None),
])
def test_customer_keywords(text: str, asked: str, answer: str | None) -> None:
    assert keywords.answer(text, asked) == answer


def test_transition_table_follows_the_customer_process() -> None:
    ev = RequestType.EVOLUTION
    path = [(Status.OPEN, Action.TAKE), (Status.TAKEN, Action.START), (Status.IN_PROGRESS, Action.SEND_ESTIMATE),
            (Status.AWAITING_ESTIMATE_APPROVAL, Action.REFUSE_ESTIMATE),
            (Status.IN_PROGRESS, Action.SEND_ESTIMATE), (Status.AWAITING_ESTIMATE_APPROVAL, Action.APPROVE_ESTIMATE),
            (Status.IN_REALIZATION, Action.RESOLVE), (Status.ANSWER_SENT, Action.CONFIRM)]
    status = Status.OPEN
    for expected_from, action in path:
        assert status is expected_from
        step = workflow.move(status, action, ev)
        assert step.ok, step.refused
        assert step.to is not None
        status = step.to
    assert status is Status.CLOSED


def test_invalid_transitions_are_refused_with_a_reason() -> None:
    step = workflow.move(Status.OPEN, Action.CONFIRM, RequestType.ASSISTANCE)
    assert not step.ok and step.refused is not None
    assert 'is not possible in status "Open"; possible: take' in messages.text(step.refused, "en")
    assert "n'est pas possible en statut « Ouvert » ; possible : prendre" in messages.text(step.refused, "fr")
    step = workflow.move(Status.IN_PROGRESS, Action.SEND_ESTIMATE, RequestType.INCIDENT)
    assert not step.ok and step.refused is not None
    assert messages.text(step.refused, "fr") == ("chiffrage ne vaut que pour les tickets d'évolution applicative "
                                                 "(celui-ci : incident applicatif)")
    assert workflow.move(Status.WAITING, Action.RESUME, RequestType.INCIDENT, Status.IN_REALIZATION).to \
        is Status.IN_REALIZATION


def test_task_title_uses_french_month_names() -> None:
    assert task_title(88, "Création de l'utilisateur Fabrice", 2022, 1) == \
        "#88 - Création de l'utilisateur Fabrice - Janvier 2022"
    assert task_title(7, "x", 2026, 8).endswith("Août 2026")
