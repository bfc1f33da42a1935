"""Core: HTML body -> readable text (inscriptis: no scripts, no remote content, layout kept)."""

from __future__ import annotations

import re

_TAGS = re.compile(r"<[^>]*>")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body; falls back to tag stripping if the converter fails."""
    from inscriptis import get_text  # loaded with the first HTML-only mail: lxml is 9 MB a process

    try:
        return str(get_text(html)).strip("\n")
    except Exception:  # inscriptis/lxml refuse some broken documents; never lose the words
        return " ".join(_TAGS.sub(" ", html).split())
