"""Core: the words of consultants' commands (docs/commands.md): each keyword's spellings in French and
English, and the words their arguments take (statuses, priorities, types, whom a ticket waits on), compared
folded (lower case, accents off)."""

from __future__ import annotations

import unicodedata

from mailgate.core.model import Priority, RequestType, Status
from mailgate.core.workflow.messages import STATUS_LABELS_EN


def fold(text: str) -> str:
    """Lower-case, accents off, spaces collapsed: how keywords and words are compared."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# keyword spellings (accents and case folded) -> canonical name; longest spellings are tried first
KEYWORDS: dict[str, str] = {
    "take": "take", "prendre": "take", "je prends": "take",
    "status": "status", "statut": "status", "etat": "status",
    "assign": "assign", "assigner": "assign", "attribuer": "assign", "affecter": "assign",
    "escalate": "escalate", "escalader": "escalate", "transferer": "escalate", "transfer": "escalate",
    "time": "time", "time spent": "time", "temps": "time", "temps passe": "time",
    "estimate": "estimate", "chiffrage": "estimate", "devis": "estimate",
    "resolve": "resolve", "resolved": "resolve", "solved": "resolve", "resoudre": "resolve",
    "resolu": "resolve",
    "wait": "wait", "attente": "wait", "attendre": "wait", "en attente": "wait",
    "close": "close", "fermer": "close", "clore": "close", "cloturer": "close",
    "reopen": "reopen", "rouvrir": "reopen", "reouvrir": "reopen",
    "merge": "merge", "merge into": "merge", "fusionner": "merge", "fusionner avec": "merge",
    "priority": "priority", "priorite": "priority",
    "type": "type",
    "internal": "internal", "internal note": "internal", "interne": "internal", "note interne": "internal",
    "kb": "kb", "base": "kb", "knowledge base": "kb", "base de connaissances": "kb",  # an article of the ticket
}
STATUS_WORDS: dict[str, Status] = {s.value.replace("_", " "): s for s in Status}
STATUS_WORDS.update({
    "ouvert": Status.OPEN, "pris en charge": Status.TAKEN, "en cours": Status.IN_PROGRESS,
    "un instant": Status.WAITING, "waiting": Status.WAITING, "en attente validation chiffrage":
    Status.AWAITING_ESTIMATE_APPROVAL, "en cours de realisation": Status.IN_REALIZATION,
    "reponse envoyee": Status.ANSWER_SENT, "ferme": Status.CLOSED, "closed": Status.CLOSED,
    "in progress": Status.IN_PROGRESS, "taken": Status.TAKEN,
})
PRIORITY_WORDS: dict[str, Priority] = {p.value: p for p in Priority}
PRIORITY_WORDS.update({"basse": Priority.LOW, "faible": Priority.LOW, "normale": Priority.NORMAL,
                       "haute": Priority.HIGH, "elevee": Priority.HIGH, "urgente": Priority.URGENT,
                       "urgent": Priority.URGENT})
TYPE_WORDS: dict[str, RequestType] = {t.value: t for t in RequestType}
TYPE_WORDS.update({"assistance utilisateur": RequestType.ASSISTANCE, "incident applicatif": RequestType.INCIDENT,
                   "evolution applicative": RequestType.EVOLUTION, "enhancement": RequestType.EVOLUTION,
                   "change": RequestType.EVOLUTION, "bug": RequestType.INCIDENT})
WAIT_ON = {"customer": "customer", "client": "customer", "vendor": "vendor", "fournisseur": "vendor",
           "editeur": "vendor", "n4": "vendor"}

# the statuses as English mails print them
STATUS_WORDS.update({fold(label): status for status, label in STATUS_LABELS_EN.items()})
