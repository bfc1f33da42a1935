"""Shell: Jinja templates in templates/<locale>/<name>.txt.j2 -> the text of outgoing mail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from mailgate.core import digest
from mailgate.core.workflow import messages

LOCALES = ("fr", "en")
_PERSON = {"name": "Fabrice Martin", "email": "fabrice@example.com"}
SAMPLE_CONTEXT: dict[str, Any] = {
    "ticket": {"number": 88, "title": "Création de l'utilisateur Fabrice", "status": "En cours", "level": "N2",
               "type": "assistance", "priority": "normal", "assignee": "alice@example.com",
               "customer": "ACME", "requester": _PERSON},
    "requester": _PERSON,
    "recipient": _PERSON,
    "gateway": {"name": "Support", "address": "support@example.com"},
    "currency": "EUR",
    "status_url": None,  # the requester's status link ([web]); None in mails to others and when disabled
}
_TEXT = {"text": "Bonjour,\nLe compte est créé.", "from": "fabrice@example.com"}
_LINE = {"number": 88, "title": "Création de l'utilisateur Fabrice", "status": "En cours",
         "changed": "17/01/2022 09:00 UTC"}
_HIT = {"label": "#80", "kind": "ticket", "title": "Imprimante du 2e étage", "summary": "Pilote réinstallé.",
        "score": 75}
# every template each locale must have, with the values its mails give it beyond SAMPLE_CONTEXT;
# `mailgate check` renders each once
REQUIRED: dict[str, dict[str, Any]] = {
    "ack": {"articles": [{"label": "KB-3", "title": "Imprimante hors ligne", "summary": "Redémarrer le spouleur."}]},
    "relay": _TEXT,
    "resolution": {**_TEXT, "yes": "RESOLU", "no": "NON RESOLU"},
    "estimate_request": {**_TEXT, "amount": "1500.00", "days": "3", "yes": "ACCEPTE", "no": "REFUSE"},
    "keyword_help": {"reason": "not the requester", "yes": "ACCEPTE", "no": "REFUSE", "asked": "estimate_request"},
    "auto_closed": {"days": 7},
    "notify_new": {**_TEXT, "level": 1, "similar": [_HIT]},
    "notify_reply": {**_TEXT, "event": "notify_contest"},
    "notify_escalated": {**_TEXT, "by": "Alice", "from_level": 1},
    "notify_assigned": {**_TEXT, "by": "Alice"},
    "transcript": {"lines": [{"line": "take", "ok": True, "result": ""}], "applied": True, "has_text": True,
                   "text_to": [{"where": "customer", "names": "Fabrice <fabrice@example.com>", "level": None}],
                   "internal": False, "merged_into": None},
    "answer_received": {"answer": "approve", "by": "direction@example.com"},
    "merged": {"into": 80, "into_title": "Imprimante du 2e étage"},
    "agent_refused": {"reason": "not a reply to a notification", "lines": ["take"]},
    "notify_breach": {"targets": [{"name": "response", "due": "2022-01-17T13:00+00:00"}]},
    "digest": {"digest": digest.sample()},  # to the supervisors (mailgate/digest.py; its .html.j2 too)
    "status_notice": {"notice": "taken", "state": "Pris en charge", "by": "Alice", "expects_answer": False,
                      "level": 1},
    # lists by mail, of no ticket (mailgate/outbound/replies.py): `ticket` is not theirs to use
    "my_tickets": {"tickets": [_LINE], "more": 0, "subject": "Vos demandes en cours"},
    "my_queue": {"tickets": [{**_LINE, "priority": "haute", "level": "N1"}], "more": 0, "subject": "Votre file"},
    "kb_search": {"words": "imprimante", "hits": [{**_HIT, "state": "ticket résolu"}], "enabled": True,
                  "subject": "Base de connaissances"},
    "desk_login": {"link": "https://support.example.com/desk/login/x", "minutes": 15, "subject": "Connexion"},
}


class TemplateError(Exception):
    """A template is missing or does not render; the message names the file."""


class Renderer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(folder)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # numbers as the mail's language writes them: {{ amount | money(currency, "fr") }} -> 1 200,50 EUR HT
        self.env.filters["money"] = lambda value, currency, locale: messages.amount_text(value, currency, locale)
        self.env.filters["days"] = lambda value, locale: messages.days_text(value, locale)
        self.env.filters["number"] = lambda value, locale: messages.decimal_text(value, locale)

    def render(self, name: str, locale: str, context: dict[str, Any]) -> str:
        path = f"{locale}/{name}.txt.j2"
        try:
            return self.env.get_template(path).render(context).strip() + "\n"
        except jinja2.TemplateNotFound:
            raise TemplateError(f"{self.folder / path}: template missing") from None
        except jinja2.TemplateError as exc:
            lineno = getattr(exc, "lineno", None)  # syntax errors know their line
            line = f":{lineno}" if lineno else ""
            raise TemplateError(f"{self.folder / path}{line}: {exc}") from None

    def check(self) -> list[str]:
        """Render every required template in every locale with sample values; list the problems."""
        if not self.folder.is_dir():
            return [f"{self.folder}: templates folder missing"]
        problems = []
        for locale in LOCALES:
            for name, values in REQUIRED.items():
                try:
                    self.render(name, locale, {**values, **SAMPLE_CONTEXT})
                except TemplateError as exc:
                    problems.append(str(exc))
        return problems
