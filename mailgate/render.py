"""Shell: Jinja templates in templates/<locale>/<name>.txt.j2 -> the text of outgoing mail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

LOCALES = ("fr", "en")
REQUIRED = ("ack",)  # every locale must have these; `mailgate check` renders each once

SAMPLE_CONTEXT: dict[str, Any] = {
    "ticket": {"number": 88, "title": "Création de l'utilisateur Fabrice"},
    "requester": {"name": "Fabrice Martin", "email": "fabrice@example.com"},
    "gateway": {"name": "Support", "address": "support@example.com"},
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
            for name in REQUIRED:
                try:
                    self.render(name, locale, SAMPLE_CONTEXT)
                except TemplateError as exc:
                    problems.append(str(exc))
        return problems
